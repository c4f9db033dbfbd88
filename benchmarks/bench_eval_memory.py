"""Memory and start-up of `dt eval` on a LaSOT-sized test set: does the dataset cost memory before tracking starts?

Builds a LaSOT-layout tree in a temp folder: the 280 official test sequences (root/<class>/<class>-<n>/), with
groundtruth.txt, full_occlusion.txt and out_of_view.txt of about 690,000 rows in all (LaSOT's test set has 685,360
frames). Frames are tiny: every sequence has its first frame (what `dt eval` fingerprints for resuming) and the
longest one, tracked first, has all of its frames (hard links to one 16x16 JPEG), so `dt eval` can start tracking.

Measures, each in a fresh Python process:
  loader  `get_sequences('lasot', ROOT)`: wall time and resident-memory growth (VmHWM after minus VmRSS before)
  eval    `dt eval --dataset lasot --tracker mosse` (an OpenCV baseline: the model costs nothing here): wall time
          from launch until eval.json is written, the moment before the first frame is read, and the process's peak
          resident memory (VmHWM) then; the run is stopped there (SIGTERM)

    python benchmarks/bench_eval_memory.py [--repeat 3] [--frames 685360] [--old OLD_TREE]

`--old OLD_TREE` (a checkout of an older commit, e.g. `git archive COMMIT | tar -x -C OLD_TREE`) measures that code
too, in turn with this tree's on the same files, so both see the same load. Results are appended to
benchmarks/results/eval_memory.json (`--output`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from droptrack.errors import run_script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def status_kb(pid: int | str, field: str) -> float | None:
    """A /proc/PID/status field in KiB (None once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def lengths(count: int, frames: int) -> list[int]:
    """`count` sequence lengths between about 1,000 and 4,000 that add up to `frames`."""
    raw = [1000 + (i * 5147) % 3000 for i in range(count)]
    scale = frames / sum(raw)
    out = [max(2, int(r * scale)) for r in raw]
    out[0] += frames - sum(out)
    return out


def build_tree(root: Path, frames: int) -> tuple[int, int]:
    """The LaSOT-layout tree (see the module docstring); returns (sequences, frames)."""
    import cv2
    import numpy as np

    from droptrack.data.lasot import test_names

    names = test_names()
    sizes = lengths(len(names), frames)
    jpg = root / "frame.jpg"
    root.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(jpg), np.full((16, 16, 3), 128, np.uint8))
    longest = max(range(len(names)), key=lambda k: sizes[k])
    for k, (name, n) in enumerate(zip(names, sizes)):
        seq = root / name.rsplit("-", 1)[0] / name
        (seq / "img").mkdir(parents=True)
        (seq / "groundtruth.txt").write_text("".join(f"{2 + i % 5},3,8,8\n" for i in range(n)))
        for flags in ("full_occlusion.txt", "out_of_view.txt"):
            (seq / flags).write_text(",".join("0" * n) + "\n")
        for i in range(n if k == longest else 1):
            os.link(jpg, seq / "img" / f"{i + 1:08d}.jpg")
    return len(names), sum(sizes)


LOADER = """
import json, sys, time
import droptrack
from pathlib import Path
from droptrack.data import get_sequences
def kb(f):
    lines = Path('/proc/self/status').read_text().splitlines()
    return next(float(ln.split()[1]) for ln in lines if ln.startswith(f + ':'))
Path('/proc/self/clear_refs').write_text('5')
before = kb('VmRSS'); t0 = time.perf_counter()
seqs = get_sequences('lasot', sys.argv[1])
dt = time.perf_counter() - t0
print(json.dumps({'seconds': dt, 'rss_growth_mib': (kb('VmHWM') - before) / 1024, 'sequences': len(seqs),
                  'frames': sum(len(s) for s in seqs), 'package': str(Path(droptrack.__file__).parents[1])}))
"""


def measure_loader(root: Path, env: dict, code: Path) -> dict:
    """The reader alone, in a fresh process (run in `code`: Python puts the working folder first on its path)."""
    out = subprocess.run([sys.executable, "-c", LOADER, str(root)], env=env, capture_output=True, text=True,
                         timeout=600, check=True, cwd=code)
    return json.loads(out.stdout)


def measure_eval(root: Path, out: Path, env: dict, code: Path) -> dict:
    """`dt eval` until eval.json appears (tracking starts next); stopped there."""
    cmd = [sys.executable, "-m", "droptrack", "eval", "--dataset", "lasot", "--tracker", "mosse", "--workers", "1",
           "--output", str(out)]
    manifest = out / "mosse" / "eval.json"
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**env, "DT_DATA_LASOT": str(root)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=code)
    peak = None
    try:
        while proc.poll() is None and not manifest.exists():
            peak = status_kb(proc.pid, "VmHWM") or peak
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        peak = status_kb(proc.pid, "VmHWM") or peak
        if proc.poll() is not None:
            raise SystemExit(f"dt eval ended before tracking: {proc.stderr.read()[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    return {"seconds_to_first_frame": seconds, "peak_rss_mib": (peak or 0) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=685360)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old", type=Path, help="an older checkout to measure in turn with this one")
    ap.add_argument("--output", type=Path, default=RESULTS / "eval_memory.json", help="results are appended here")
    args = ap.parse_args()
    from droptrack.eval.machine import describe_machine

    trees = {"this": ROOT, **({"old": args.old.resolve()} if args.old else {})}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        count, total = build_tree(Path(tmp) / "lasot", args.frames)
        print(f"tree: {count} sequences, {total} frames ({time.perf_counter() - t0:.1f} s to build)", flush=True)
        for r in range(args.repeat):
            for label, code in trees.items():
                env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(code)}
                loader = measure_loader(Path(tmp) / "lasot", env, code)
                if Path(loader.pop("package")).resolve() != code:
                    raise SystemExit(f"the {label} run imported droptrack from elsewhere than {code}")
                ev = measure_eval(Path(tmp) / "lasot", Path(tmp) / f"out_{label}{r}", env, code)
                rows.append({"code": label, **loader, **ev})
                print(json.dumps(rows[-1]), flush=True)
    record = {"command": " ".join(["python", "benchmarks/bench_eval_memory.py", *sys.argv[1:]]),
              "sequences": count, "frames": total, "runs": rows, "machine": describe_machine(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    old = json.loads(args.output.read_text()) if args.output.is_file() else []
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([*old, record], indent=1) + "\n")
    for label in trees:
        mine = [r for r in rows if r["code"] == label]
        med = {k: sorted(r[k] for r in mine)[len(mine) // 2] for k in
               ("seconds", "rss_growth_mib", "seconds_to_first_frame", "peak_rss_mib")}
        print(f"{label}: reader {med['seconds']:.2f} s, +{med['rss_growth_mib']:.0f} MiB; dt eval to the first frame "
              f"{med['seconds_to_first_frame']:.2f} s, peak RSS {med['peak_rss_mib']:.0f} MiB (medians)")
    print(f"appended to {args.output}")


if __name__ == "__main__":
    run_script(main)
