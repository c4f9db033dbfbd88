"""Cost of the first-frame anchor (ANCHOR_SCALE + ANCHOR_NCC, runtime/anchor.py) per frame and target on the CPU:
median ms of `TargetAnchor.apply` on a real 640x360 photo, for a small, a middle and a large box, side by side with
the grey conversion it needs. Usage: OMP_NUM_THREADS=1 python benchmarks/bench_anchor_cpu.py [--repeat 200]
[--size network --no-ncc] (version 21's setting: the filter at the network's box, no NCC)"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np


def main() -> None:
    from skimage import data

    from droptrack.runtime.anchor import TargetAnchor, gray_of

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--size", choices=("first", "network"), default="first", help="ANCHOR_SIZE")
    ap.add_argument("--no-ncc", action="store_true", help="ANCHOR_NCC off (the scale filter alone)")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    rgb = cv2.resize(data.astronaut(), (640, 360), interpolation=cv2.INTER_AREA)
    gray = gray_of(rgb)
    t = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        gray_of(rgb)
        t.append(time.perf_counter() - t0)
    print(f"| grey conversion | {1e3 * np.median(t):.3f} ms |")
    for box in ([300.0, 150.0, 24.0, 36.0], [250.0, 80.0, 90.0, 140.0], [150.0, 20.0, 300.0, 320.0]):
        anchor = TargetAnchor.start(gray, box, ncc=not a.no_ncc, scale=True)
        t = []
        for i in range(a.repeat):
            pred = [box[0] + (i % 5), box[1] - (i % 3), box[2] * 1.05, box[3] * 0.97]
            t0 = time.perf_counter()
            anchor.apply(gray, pred, None if a.no_ncc else 0.8, 1.2, size=a.size)
            t.append(time.perf_counter() - t0)
        print(f"| anchor, box {box[2]:g}x{box[3]:g} | {1e3 * np.median(t):.3f} ms |")


if __name__ == "__main__":
    main()
