"""The device crop (`runtime.device_ops.crop_resize`): OpenCV's fixed-point resize in integer torch ops (the default,
`quantize=True`) against the float `grid_sample` crop it replaced (`quantize=False`), and the host crop (`cv2.resize`).

For each output side and number of targets, one real photo (opencv-doc's, else scikit-image's), boxes at random
places and sizes (fixed seed; a third of them run past the frame's edge), interleaved rounds of the three crops on one
thread, medians in ms; and the share of crop values that differ from the host crop's bytes (the fixed-point crop
must read 0). `--device cuda` times on the GPU with CUDA events instead (the host crop is then left out). Writes
benchmarks/results/device_crop_<device>.{json,md}. Usage:
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_device_crop.py [--rounds 30] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
PHOTOS = (Path("/usr/share/doc/opencv-doc/examples/data/baboon.jpg"),)


def photo() -> np.ndarray:
    """An RGB photo of at least 512 px a side (opencv-doc's baboon, else scikit-image's astronaut)."""
    import cv2

    for p in PHOTOS:
        if p.is_file():
            return cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def boxes(n: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(n,4) x,y,w,h boxes of 20-160 px; every third one placed across the frame's edge."""
    h, w = shape
    out = []
    for i in range(n):
        bw, bh = rng.uniform(20, 160, 2)
        if i % 3 == 2:
            x, y = rng.uniform(-bw / 2, w - bw / 2), -bh / 3
        else:
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        out.append([x, y, bw, bh])
    return np.array(out)


def timed(fn, device: str) -> float:
    """One call of `fn` in ms (CUDA events on the GPU, perf_counter on the CPU)."""
    import torch

    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end)
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def case(img: np.ndarray, side: int, n: int, factor: float, rounds: int, device: str) -> dict:
    """Median ms of the fixed-point, float and host crops of `n` boxes, and their differences from the host bytes."""
    import torch

    from droptrack.runtime.device_ops import crop_resize
    from droptrack.runtime.host_ops import crop_resize as host_crop

    rng = np.random.default_rng(side * 100 + n)
    b = boxes(n, img.shape[:2], rng)
    frame = torch.from_numpy(img).to(device)
    states = torch.from_numpy(b).to(device)
    host = np.stack([host_crop(img, box, factor, side)[0] for box in b]).transpose(0, 3, 1, 2)
    fixed = crop_resize(frame, states, factor, side)[0].cpu().numpy()
    flt = crop_resize(frame, states, factor, side, quantize=False)[0].cpu().numpy()
    runs = {"fixed": lambda: crop_resize(frame, states, factor, side),
            "float": lambda: crop_resize(frame, states, factor, side, quantize=False)}
    if not device.startswith("cuda"):
        runs["host"] = lambda: [host_crop(img, box, factor, side) for box in b]
    ms: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():   # warm-up
        fn()
    for r in range(rounds):
        for k in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            ms[k].append(timed(runs[k], device))
    return {"side": side, "targets": n, **{f"{k}_ms": statistics.median(v) for k, v in ms.items()},
            "fixed_values_off": float((fixed != host).mean()), "float_values_off": float((np.round(flt) != host).mean()),
            "float_max_abs": float(np.abs(flt - host).max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sides", default="160,256,384", help="output sides (the default model's search crop is 160)")
    ap.add_argument("--targets", default="1,2,4")
    args = ap.parse_args()
    import torch

    from droptrack.eval.machine import benchmark_machine, machine_line

    torch.set_num_threads(1)
    img = photo()
    rows = [case(img, side, n, 4.0, args.rounds, args.device)
            for side in map(int, args.sides.split(",")) for n in map(int, args.targets.split(","))]
    machine = benchmark_machine()
    tag = "cpu" if args.device == "cpu" else "cuda"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"device_crop_{tag}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    host = "host_ms" in rows[0]
    head = "| side | targets | fixed-point ms | float ms | " + ("host cv2 ms | " if host else "") + \
        "fixed / float | fixed values off host | float values off host (rounded) | float max abs |"
    lines = [f"# Device crop: fixed-point vs float ({args.device}, 1 thread, median of {args.rounds} interleaved "
             "rounds)", "", f"`python benchmarks/bench_device_crop.py --rounds {args.rounds} --device {args.device}`",
             "", machine_line(machine), "", head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['side']} | {r['targets']} | {r['fixed_ms']:.2f} | {r['float_ms']:.2f} | "
                     + (f"{r['host_ms']:.2f} | " if host else "")
                     + f"{r['fixed_ms'] / r['float_ms']:.2f} | {r['fixed_values_off']:.2%} | "
                       f"{r['float_values_off']:.2%} | {r['float_max_abs']:.2f} |")
    (RESULTS / f"device_crop_{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
