"""Cost of the first-frame anchor (ANCHOR_SCALE [+ ANCHOR_NCC], runtime/anchor.py) per frame and target on the CPU:
median ms of a frame's grey levels plus `TargetAnchor.apply`, on a real photo at each frame size, for a small, a middle
and a large box, with the grey levels made per region (the default) and whole (OpenCV's whole-frame path, the code
before), side by side in one run; the boxes the two give are checked equal. Usage: OMP_NUM_THREADS=1 python
benchmarks/bench_anchor_cpu.py [--repeat 100] [--frames 640x360,1920x1080,3840x2160] [--size network --no-ncc]
(the embedded model's setting: the filter at the network's box, no NCC) [--output F.md]"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

BOXES = ([300.0, 150.0, 24.0, 36.0], [250.0, 80.0, 90.0, 140.0], [150.0, 20.0, 300.0, 320.0])   # on 640 x 360


def _time(rgb: np.ndarray, box: list[float], whole: bool, a: argparse.Namespace) -> tuple[float, list]:
    """Median ms a frame (grey levels + apply) and the boxes, for one setting."""
    from droptrack.runtime.grey import GreyFrame
    from droptrack.runtime.anchor import TargetAnchor

    anchor = TargetAnchor.start(GreyFrame(rgb, whole), box, ncc=not a.no_ncc, scale=True)
    t, boxes = [], []
    for i in range(a.repeat):
        pred = [box[0] + (i % 5), box[1] - (i % 3), box[2] * 1.05, box[3] * 0.97]
        t0 = time.perf_counter()
        boxes.append(anchor.apply(GreyFrame(rgb, whole), pred, None if a.no_ncc else 0.8, 1.2, size=a.size))
        t.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(t)), boxes


def main() -> None:
    from skimage import data

    from droptrack.cpu import cpu_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--frames", default="640x360,1920x1080,3840x2160", help="frame sizes, WxH, comma-separated")
    ap.add_argument("--size", choices=("first", "network"), default="first", help="ANCHOR_SIZE")
    ap.add_argument("--no-ncc", action="store_true", help="ANCHOR_NCC off (the scale filter alone)")
    ap.add_argument("--output", help="also write the table to this markdown file")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    photo = data.astronaut()
    lines = [f"CPU: {cpu_model()}, 1 thread; {a.repeat} frames a row, median ms a frame "
             "and target (grey levels + anchor); ANCHOR_SIZE " + a.size + (", no NCC" if a.no_ncc else ", NCC 0.8"),
             "", "| frame | box | whole frame (before) | per region | ratio | same boxes |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines))
    for wh in a.frames.split(","):
        w, h = (int(v) for v in wh.lower().split("x"))
        rgb = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
        k = w / 640.0
        for box in [[v * k for v in b] for b in BOXES] + ([[w / 2, h / 2, 24.0, 36.0]] if k > 1 else []):
            (t_whole, b_whole), (t_region, b_region) = _time(rgb, box, True, a), _time(rgb, box, False, a)
            row = (f"| {w}x{h} | {box[2]:.0f}x{box[3]:.0f} | {t_whole:.3f} | {t_region:.3f} | "
                   f"{t_whole / t_region:.1f}x | {'yes' if b_whole == b_region else 'NO'} |")
            print(row)
            lines.append(row)
    if a.output:
        with open(a.output, "w") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
