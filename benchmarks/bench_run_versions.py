"""`dt run` end to end on CPU: this tree against an older checkout of droptrack, side by side (a regression check).

Each case runs the real CLI (`python -m droptrack ...`) in a fresh process with PYTHONPATH set to one tree, in a fresh
output folder; the two trees alternate within every round (old first in even rounds, new first in odd ones), 1 thread.
Per run it records the wall time and the CPU time of the process (user + sys, from the children's rusage), and for
`first-frame` cases the time from process start to the first JSON line on `--jsonl -` (start-up: imports, checks,
model load, the first frame). The `loop:` cases call `droptrack.runtime.run.run` (the library function behind
`dt run`) in a child process and record every frame's wall interval (between consecutive `on_frame` calls: decode,
pre, infer, post, sinks, resume journal) and its inference time, so `outside` = interval - infer is the per-frame time
outside the model; `cpu_ms` is the process's CPU time over the same interval (all threads: the decode-ahead one
too), which holds on a loaded machine. The `loop: eval` cases do the same for `dt eval`'s tracking loop
(`eval.workers.track_sequence`: read a frame file, track it) over a small `dt data synth` set. Reports medians over
rounds (per-frame cases: over all frames of all rounds) and HEAD / old.
Writes benchmarks/results/run_versions_cpu.{json,md}. Usage (the older tree: `git worktree add --detach DIR COMMIT`):
    nice -n 10 python benchmarks/bench_run_versions.py --old DIR --video VIDEO [--rounds 5] [--cases a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
TREE = Path(__file__).resolve().parent.parent
INIT = "300,100,120,150"   # the face in Megamind.avi's first frame (720x528)

# name: (kind, dt arguments); {video} {folder} {onnx} {ckpt} {d} are filled in. kind: wall (whole process),
# first (time to the first line of --jsonl -), loop (per-frame intervals of runtime.run.run in a child).
# torch: the embedded checkpoint named ({ckpt}: this tree's file, read by both trees; the loop cases: each tree's own);
# default: no model named (ONNX Runtime on the embedded model's shipped graph since it ships; torch in older trees).
CASES = {
    "video default --output": ("wall", "run {video} --init {init} --threads 1 --output {d}/boxes.txt"),
    "video torch --output": ("wall", "run {video} --init {init} --threads 1 --model {ckpt} --output {d}/boxes.txt"),
    "video onnx --output": ("wall", "run {video} --init {init} --threads 1 --model {onnx} --output {d}/boxes.txt"),
    "video torch --output --save": ("wall", "run {video} --init {init} --threads 1 --model {ckpt} "
                                            "--output {d}/boxes.txt --save {d}/out.mp4"),
    "video onnx --save": ("wall", "run {video} --init {init} --threads 1 --model {onnx} --save {d}/out.mp4"),
    "video torch --jsonl": ("wall", "run {video} --init {init} --threads 1 --model {ckpt} --jsonl {d}/out.jsonl"),
    "video onnx --jsonl": ("wall", "run {video} --init {init} --threads 1 --model {onnx} --jsonl {d}/out.jsonl"),
    "folder torch --output": ("wall", "run {folder} --init {init} --threads 1 --model {ckpt} --output {d}/boxes.txt"),
    "folder onnx --output": ("wall", "run {folder} --init {init} --threads 1 --model {onnx} --output {d}/boxes.txt"),
    "start-up: video default, first frame": ("first", "run {video} --init {init} --threads 1 --jsonl - "
                                                      "--output {d}/boxes.txt --max-frames 2"),
    "start-up: video torch, first frame": ("first", "run {video} --init {init} --threads 1 --model {ckpt} --jsonl - "
                                                    "--output {d}/boxes.txt --max-frames 2"),
    "start-up: video onnx, first frame": ("first", "run {video} --init {init} --threads 1 --model {onnx} "
                                                   "--jsonl - --output {d}/boxes.txt --max-frames 2"),
    "start-up: folder torch, first frame": ("first", "run {folder} --init {init} --threads 1 --model {ckpt} --jsonl - "
                                                     "--output {d}/boxes.txt --max-frames 2"),
    "start-up: dt version": ("wall", "version"),
    "start-up: dt run --help": ("wall", "run --help"),
    "dt demo (1 x 5 frames, 2 video frames)": ("wall", "demo --output {d}/demo --sequences 1 --frames 5 "
                                                       "--video-frames 2 --threads 1"),
    "loop: video torch --output": ("loop", "video torch output"),
    "loop: video onnx --output": ("loop", "video onnx output"),
    "loop: video torch --save": ("loop", "video torch save"),
    "loop: video torch --jsonl": ("loop", "video torch jsonl"),
    "loop: folder torch --output": ("loop", "folder torch output"),
    "loop: eval synth torch": ("loop", "eval torch -"),
    "loop: eval synth onnx": ("loop", "eval onnx -"),
}


class _Stamped:
    """A tracker that calls `stamp` at each `track` (dt eval's per-frame loop: the frame read, then `track`)."""

    def __init__(self, tracker, stamp):
        self.tracker, self.stamp, self.ext = tracker, stamp, tracker.ext

    def initialize(self, frame, box) -> None:
        self.tracker.initialize(frame, box)

    def track(self, frame):
        self.stamp()
        return self.tracker.track(frame)


def eval_child(model: str | None, synth: str) -> dict:
    """dt eval's tracking loop (`eval.workers.track_sequence`: frame files read and tracked) over every synth
    sequence, 1 thread: per-frame wall and process CPU intervals between `track` calls (within a sequence: one
    frame's tracking and the next one's read; the last frame's `track` alone) and inference times."""
    import torch

    from droptrack.data import get_sequences
    from droptrack.eval.workers import track_sequence
    from droptrack.runtime.tracker import load_tracker

    torch.set_num_threads(1)
    tracker = load_tracker(model, threads=1)
    latencies = tracker.backend.latencies_ms
    res: dict = {"interval_ms": [], "cpu_ms": [], "infer_ms": [], "frames": 0}
    for seq in get_sequences("synth", root=synth):
        stamps: list[tuple[float, float, int]] = []

        def stamp() -> None:
            stamps.append((time.perf_counter(), time.process_time(), len(latencies)))

        latencies.clear()
        track_sequence(_Stamped(tracker, stamp), seq)
        stamp()
        wall, cpu, n = (np.asarray(v) for v in zip(*stamps))
        res["interval_ms"] += (np.diff(wall) * 1000.0).tolist()
        res["cpu_ms"] += (np.diff(cpu) * 1000.0).tolist()
        res["infer_ms"] += [float(sum(latencies[i:j])) for i, j in zip(n[:-1], n[1:])]
        res["frames"] += len(seq)
    return res


def child(args) -> None:
    """Run dt run's library function (or dt eval's loop) once; print per-frame intervals and inference times (ms)
    as JSON."""
    import droptrack
    from droptrack.model.default import default_checkpoint
    from droptrack.runtime.run import RunOptions, run

    source, model, sink = args.child.split()
    named = args.onnx if model == "onnx" else str(default_checkpoint())   # this tree's checkpoint: torch
    if source == "eval":
        print(json.dumps({**eval_child(named, args.synth),
                          "package": str(Path(droptrack.__file__).parent)}))
        return
    d = Path(args.dir)
    opts = RunOptions(source=args.video if source == "video" else args.folder, init=[INIT], device="cpu", threads=1,
                      artifact=named,
                      output=str(d / "boxes.txt") if sink == "output" else None,
                      jsonl=str(d / "out.jsonl") if sink == "jsonl" else None,
                      save=str(d / "out.mp4") if sink == "save" else None)
    stamps: list[float] = []
    cpu: list[float] = []
    infer: list[float] = []

    def on_frame(s) -> None:
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())
        infer.append(s.stats["infer"].total)

    summary = run(opts, on_frame=on_frame)
    print(json.dumps({"interval_ms": (np.diff(stamps) * 1000.0).tolist(), "cpu_ms": (np.diff(cpu) * 1000.0).tolist(),
                      "infer_ms": np.diff(infer).tolist(), "frames": summary.frames,
                      "package": str(Path(droptrack.__file__).parent)}))


