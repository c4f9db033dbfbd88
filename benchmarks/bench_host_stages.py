"""The host tracker's CPU time per frame outside the network call, this tree against an older checkout, interleaved.

For each clip, each round runs one child process per tree (PYTHONPATH = that tree; old first in even rounds, new first
in odd ones). A child decodes the clip up front (RGB), loads `load_tracker(MODEL, threads=1)` (torch and OpenCV 1
thread too), and tracks the clip `--passes` times, summing per frame the process CPU time (time.process_time) of
`preprocess` (crops, normalisation), `infer` less the backend's own call (`session.run` of ONNX Runtime, or the
torch backend's `_infer`), the backend call itself, and `postprocess` (window, decode, map-back). It also checks
that both trees give the same boxes (exact floats). Reports per clip the median over rounds of each stage (ms per
frame) and new / old. Writes benchmarks/results/host_stages_cpu.{json,md}. Usage:
    nice -n 10 python benchmarks/bench_host_stages.py --old DIR --clip VIDEO:x,y,w,h [--clip DIR_OF_JPG:gt]
        [--model model.onnx] [--rounds 5]
(a folder clip takes its first line of groundtruth.txt as the init box: a `dt data synth` sequence)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
TREE = Path(__file__).resolve().parent.parent
STAGES = ("pre", "infer_wrapper", "post", "outside", "backend_call", "total")


def frames_of(clip: str) -> tuple[list[np.ndarray], list[float]]:
    """RGB frames of a video or a folder of JPEG frames, and the init box."""
    import cv2

    path, _, init = clip.rpartition(":")
    if Path(path).is_dir():
        files = sorted(Path(path).glob("*.jpg"))
        frames = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]
        line = (Path(path) / "groundtruth.txt").read_text().splitlines()[0]
        return frames, [float(v) for v in line.replace(",", " ").split()]
    cap, frames = cv2.VideoCapture(path), []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    return frames, [float(v) for v in init.split(",")]


def child(clip: str, model: str | None, passes: int) -> dict:
    """Per-frame CPU ms of each stage (summed over passes, divided by frames) and the last pass's boxes."""
    import cv2
    import torch

    from droptrack.model.default import default_checkpoint
    from droptrack.runtime.tracker import load_tracker

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    frames, init = frames_of(clip)
    tracker = load_tracker(model or default_checkpoint(), threads=1)   # None would run the shipped ORT graph
    backend, spent = tracker.backend, [0.0]
    owner, name = (backend.session, "run") if hasattr(backend, "session") else (backend, "_infer")
    inner = getattr(owner, name)

    def timed(*a, **k):
        c = time.process_time()
        try:
            return inner(*a, **k)
        finally:
            spent[0] += time.process_time() - c

    setattr(owner, name, timed)   # a benchmark probe on one object, never on the class
    sums = dict.fromkeys(("pre", "infer", "post"), 0.0)
    for _ in range(passes):
        tracker.initialize(frames[0], init)
        boxes = []
        for f in frames[1:]:
            c0 = time.process_time()
            x, aux = tracker.preprocess(f)
            c1 = time.process_time()
            out = tracker.infer(x)
            c2 = time.process_time()
            boxes.append(tracker.postprocess(out, aux, f.shape[:2])[0].box)
            c3 = time.process_time()
            sums["pre"] += c1 - c0
            sums["infer"] += c2 - c1
            sums["post"] += c3 - c2
    n = passes * (len(frames) - 1)
    ms = {k: v * 1e3 / n for k, v in sums.items()}
    call = spent[0] * 1e3 / n
    res = {"pre": ms["pre"], "infer_wrapper": ms["infer"] - call, "post": ms["post"], "backend_call": call,
           "outside": ms["pre"] + ms["infer"] - call + ms["post"], "total": sum(ms.values())}
    import droptrack

    return {"ms": res, "frames": len(frames), "boxes": boxes, "package": str(Path(droptrack.__file__).parent)}


