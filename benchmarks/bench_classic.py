"""Issue 11's whole table in one run: a droptrack model (torch, ONNX FP32, ONNX INT8) vs OpenCV CSRT, MIL and KCF.

Usage (from the repository root):
  python benchmarks/bench_classic.py [--model CKPT] [--data SET ...] [--trackers ROWS] [--threads 1]
SET is a `dt data synth --attributes ...` folder or a name of SETS (generated once under --workdir when missing);
--data repeats (default: issue11_test). Steps, on the same machine, one after another, 1 thread each:
  1. `dt export MODEL --int8 --ort` (ONNX FP32 `model.onnx`, its ONNX Runtime form `model_ort.onnx` and ONNX Runtime
     INT8 `model_int8_ort.onnx`, reused per sha256);
  2. per set, `dt eval` (`evaluate()`) of every row, interleaved (every row tracks 4 more sequences per round, so
     load changes on a shared machine hit all rows alike);
  3. per set, `dt analyze` (`analyze()`): AUC, prec@20px, FPS, x-CSRT speed, per-attribute table + attributes.png,
     per-sequence table with the tags;
  4. the real-video check (real_keyframes.py): the model (torch) and CSRT from the first hand-labelled keyframe
     of each clip of benchmarks/data/real_video_keyframes.json, IoU at every other keyframe, a PNG strip per clip;
  5. pass / fail against issue 11's targets (check_targets), per set.
Writes OUT/{table.md, summary.json, real_<clip>.png} and OUT/<set>/{report.json, success.png, precision.png,
attributes.png}; recorded paths are repo-relative (<workdir>/, <data>/ outside the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from droptrack.errors import InputError, printable, run_script

REPO = Path(__file__).resolve().parents[1]
# Named held-out sets (`dt data synth` arguments after the output folder); see benchmarks/default_model.md.
SETS = {
    "issue11_test": "--split test --size 640x360 --attributes all --difficulty moderate --sequences 24 --frames 120 "
                    "--seed 41",
    "issue11_val": "--split val --size 640x360 --attributes all --difficulty moderate --sequences 24 --frames 120 "
                   "--seed 32",
    "hard_test": "--split test --size 640x360 --attributes all --sequences 24 --frames 120 --seed 12",
    "hard_val": "--split val --size 640x360 --attributes all --sequences 16 --frames 120 --seed 11",
    "issue11_val2": "--split val --size 640x360 --attributes all --difficulty moderate --sequences 48 --frames 120 "
                    "--seed 43",
    "v2_val": "--split val --size 320x240 --sequences 30 --frames 100 --seed 2",   # plain sequences, no attributes
}
ROWS = {"torch": "droptrack_torch", "onnx_fp32": "droptrack_onnx_fp32", "onnx_ort": "droptrack_onnx_ort",
        "onnx_int8": "droptrack_onnx_int8", "csrt": "opencv_csrt", "mil": "opencv_mil", "kcf": "opencv_kcf"}
# issue 11's targets
MIN_KEYFRAME_IOU = 0.6
MIN_SPEEDUP = 1.5
MAX_INT8_DROP = 0.01


@dataclass
class Check:
    """One target of issue 11: passed is None when a row it needs was not run."""

    target: str
    passed: bool | None
    detail: str


def check_targets(auc: dict[str, float], fps: dict[str, float],
                  keyframe_iou: dict[str, list[float]] | None) -> list[Check]:
    """Issue 11's four targets from one run's numbers (AUC fractions and median-frame FPS keyed by ROWS values;
    keyframe IoU of the model per clip)."""
    model = "droptrack_torch" if "droptrack_torch" in auc else "droptrack_onnx_fp32"
    out = []
    rivals = ("opencv_csrt", "opencv_mil", "opencv_kcf")
    if model in auc and all(r in auc for r in rivals):
        a = auc[model]
        ok = a >= auc["opencv_csrt"] and a > auc["opencv_mil"] and a > auc["opencv_kcf"]
        out.append(Check("AUC >= CSRT and > MIL, KCF", ok, f"{a:.3f} vs " + " / ".join(
            f"{auc[r]:.3f}" for r in rivals)))
    else:
        out.append(Check("AUC >= CSRT and > MIL, KCF", None, "needs the model, csrt, mil and kcf rows"))
    if keyframe_iou:
        worst = min((v, clip) for clip, ious in keyframe_iou.items() for v in ious)
        out.append(Check(f"keyframe IoU >= {MIN_KEYFRAME_IOU} at every keyframe", worst[0] >= MIN_KEYFRAME_IOU,
                         f"lowest {worst[0]:.2f} ({worst[1]})"))
    else:
        out.append(Check(f"keyframe IoU >= {MIN_KEYFRAME_IOU} at every keyframe", None, "real-video check not run"))
    ort = [r for r in ("droptrack_onnx_ort", "droptrack_onnx_fp32") if r in fps]   # FP32 in ONNX Runtime: the faster
    if ort and "opencv_csrt" in fps:
        best = max(ort, key=lambda r: fps[r])
        ratio = fps[best] / fps["opencv_csrt"]
        out.append(Check(f"ORT FPS >= {MIN_SPEEDUP}x CSRT", ratio >= MIN_SPEEDUP,
                         f"{fps[best]:.1f} vs {fps['opencv_csrt']:.1f} FPS = {ratio:.2f}x ({best})"))
    else:
        out.append(Check(f"ORT FPS >= {MIN_SPEEDUP}x CSRT", None,
                         "needs the onnx_ort or onnx_fp32 row and the csrt row"))
    ref = "droptrack_torch" if "droptrack_torch" in auc else "droptrack_onnx_fp32"
    if "droptrack_onnx_int8" in auc and ref in auc:
        delta = auc["droptrack_onnx_int8"] - auc[ref]
        note = " (a gain: the target bounds the loss)" if delta > MAX_INT8_DROP else ""
        out.append(Check("INT8 within 1 AUC point", delta >= -MAX_INT8_DROP - 1e-12,
                         f"{100 * delta:+.2f} points vs {ref}{note}"))
    else:
        out.append(Check("INT8 within 1 AUC point", None, "needs the onnx_int8 row and the model row"))
    return out


def shown(path: str | Path, work: Path) -> str:
    """A path as recorded: repo-relative, <workdir>/... or <data>/<folder name> (never this machine's layout)."""
    p = Path(path).resolve()
    for root, label in ((REPO, None), (work.resolve(), "<workdir>")):
        if p.is_relative_to(root):
            rel = p.relative_to(root).as_posix()
            return (label or ".") if rel == "." else (rel if label is None else f"{label}/{rel}")
    return f"<data>/{p.name}"


def dataset(spec: str, work: Path) -> tuple[Path, str]:
    """A set folder and the command that made it: an existing folder, or a SETS name generated under work."""
    from droptrack.data.synth import generate_synth, parse_size, synth_mismatch
    from droptrack.data.synth_hard import parse_attributes

    if spec not in SETS:
        folder = Path(spec)
        if not (folder / "list.txt").is_file():
            raise InputError(f"--data {spec}: no list.txt there; give a `dt data synth` folder or one of "
                             f"{', '.join(SETS)}")
        meta = folder / "synth.json"
        return folder, _command_of(json.loads(meta.read_text())) if meta.is_file() else "(unknown)"
    folder = work / spec
    a = dict(zip(*[iter(shlex.split(SETS[spec]))] * 2))
    params = (int(a["--sequences"]), int(a["--frames"]), int(a["--seed"]), parse_size(a["--size"]), a["--split"])
    extra = {"attributes": parse_attributes(a.get("--attributes", "none")), "difficulty": a.get("--difficulty", "hard")}
    if synth_mismatch(folder, *params, **extra) is not None:   # missing, half-made, another SETS entry or version
        print(f"$ dt data synth <workdir>/{spec} {SETS[spec]}", flush=True)
        generate_synth(folder, *params, progress=True, overwrite=True, **extra)
    return folder, f"dt data synth {spec} {SETS[spec]}"


def _command_of(meta: dict) -> str:
    """The `dt data synth` options recorded in a set's synth.json."""
    opts = [f"--split {meta['split']}", f"--size {meta['size'][0]}x{meta['size'][1]}"]
    if meta.get("attributes"):
        from droptrack.data.synth_hard import ATTRIBUTES

        opts.append("--attributes " + ("all" if tuple(meta["attributes"]) == ATTRIBUTES else ",".join(meta["attributes"])))
    if meta.get("difficulty"):
        opts.append(f"--difficulty {meta['difficulty']}")
    opts += [f"--sequences {meta['sequences']}", f"--frames {meta['frames']}", f"--seed {meta['seed']}"]
    return "dt data synth SET " + " ".join(opts)


def exports(model: str | None, work: Path) -> dict[str, Path]:
    """ONNX FP32 (model.onnx and model_ort.onnx) and ONNX Runtime INT8 of the model (`dt export --int8 --ort`), one
    folder per checkpoint sha256."""
    from droptrack.artifact import sha256_file
    from droptrack.model.default import default_checkpoint

    ckpt = Path(model) if model else default_checkpoint()
    out = work / f"export_{sha256_file(ckpt)[:12]}"
    if not (out / "model_int8_ort.onnx").is_file() or not (out / "model_ort.onnx").is_file():
        import subprocess

        print(f"$ dt export {shown(ckpt, work)} --int8 --ort -o {shown(out, work)}", flush=True)
        subprocess.run([sys.executable, "-m", "droptrack", "export", str(ckpt), "--int8", "--ort", "-o", str(out)],
                       check=True)
    return {"onnx_fp32": out / "model.onnx", "onnx_ort": out / "model_ort.onnx",
            "onnx_int8": out / "model_int8_ort.onnx"}


def row_specs(model: str | None, onnx: dict[str, Path]) -> dict[str, tuple[str | None, str | None]]:
    """Row -> (artifact, OpenCV baseline) as `evaluate()` takes them (the torch row names the embedded checkpoint's
    file: None would run its shipped ONNX Runtime graph)."""
    from droptrack.model.default import default_checkpoint

    return {"torch": (model or str(default_checkpoint()), None), "onnx_fp32": (str(onnx.get("onnx_fp32")), None),
            "onnx_ort": (str(onnx.get("onnx_ort")), None), "onnx_int8": (str(onnx.get("onnx_int8")), None),
            "csrt": (None, "csrt"), "mil": (None, "mil"),
            "kcf": (None, "kcf")}


def run_rows(rows: list[str], model: str | None, onnx: dict[str, Path], seqs: list, results: Path, threads: int,
             chunk: int = 4) -> tuple[dict[str, Path], dict[str, float]]:
    """`dt eval` of every row on the same sequences and threads, interleaved `chunk` sequences at a time (resumes);
    returns each row's result folder and median-frame FPS (1 / median tracker seconds over the tracked frames)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from droptrack.eval.run import evaluate

    spec = row_specs(model, onnx)
    last = {}
    steps = list(range(min(chunk, len(seqs)), len(seqs) + chunk, chunk))
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:   # the description names a --data folder: text, not markup
        task = bar.add_task(f"{printable(results.name)}: {len(rows)} rows x {len(seqs)} sequences",
                            total=len(steps) * len(rows))
        for k in steps:
            for row in rows:
                artifact, tracker = spec[row]
                last[ROWS[row]] = evaluate(artifact, seqs[:k], results, workers=1, threads=threads, tag="synth",
                                           name=ROWS[row], tracker=tracker, progress=False)
                bar.advance(task)
    fps = {n: 1.0 / float(np.median(np.concatenate([t[1:] for t in r.times.values()]))) for n, r in last.items()}
    return {n: r.output_dir for n, r in last.items()}, fps


def set_tables(label: str, command: str, report, fps: dict[str, float], tags: dict[str, list[str]],
               checks: list[Check]) -> str:
    """Markdown of one set: main table, pass/fail, per-attribute AUC of every row, per-sequence AUC."""
    names = [t.name for t in report.trackers]
    csrt = fps.get("opencv_csrt")
    lines = [f"## {label}", "", f"`{command}` ({report.n_sequences} sequences; plots in `{label}/`)", "",
             "| tracker | AUC | prec@20px | FPS (median frame) | x CSRT | FPS (all frames) |", "|---|---|---|---|---|---|"]
    for t in report.trackers:
        s = t.result.scores()
        ratio = f"{fps[t.name] / csrt:.2f}" if csrt else "-"
        lines.append(f"| {t.name} | {s['auc']:.3f} | {s['precision']:.3f} | {fps[t.name]:.1f} | {ratio} | "
                     f"{t.fps or float('nan'):.1f} |")
    lines += ["", "| issue 11 target | result | numbers |", "|---|---|---|"]
    lines += [f"| {c.target} | {_verdict(c.passed)} | {c.detail} |" for c in checks]
    ar = report.attributes
    if ar is not None and ar.scores:
        gap = "droptrack_torch" in names and "opencv_csrt" in names
        lines += ["", "| attribute | sequences | " + " | ".join(names) + (" | model - CSRT |" if gap else " |"),
                  "|---|---|" + "---|" * (len(names) + gap)]
        for a in sorted(ar.scores):
            v = ar.scores[a]
            cells = " | ".join(f"{v[n]['auc']:.3f}" for n in names)
            diff = f" | {v['droptrack_torch']['auc'] - v['opencv_csrt']['auc']:+.3f}" if gap else ""
            lines.append(f"| {a} | {ar.counts[a]} | {cells}{diff} |")
    elif ar is not None:
        lines += ["", ar.note]
    per = {t.name: t.result.per_sequence() for t in report.trackers}
    lines += ["", "| sequence | tags | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for seq in report.sequences:
        cells = " | ".join(f"{per[n][seq]['auc']:.3f}" for n in names)
        lines.append(f"| {seq} | {', '.join(tags.get(seq, [])) or '-'} | {cells} |")
    return "\n".join(lines) + "\n"


def _verdict(passed: bool | None) -> str:
    """PASS / MISSED / not measured."""
    return "not measured" if passed is None else ("PASS" if passed else "MISSED")


def main() -> None:
    """Parse the options, run every set and the real-video check, write the tables, print pass/fail."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    ap.add_argument("--tracker-keys", default=None, help="JSON TEST tracker-extension keys set on the model before "
                    "it runs, e.g. '{\"CROP_GRID\": 0.1}' (the checkpoint's own keys otherwise)")
    ap.add_argument("--data", action="append", default=None,
                    help=f"a `dt data synth --attributes` folder or one of {', '.join(SETS)}; repeatable "
                         "(default: issue11_test)")
    ap.add_argument("--trackers", default=",".join(ROWS), help=f"comma-separated rows of {', '.join(ROWS)}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=None, help="only the first N sequences of each set")
    ap.add_argument("--no-real", action="store_true", help="skip the real-video keyframe check")
    ap.add_argument("--workdir", default="/tmp/droptrack-classic-bench")
    ap.add_argument("--out", default="benchmarks/results/classic")
    args = ap.parse_args()
    rows = [r.strip() for r in args.trackers.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad or not rows:
        raise InputError(f"--trackers: unknown row {bad[0] if bad else '(none)'!r}; choose from {', '.join(ROWS)}")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import cv2

    from droptrack.artifact import sha256_file
    from droptrack.data import get_sequences
    from droptrack.eval.machine import benchmark_machine
    from droptrack.eval.report import analyze
    from droptrack.model.default import default_checkpoint
    from real_keyframes import real_table, real_video   # sibling module (the script's folder is on sys.path)

    cv2.setNumThreads(args.threads)
    work, out = Path(args.workdir), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.model) if args.model else default_checkpoint()
    if args.tracker_keys is not None:   # the same weights re-saved with these TEST keys, under --workdir
        from tracker_keys_option import tracker_keys, with_tracker_keys

        ckpt = with_tracker_keys(ckpt, tracker_keys(ap, args.tracker_keys), work)
        args.model = str(ckpt)
    sha = sha256_file(ckpt)
    sets = [dataset(spec, work) for spec in args.data or ["issue11_test"]]   # bad --data stops before any export
    onnx = exports(args.model, work) if {"onnx_fp32", "onnx_ort", "onnx_int8"} & set(rows) else {}
    real = None if args.no_real or "torch" not in rows else real_video(args.model, out, args.threads)
    keyframe_iou = {c: list(r["iou"]["droptrack"].values()) for c, r in real.items()} if real else None
    md = [f"# Issue 11 table: {shown(ckpt, work)} (sha256 {sha[:12]}) vs OpenCV, {args.threads} thread(s)", "",
          f"`python {shlex.join([shown(sys.argv[0], work), *_shown_args(sys.argv[1:], work)])}`", ""]
    summary = {"command": shlex.join(["python", shown(sys.argv[0], work), *_shown_args(sys.argv[1:], work)]),
               "model": shown(ckpt, work), "model_sha256": sha, "threads": args.threads,
               "machine": benchmark_machine(), "sets": {}, "real_video": real}
    for folder, command in sets:
        label = folder.name
        seqs = get_sequences("synth", root=folder)[: args.sequences]
        dirs, fps = run_rows(rows, args.model, onnx, seqs, work / f"results_{label}_{sha[:12]}", args.threads)
        report = analyze(list(dirs.values()), seqs, tag="synth", output_dir=out / label, dataset=label)
        _relative_report(out / label / "report.json", work)
        tags = {s.name: _tags(folder / s.name) for s in seqs}
        auc = {t.name: t.result.scores()["auc"] for t in report.trackers}
        checks = check_targets(auc, fps, keyframe_iou)
        md.append(set_tables(label, command, report, fps, tags, checks))
        summary["sets"][label] = {
            "data": shown(folder, work), "dataset_command": command, "sequences": [s.name for s in seqs],
            "trackers": {t.name: {"scores": t.result.scores(), "fps_median_frame": fps[t.name], "fps_all": t.fps}
                         for t in report.trackers},
            "targets": [asdict(c) for c in checks],
            "attributes": report.attributes.to_dict() if report.attributes is not None else None}
        print(md[-1], flush=True)
        _write(out, md, real, summary)  # after every set: a later set's interruption keeps the earlier tables
    if real:
        print(real_table(real))
    print(f"written: {shown(out, work)}/table.md, summary.json")


def _write(out: Path, md: list[str], real: dict | None, summary: dict) -> None:
    """table.md (the sets so far, then the real-video table) and summary.json, atomically."""
    from droptrack.artifact import atomic_write_json, atomic_write_text
    from real_keyframes import real_table

    atomic_write_text(out / "table.md", "\n".join(md + ([real_table(real)] if real else [])))
    atomic_write_json(out / "summary.json", summary)


def _shown_args(argv: list[str], work: Path) -> list[str]:
    """Command-line arguments with existing paths shown as `shown` records them."""
    return [shown(a, work) if os.sep in a and Path(a).exists() else a for a in argv]


def _tags(folder: Path) -> list[str]:
    """A sequence's attribute tags (attributes.txt), [] without the file."""
    f = folder / "attributes.txt"
    return f.read_text().split() if f.is_file() else []


def _relative_report(path: Path, work: Path) -> None:
    """Rewrite report.json's result folders as recorded paths."""
    from droptrack.artifact import atomic_write_json

    data = json.loads(path.read_text())
    for t in data.get("trackers", []):
        t["result_dir"] = shown(t["result_dir"], work)
    atomic_write_json(path, data)


if __name__ == "__main__":
    run_script(main)