def _env(tree: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MKL_NUM_THREADS")}
    env.update(PYTHONPATH=str(tree), OMP_NUM_THREADS="1", MPLBACKEND="Agg", COLUMNS="120")
    return env


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(tree: Path, kind: str, spec: str, paths: dict, work: Path) -> dict:
    """One run of a case with `tree` on PYTHONPATH, in a fresh folder under `work`."""
    d = Path(tempfile.mkdtemp(dir=work))
    try:
        if kind == "loop":
            cmd = [sys.executable, __file__, "--child", spec, "--dir", str(d), "--video", paths["video"],
                   "--folder", paths["folder"], "--onnx", paths["onnx"], "--synth", paths["synth"]]
        else:
            cmd = [sys.executable, "-m", "droptrack"] + spec.format(d=d, init=INIT, **paths).split()
        cpu0, t0 = _cpu_children(), time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=d, env=_env(tree), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = None
        if kind == "first":
            line = proc.stdout.readline()
            first = time.perf_counter() - t0 if line.startswith("{") else None
        out, err = proc.communicate(timeout=900)
        wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} (PYTHONPATH={tree}) exited {proc.returncode}: {err[-2000:]}")
        rec = {"wall_s": wall, "cpu_s": cpu, "first_s": first}
        if kind == "loop":
            rec.update(json.loads(out.strip().splitlines()[-1]))
            if Path(rec["package"]) != tree / "droptrack":
                raise RuntimeError(f"the child imported {rec['package']}, not {tree}/droptrack")
        return rec
    finally:
        shutil.rmtree(d, ignore_errors=True)