def run_child(tree: Path, clip: str, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(tree), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, __file__, "--child", clip, "--passes", str(args.passes)] + (
        ["--model", args.model] if args.model else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} (PYTHONPATH={tree}) exited {out.returncode}: {out.stderr[-2000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(rec["package"]) != tree / "droptrack":
        raise RuntimeError(f"the child imported {rec['package']}, not {tree}/droptrack")
    return rec


def _commit(tree: Path) -> str:
    r = subprocess.run(["git", "-C", str(tree), "log", "-1", "--date=short", "--format=%h %ad"], capture_output=True,
                       text=True)
    return r.stdout.strip() or tree.name


def markdown(res: dict) -> str:
    lines = [f"# Host tracker CPU per frame outside the network call: {res['new_commit']} vs {res['old_commit']}", "",
             f"Command: `{res['command']}`. Machine: {res['cpu']}, 1 thread, nice 10; load average before "
             f"{res['load_before']}, after {res['load_after']}. {res['rounds']} rounds, trees alternating; each round "
             f"{res['passes']} passes over the clip per tree. Boxes of both trees identical: {res['same_boxes']}.", "",
             "| clip | stage (process CPU ms per frame) | old | new | new / old |", "|---|---|---|---|---|"]
    for clip, row in res["clips"].items():
        for s in STAGES:
            o, n = row["old"][s], row["new"][s]
            lines.append(f"| {clip} | {s} | {o:.3f} | {n:.3f} | {n / o:.3f} |")
    lines += ["", "Medians over rounds. `outside` = pre + the infer wrapper (input checks, batching, template repeat) "
              "+ post; `backend_call` = the backend's own call (ONNX Runtime's `session.run`, or the torch backend's "
              "`_infer`), timed inside the wrapper."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", help="source tree of the older droptrack (its folder holding droptrack/)")
    p.add_argument("--clip", action="append", help="VIDEO:x,y,w,h or a synth sequence folder followed by ':'")
    p.add_argument("--model", help="an exported model.onnx (default: the embedded model, torch)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS / "host_stages_cpu"), help="results path without suffix")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.model, args.passes)))
        return 0
    if not args.old or not args.clip:
        p.error("--old DIR and --clip are required")
    old = Path(args.old).resolve()
    trees = {"old": old, "new": TREE}
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = {c: {"old": [], "new": []} for c in args.clip}
    same = True
    for rnd in range(args.rounds):
        for clip in args.clip:
            recs = {}
            for t in (("old", "new") if rnd % 2 == 0 else ("new", "old")):
                recs[t] = run_child(trees[t], clip, args)
                runs[clip][t].append(recs[t]["ms"])
            same = same and recs["old"]["boxes"] == recs["new"]["boxes"]
            print(f"round {rnd + 1} {clip}: outside old {recs['old']['ms']['outside']:.3f} ms, new "
                  f"{recs['new']['ms']['outside']:.3f} ms", file=sys.stderr, flush=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "")
    path = {c: Path(c.rpartition(":")[0]) for c in args.clip}   # parent/name where two clips share a name
    name = {c: p.name if [q.name for q in path.values()].count(p.name) == 1 else f"{p.parent.name}/{p.name}"
            for c, p in path.items()}
    res = {"cpu": cpu, "old_commit": _commit(old), "new_commit": _commit(TREE), "rounds": args.rounds,
           "passes": args.passes, "same_boxes": same, "load_before": load_before,
           "load_after": [round(x, 2) for x in os.getloadavg()],
           "command": "python benchmarks/bench_host_stages.py " + shlex.join(
               "OLD_TREE" if Path(a).resolve() == old else a for a in (argv if argv is not None else sys.argv[1:])),
           "clips": {name[c]: {t: {s: float(np.median([r[s] for r in rs])) for s in STAGES} for t, rs in r.items()}
                     for c, r in runs.items()}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
