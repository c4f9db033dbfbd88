"""Pool several held-out sets into one paired ΔAUC interval and diverged-frame rate (issue 13's INT8 criterion).

    python benchmarks/pooled_delta_auc.py --set DATA,REFERENCE,CANDIDATE [--set ...]

A 40-sequence set gives a ΔAUC interval about +-0.5 point wide, so one set can miss "the interval includes 0" by
a few hundredths while the next passes. Each --set is a synthetic set folder (DATA: its ground truth) and two
trackers' boxes on it, each either a `dt bench` row's results folder (it holds got10k_submit/) or a .npz of boxes
per sequence (benchmarks/precision_targets.py's cache). Per sequence: OPE success AUC of both; the paired
percentile bootstrap (droptrack.eval.bench_gates, as `dt bench`) over all sequences of all sets; and the share of
frames (first frame excluded) where the candidate's box has IoU < 0.5 with the reference's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.errors import run_script  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", required=True, help="DATA,REFERENCE,CANDIDATE (repeatable)")
    a = ap.parse_args(argv)
    a.sets = []
    for spec in a.set:
        parts = [Path(p) for p in spec.split(",")]
        if len(parts) != 3 or not all(p.exists() for p in parts):
            ap.error(f"--set {spec}: give three existing paths, DATA,REFERENCE,CANDIDATE")
        a.sets.append(parts)
    return a


def boxes_of(source: Path):
    """name -> (N, 4) boxes from a dt bench row folder or a .npz."""
    if source.suffix == ".npz":
        z = np.load(source, allow_pickle=False)
        return lambda name: z[name]
    return lambda name: np.loadtxt(source / "got10k_submit" / name / f"{name}_001.txt", delimiter=",", ndmin=2)


def set_scores(data: Path, ref: Path, cand: Path) -> tuple[list[float], list[float], int, int]:
    """Per-sequence AUC (fraction) of reference and candidate, and diverged / compared frames."""
    from droptrack.data import get_sequences
    from droptrack.eval.metrics import iou_pixel, ope_aggregate, ope_sequence

    fa, fb = boxes_of(ref), boxes_of(cand)
    a, b, diverged, frames = [], [], 0, 0
    for q in get_sequences("synth", data):
        pa, pb = fa(q.name), fb(q.name)
        for pred, out in ((pa, a), (pb, b)):
            out.append(float(ope_aggregate([ope_sequence(pred, q.boxes, tag="synth", name=q.name)], "synth")
                             .scores()["auc"]))
        diverged += int((iou_pixel(pb[1:], pa[1:]) < 0.5).sum())
        frames += len(pa) - 1
    return a, b, diverged, frames


def main(argv: list[str] | None = None) -> dict:
    from droptrack.eval.bench_gates import paired_bootstrap_ci

    a = parse(argv)
    ref, cand, div, frames, rows = [], [], 0, 0, []
    for data, r, c in a.sets:
        sa, sb, d, f = set_scores(data, r, c)
        ci = paired_bootstrap_ci(np.array(sb) * 100, np.array(sa) * 100)
        rows.append(f"| {data.name} | {len(sa)} | {100 * d / f:.1f} % | {ci.delta:+.2f} [{ci.low:+.2f}, {ci.high:+.2f}] |")
        ref, cand, div, frames = ref + sa, cand + sb, div + d, frames + f
    ci = paired_bootstrap_ci(np.array(cand) * 100, np.array(ref) * 100)
    rows.append(f"| pooled | {len(ref)} | {100 * div / frames:.1f} % | {ci.delta:+.2f} [{ci.low:+.2f}, {ci.high:+.2f}] |")
    print("| set | sequences | diverged (IoU < 0.5 vs reference) | ΔAUC points [95 % CI] |\n|---|---|---|---|")
    print("\n".join(rows))
    return {"delta": ci.delta, "low": ci.low, "high": ci.high, "divergence": div / frames, "sequences": len(ref)}


if __name__ == "__main__":
    run_script(main)