def prepare(args, work: Path, synth_needed: bool) -> dict:
    """Video, image folder (the video's first --folder-frames frames as JPEG) and an ONNX export (by this tree)."""
    import cv2

    folder = Path(args.folder) if args.folder else work / "frames"
    if not args.folder:
        folder.mkdir()
        cap = cv2.VideoCapture(args.video)
        for i in range(args.folder_frames):
            ok, img = cap.read()
            if not ok:
                break
            cv2.imwrite(str(folder / f"{i + 1:06d}.jpg"), img)
        cap.release()
    onnx = args.onnx
    if not onnx:
        subprocess.run([sys.executable, "-m", "droptrack", "export", "--output", str(work / "onnx")], cwd=work,
                       env=_env(TREE), check=True, capture_output=True)
        onnx = str(work / "onnx" / "model.onnx")
    synth = args.synth or ""
    if synth_needed and not synth:   # dt eval's cases: a small synthetic set (made by this tree, read by both)
        synth = str(work / "synth")
        subprocess.run([sys.executable, "-m", "droptrack", "data", "synth", synth, "--split", "val", "--sequences", "4",
                        "--frames", "60", "--seed", "1"], cwd=work, env=_env(TREE), check=True, capture_output=True)
    return {"video": str(Path(args.video).resolve()), "folder": str(folder.resolve()),
            "onnx": str(Path(onnx).resolve()), "synth": str(Path(synth).resolve()) if synth else "",
            "ckpt": str(TREE / "droptrack" / "weights" / "droptrack_tiny_synth.pt")}


def _med(v) -> float | None:
    v = [x for x in v if x is not None]
    return float(np.median(v)) if v else None


