"""Choose the opt-in tracker extensions (issue 11) on validation data only, then report the test numbers once.

Usage: python benchmarks/tune_tracker_ext.py [--model CKPT] [--hard-val DIR] [--v2-val DIR] [--real-val JSON]
         [--val NAME=DIR ...] [--test] [--hard-test DIR] [--workdir DIR] [--out benchmarks/results/tracker_ext]

The model runs as ONNX Runtime FP32 on 1 thread (`dt export MODEL`, made once per checkpoint sha256 under
--workdir). Validation: the hard set (`dt data synth hard_val --split val --size 640x360 --attributes all
--sequences 16 --frames 120 --seed 11`), the version-2 val set (`dt data synth DIR --split val --seed 2 --sequences
30 --frames 100`) and the real-video VALIDATION keyframes (benchmarks/data/real_video_val_keyframes.json). A small
grid in three stages, each on top of the best so far: size smoothing (SIZE_LR; above 1 only low-score frames are
damped), the aspect penalty (on the best SIZE_LR even when that alone was not kept), re-acquisition (REACQ_FACTOR x
centre, entered after 3 low frames; and after 10, also with a lower threshold). Objective: mean of hard-val AUC,
v2-val AUC and mean real-val keyframe IoU (then a fourth stage: template refresh at score 0.6 / 0.7, every 10
frames); a stage's setting is kept only if it raises the objective by at least
--min-gain.
With --eval KEYS (a JSON object of TEST keys, repeatable) no grid runs: the official procedure and each given
setting are evaluated on the validation sets and tabled (how a setting outside the grid, e.g. a SCALE_SEARCH, is
checked against a rule written beforehand).
With --test, the official procedure and the chosen setting are then run ONCE on the test data (hard test set,
benchmarks/data/real_video_keyframes.json): reported, never used to choose. Every evaluation is cached in
--workdir, so an interrupted run resumes. Writes OUT/{table.md, report.json}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))   # sibling scripts: bench_classic (clip frames, recorded paths)


SET_COMMANDS = {
    "hard_val": "dt data synth <hard_val> --split val --size 640x360 --attributes all --sequences 16 --frames 120 "
                "--seed 11",
    "v2_val": "dt data synth <v2_val> --split val --seed 2 --sequences 30 --frames 100",
    "hard_test": "dt data synth <hard_test> --split test --size 640x360 --attributes all --sequences 24 --frames 120 "
                 "--seed 12",
}


def extra_sets(values: list[str], taken: set[str]) -> dict[str, Path]:
    """`--val NAME=DIR` values -> {name: folder}: more synthetic validation sets in the objective (e.g. the
    issue-like `--difficulty moderate` val sets); a bad value raises ValueError with a one-line reason."""
    out: dict[str, Path] = {}
    for v in values:
        name, sep, folder = v.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--val {v!r}: give NAME=DIR, e.g. --val issue11_val=/data/issue11_val")
        if name in taken or name in out:
            raise ValueError(f"--val {name}: the name is already used; pick another")
        if not Path(folder).is_dir():
            raise ValueError(f"--val {name}: {folder} is not a folder; pass a `dt data synth` set")
        out[name] = Path(folder)
    return out


def shown(text: str, work: Path) -> str:
    """An argument as recorded: a path (alone or after NAME=) repo-relative, <workdir>/... or <data>/<folder name>,
    as bench_classic records them; anything else as is."""
    from bench_classic import shown as shown_path

    head, sep, tail = text.partition("=")
    if sep and os.path.isabs(tail):
        return head + sep + shown_path(tail, work)
    return shown_path(text, work) if os.path.isabs(text) else text


def onnx_model(model: str | None, work: Path) -> Path:
    """ONNX FP32 export of the checkpoint (`dt export`), one folder per checkpoint sha256."""
    import subprocess

    from droptrack.artifact import sha256_file
    from droptrack.model.default import default_checkpoint

    ckpt = Path(model) if model else default_checkpoint()
    out = work / f"export_{sha256_file(ckpt)[:12]}"
    if not (out / "model.onnx").is_file():
        subprocess.run([sys.executable, "-m", "droptrack", "export", str(ckpt), "-o", str(out)], check=True)
    return out / "model.onnx"


class Sets:
    """Sequences and real clips, decoded once (frames kept in memory for the whole grid)."""

    def __init__(self, synth: dict[str, Path], real: dict[str, Path]):
        from bench_classic import _clip_frames

        from droptrack.data import get_sequences

        self.synth = {}
        for name, root in synth.items():
            seqs = get_sequences("synth", root=root)
            self.synth[name] = [(s.boxes, list(s.iter_frames())) for s in seqs]
        self.real = {}
        for name, path in real.items():
            spec = json.loads(Path(path).read_text())
            self.real[name] = [(clip, _clip_frames(clip)) for clip in spec["clips"]]


def track(tracker, frames: list, init) -> np.ndarray:
    """OPE boxes (row 0 = the init box)."""
    tracker.initialize(frames[0], init)
    return np.asarray([list(map(float, init))] + [tracker.track(f)[0] for f in frames[1:]], dtype=np.float64)


def evaluate(backend, keys: dict, sets: Sets, which: list[str]) -> dict:
    """AUC on each synthetic set and keyframe IoU on each real set for one setting."""
    from droptrack.eval.metrics import ope_metrics
    from droptrack.geometry import box_iou
    from droptrack.runtime.extensions import OFFICIAL
    from droptrack.runtime.tracker import Tracker, tracker_ext

    tracker = Tracker(backend, tracker_ext(backend, {**OFFICIAL, **keys}))
    out: dict = {}
    for name in which:
        if name in sets.synth:
            data = sets.synth[name]
            preds = [track(tracker, frames, boxes[0]) for boxes, frames in data]
            out[name] = float(ope_metrics(preds, [b for b, _ in data], "generic").auc)
        else:
            clips = {}
            for clip, frames in sets.real[name]:
                keysf = sorted(int(k) for k in clip["keyframes"])
                gt = {k: np.asarray(clip["keyframes"][str(k)], dtype=np.float64) for k in keysf}
                boxes = track(tracker, frames, gt[keysf[0]])
                clips[clip["name"]] = {str(k): float(box_iou(boxes[k - keysf[0]][None], gt[k][None])[0])
                                       for k in keysf[1:]}
            ious = [v for c in clips.values() for v in c.values()]
            out[name] = {"clips": clips, "mean": float(np.mean(ious)), "min": float(np.min(ious))}
    return out


class Grid:
    """Cached evaluations of settings (json file per model), the objective and the table rows."""

    def __init__(self, backend, sets: Sets, cache: Path, val: list[str]):
        self.backend, self.sets, self.cache, self.val = backend, sets, cache, val
        self.results = json.loads(cache.read_text()) if cache.is_file() else {}
        self.order: list[str] = []

    def run(self, keys: dict, which: list[str] | None = None) -> dict:
        """Results of a setting on `which` sets (default: the validation sets), evaluated once and cached."""
        from droptrack.artifact import atomic_write_json

        key = json.dumps(keys, sort_keys=True)
        row = self.results.setdefault(key, {})
        missing = [w for w in (which or self.val) if w not in row]
        if missing:
            t0 = time.perf_counter()
            row.update(evaluate(self.backend, keys, self.sets, missing))
            row.setdefault("seconds", {})[",".join(missing)] = round(time.perf_counter() - t0, 1)
            atomic_write_json(self.cache, self.results)
        if key not in self.order and which is None:
            self.order.append(key)
            print(f"{label(keys):55s} " + "  ".join(f"{w} {fmt(row[w])}" for w in self.val)
                  + f"  objective {self.objective(keys):.4f}", flush=True)
        return row

    def objective(self, keys: dict) -> float:
        """Mean of the synthetic AUCs and the real-video mean keyframe IoU."""
        row = self.results[json.dumps(keys, sort_keys=True)]
        return float(np.mean([row[w]["mean"] if isinstance(row[w], dict) else row[w] for w in self.val]))


def given_keys(text: str) -> dict:
    """--eval text -> checked TEST keys (ValueError with a one-line reason)."""
    from droptrack.errors import ConfigError
    from droptrack.runtime.extensions import TrackerExt

    try:
        keys = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"--eval {text!r} is not JSON; give TEST keys, e.g. '{{\"SCALE_SEARCH\": [0.8]}}'") from None
    if not isinstance(keys, dict):
        raise ValueError(f"--eval {text!r} is not a JSON object of TEST keys")
    try:
        TrackerExt.from_keys(keys)
    except ConfigError as e:
        raise ValueError(f"--eval: {e}") from None
    return keys


def label(keys: dict) -> str:
    """Short name of a setting."""
    return "official" if not keys else " ".join(f"{k}={v}" for k, v in keys.items())


def fmt(v) -> str:
    return f"{v['mean']:.3f} (min {v['min']:.2f})" if isinstance(v, dict) else f"{v:.3f}"


def choose(grid: Grid, search_factor: float, min_gain: float) -> tuple[dict, list[str]]:
    """The three-stage grid; returns the chosen keys and one line per stage decision."""
    best, notes = {}, []

    def stage(name: str, candidates: list[dict]) -> dict:
        nonlocal best
        base = grid.objective(best)
        for c in candidates:
            grid.run(c)
        scored = [(grid.objective(c), c) for c in candidates]
        top, keys = max(scored, key=lambda t: t[0])
        if top >= base + min_gain:
            notes.append(f"{name}: {label(keys)} kept ({top:.4f} vs {base:.4f})")
            best = keys
        else:
            notes.append(f"{name}: best {label(keys)} ({top:.4f}) does not beat {label(best)} ({base:.4f}) by "
                         f"{min_gain}; not kept")
        return keys

    grid.run({})
    top = stage("size smoothing", [{"SIZE_LR": v} for v in (0.3, 0.6, 0.9, 1.5, 3.0)])
    stage("aspect penalty", [{**best, **top, "ASPECT_PENALTY": v} for v in (0.5, 2.0)])
    wide = round(search_factor * 1.5, 2)
    reacq = [{**best, "REACQ_FACTOR": round(search_factor * f, 2), "REACQ_FRAMES": 3, "REACQ_RECOVER": 0.4,
              "REACQ_CENTER": c} for f in (1.25, 1.5) for c in ("last", "motion")]
    reacq += [{**best, "REACQ_FACTOR": wide, "REACQ_FRAMES": 10, "REACQ_RECOVER": 0.4, "REACQ_CENTER": "last"},
              {**best, "REACQ_FACTOR": wide, "REACQ_FRAMES": 10, "REACQ_THRESHOLD": 0.15, "REACQ_RECOVER": 0.3,
               "REACQ_CENTER": "last"}]
    stage("re-acquisition", reacq)
    stage("template refresh", [{**best, "TEMPLATE_REFRESH": v, "TEMPLATE_REFRESH_EVERY": 10} for v in (0.6, 0.7)])
    return best, notes


def table(grid: Grid, chosen: dict | None, notes: list[str], test: dict | None, header: list[str],
          given: list[dict] | None = None) -> str:
    """Markdown: every validation row, the stage decisions, per-clip IoU (official vs the chosen setting, or vs each
    --eval setting when nothing is chosen), and the test rows."""
    lines = header + ["", "| setting | " + " | ".join(grid.val) + " | objective |",
                      "|---|" + "---|" * (len(grid.val) + 1)]
    for key in grid.order:
        keys, row = json.loads(key), grid.results[key]
        mark = " **(chosen)**" if chosen is not None and keys == chosen else ""
        lines.append(f"| {label(keys)}{mark} | " + " | ".join(fmt(row[w]) for w in grid.val)
                     + f" | {grid.objective(keys):.4f} |")
    lines += ["", *[f"- {n}" for n in notes]]
    columns = [("chosen", chosen)] if not given else [(label(k), k) for k in given]
    for name in [w for w in grid.val if w in grid.sets.real]:
        lines += ["", f"| {name} clip | keyframe | official IoU | " + " | ".join(f"{c} IoU" for c, _ in columns)
                  + " |", "|---|---|---|" + "---|" * len(columns)]
        off, other = grid.run({})[name]["clips"], [grid.run(k)[name]["clips"] for _, k in columns]
        for clip in off:
            lines += [f"| {clip} | {k} | {off[clip][k]:.2f} | " + " | ".join(f"{o[clip][k]:.2f}" for o in other)
                      + " |" for k in off[clip]]
    if test:
        lines += ["", "TEST (reported once after choosing; never used to choose):", "",
                  "| setting | " + " | ".join(test["sets"]) + " |", "|---|" + "---|" * len(test["sets"])]
        for name, row in test["rows"].items():
            lines.append(f"| {name} | " + " | ".join(fmt(row[w]) for w in test["sets"]) + " |")
        real = [w for w in test["sets"] if isinstance(test["rows"]["official"][w], dict)]
        for name in real:
            lines += ["", f"| {name} clip | keyframe | official IoU | chosen IoU |", "|---|---|---|---|"]
            off, ch = test["rows"]["official"][name]["clips"], test["rows"]["chosen"][name]["clips"]
            for clip in off:
                lines += [f"| {clip} | {k} | {off[clip][k]:.2f} | {ch[clip][k]:.2f} |" for k in off[clip]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    ap.add_argument("--hard-val", default="/work/runs/i11/hard_val")
    ap.add_argument("--v2-val", default="/work/wt/h11ext_data/v2val")
    ap.add_argument("--real-val", default=str(HERE / "data" / "real_video_val_keyframes.json"))
    ap.add_argument("--val", action="append", default=[], metavar="NAME=DIR",
                    help="another synthetic validation set in the objective (repeatable)")
    ap.add_argument("--eval", action="append", default=[], metavar="KEYS",
                    help="evaluate this setting (JSON TEST keys, repeatable) instead of running the grid")
    ap.add_argument("--test", action="store_true", help="after choosing, run official + chosen on the test data once")
    ap.add_argument("--hard-test", default="/work/runs/i11/hard_test")
    ap.add_argument("--real-test", default=str(HERE / "data" / "real_video_keyframes.json"))
    ap.add_argument("--min-gain", type=float, default=0.005, help="objective gain a stage needs to be kept")
    ap.add_argument("--workdir", default="/tmp/droptrack-tune-ext")
    ap.add_argument("--out", default=str(HERE / "results" / "tracker_ext"))
    args = ap.parse_args()
    try:
        extra = extra_sets(args.val, {"hard_val", "v2_val", "real_val", "hard_test", "real_test"})
        given = [given_keys(k) for k in args.eval]
    except ValueError as e:
        ap.error(str(e))
    if args.test and given:
        ap.error("--test reports the setting the grid chose; with --eval nothing is chosen (drop one of them)")
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2

    from droptrack.artifact import atomic_write_json, atomic_write_text, sha256_file
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.eval.machine import benchmark_machine

    cv2.setNumThreads(1)
    work, out = Path(args.workdir), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    onnx = onnx_model(args.model, work)
    backend = OrtBackend(onnx, threads=1)
    synth = {"hard_val": Path(args.hard_val), "v2_val": Path(args.v2_val), **extra}
    real = {"real_val": Path(args.real_val)}
    if args.test:
        synth["hard_test"], real["real_test"] = Path(args.hard_test), Path(args.real_test)
    sets = Sets(synth, real)
    tag = hashlib.sha256(f"{sha256_file(onnx)}{args.hard_val}{args.v2_val}{sha256_file(args.real_val)}"
                         f"{sorted((k, str(v)) for k, v in extra.items()) if extra else ''}".encode()).hexdigest()[:12]
    grid = Grid(backend, sets, work / f"cache_{tag}.json", ["hard_val", "v2_val", *extra, "real_val"])
    if given:
        grid.run({})
        for keys in given:
            grid.run(keys)
        chosen, notes = None, [f"--eval: {len(given)} given setting(s), nothing chosen"]
    else:
        chosen, notes = choose(grid, backend.meta.search_factor, args.min_gain)
    test = None
    if args.test:
        which = ["hard_test", "real_test"]
        test = {"sets": which, "rows": {"official": {w: grid.run({}, which)[w] for w in which},
                                        "chosen": {w: grid.run(chosen, which)[w] for w in which}}}
    command = "python benchmarks/tune_tracker_ext.py " + " ".join(shown(a, work) for a in sys.argv[1:])
    model_name = shown(args.model, work) if args.model else "embedded default"
    header = [f"# Tracker extensions on validation data (model: {model_name}, ONNX Runtime FP32, 1 thread)", "",
              f"Command: `{command}`", f"Chosen: `{json.dumps(chosen)}`" if chosen is not None
              else "Chosen: nothing (--eval reports the given settings only)",
              (f"Objective: mean of the AUCs of {', '.join(['hard_val', 'v2_val', *extra])} and real_val mean "
               "keyframe IoU.")]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.md", table(grid, chosen, notes, test, header, given))
    atomic_write_json(out / "report.json", {
        "command": command, "model": model_name, "onnx_sha256": sha256_file(onnx),
        "sets": {k: f"<{k}>" if k in SET_COMMANDS else shown(str(v), work) for k, v in {**synth, **real}.items()},
        "set_commands": SET_COMMANDS,
        "chosen": chosen, "decisions": notes,
        "rows": [{"keys": json.loads(k), **grid.results[k], "objective": grid.objective(json.loads(k))}
                 for k in grid.order], "test": test, "machine": benchmark_machine()})
    print("\n".join(notes))
    print(f"chosen: {json.dumps(chosen) if chosen is not None else 'nothing (--eval)'}  -> {out / 'table.md'}")


if __name__ == "__main__":
    main()