def summarize(name: str, kind: str, runs: dict) -> dict:
    """Medians per tree and HEAD / old for one case."""
    row = {"case": name, "kind": kind}
    for tree, rs in runs.items():
        if kind == "loop":
            iv = np.concatenate([np.asarray(r["interval_ms"]) for r in rs])
            inf = np.concatenate([np.asarray(r["infer_ms"]) for r in rs])
            cpu = np.concatenate([np.asarray(r["cpu_ms"]) for r in rs])
            row[tree] = {"interval_ms": float(np.median(iv)), "cpu_ms": float(np.median(cpu)),
                         "infer_ms": float(np.median(inf)),
                         "outside_ms": float(np.median(iv - inf)), "frames": int(iv.size)}
        else:
            row[tree] = {"wall_s": _med(r["wall_s"] for r in rs), "cpu_s": _med(r["cpu_s"] for r in rs),
                         "first_s": _med(r["first_s"] for r in rs), "runs": len(rs)}
    row["ratio"] = {k: row["new"][k] / row["old"][k] for k in row["new"]
                    if k not in ("frames", "runs") and row["new"][k] and row["old"][k]}
    return row


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# `dt run` end to end on CPU: HEAD ({res['new_commit']}) vs {res['old_commit']}", "",
             f"Command: `{res['command']}`. Machine: {m['cpu']}, {m['cores']} cores visible, Python {m['python']}, "
             f"1 thread (OMP_NUM_THREADS=1, --threads 1), nice 10; OLD_TREE: a worktree of {res['old_commit']}. Load average before {res['load_before']}, after "
             f"{res['load_after']}. Rounds: {res['rounds']}, the two trees alternating in each.", "",
             "| case | old | HEAD | HEAD / old | old CPU s | HEAD CPU s | CPU HEAD / old |", "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        o, n, q = r["old"], r["new"], r["ratio"]
        if r["kind"] == "loop":
            for k, what in (("interval_ms", "per frame, ms"), ("cpu_ms", "per frame, process CPU ms"),
                            ("infer_ms", "infer, ms"), ("outside_ms", "outside model, ms")):
                if k not in o:   # a results file from before the CPU column
                    continue
                lines.append(f"| {r['case']} ({what}, {n['frames']} frames) | {o[k]:.2f} | {n[k]:.2f} | "
                             f"{q.get(k, float('nan')):.3f} | | | |")
            continue
        k = "first_s" if r["kind"] == "first" else "wall_s"
        what = "to first frame, s" if k == "first_s" else "wall, s"
        lines.append(f"| {r['case']} ({what}) | {o[k]:.3f} | {n[k]:.3f} | {q.get(k, float('nan')):.3f} | "
                     f"{o['cpu_s']:.3f} | {n['cpu_s']:.3f} | {q.get('cpu_s', float('nan')):.3f} |")
    lines += ["", "Medians over rounds (loop rows: over all frames of all rounds). CPU = user + sys of the whole process "
              "(it holds on a shared machine where wall times swing). `outside model` = the wall interval between two "
              "frames minus that frame's inference time (decode, pre, post, sinks, resume journal)."]
    return "\n".join(lines) + "\n"


def _commit(tree: Path) -> str:
    r = subprocess.run(["git", "-C", str(tree), "log", "-1", "--date=short", "--format=%h %ad"], capture_output=True,
                       text=True)
    return r.stdout.strip() or str(tree)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", help="source tree of the older droptrack (its folder holding droptrack/)")
    p.add_argument("--video", required=True, help="a real video (e.g. OpenCV's Megamind.avi)")
    p.add_argument("--folder", help="an image folder (default: the video's first --folder-frames frames)")
    p.add_argument("--folder-frames", type=int, default=150)
    p.add_argument("--onnx", help="an exported model.onnx (default: dt export of the embedded model by this tree)")
    p.add_argument("--synth", help="a `dt data synth` set for the eval cases (default: 4 x 60 frames, seed 1, made "
                   "here)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cases", help="comma-separated case names (default: all); a name may be a prefix")
    p.add_argument("--out", default=str(RESULTS / "run_versions_cpu"), help="results path without suffix")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if not args.old:
        p.error("--old DIR is required")
    old = Path(args.old).resolve()
    wanted = [c.strip() for c in args.cases.split(",")] if args.cases else None
    cases = {k: v for k, v in CASES.items() if wanted is None or any(k.startswith(w) for w in wanted)}
    trees = {"old": old, "new": TREE}
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = prepare(args, work, any(spec.startswith("eval ") for _, spec in cases.values()))
        runs = {name: {"old": [], "new": []} for name in cases}
        for rnd in range(args.rounds):
            for name, (kind, spec) in cases.items():
                for tree in (("old", "new") if rnd % 2 == 0 else ("new", "old")):
                    runs[name][tree].append(run_once(trees[tree], kind, spec, paths, work))
                r = runs[name]
                print(f"round {rnd + 1} {name}: old {r['old'][-1]['wall_s']:.2f} s, new {r['new'][-1]['wall_s']:.2f} s",
                      file=sys.stderr, flush=True)
    import platform

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    res = {"machine": {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python": platform.python_version()},
           "old_commit": _commit(old), "new_commit": _commit(TREE), "rounds": args.rounds,
           "command": "python benchmarks/bench_run_versions.py " + shlex.join(
               "OLD_TREE" if Path(a).resolve() == old else a for a in (argv if argv is not None else sys.argv[1:])),
           "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
           "rows": [summarize(name, cases[name][0], r) for name, r in runs.items()],
           "raw": {name: {t: [{k: v for k, v in x.items() if k not in ("interval_ms", "cpu_ms", "infer_ms", "package")} for x in rs]
                          for t, rs in r.items()} for name, r in runs.items()}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
