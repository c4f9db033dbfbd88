"""Paired ΔAUC per synthetic attribute between two `dt eval` runs of the same sets: for each attribute, the mean of
(candidate - reference) success AUC over the sequences whose attributes.txt names it; then the sequences that lose
most. Usage: python benchmarks/attribute_delta.py --set DATA,REFERENCE,CANDIDATE [--set ...]"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def seq_auc(result_dir: Path, seq) -> float:
    """Success AUC of one sequence's GOT-10k result file (OSTrack's OPE analysis, all frames)."""
    from droptrack.eval.metrics import ope_aggregate, ope_sequence

    pred = np.loadtxt(result_dir / "got10k_submit" / seq.name / f"{seq.name}_001.txt", delimiter=",", ndmin=2)
    return ope_aggregate([ope_sequence(pred, seq.boxes, "got10k", seq.visible, seq.name)], "got10k").auc


def main() -> None:
    from droptrack.data.registry import get_sequences

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", required=True, help="DATA,REFERENCE,CANDIDATE (repeatable)")
    rows = []
    for spec in ap.parse_args().set:
        data, ref, cand = (Path(p) for p in spec.split(","))
        for seq in get_sequences("synth", data):
            tags = (data / seq.name / "attributes.txt").read_text().split()
            rows.append((data.name, seq.name, 100 * (seq_auc(cand, seq) - seq_auc(ref, seq)), tags))
    print(f"{len(rows)} sequences, mean ΔAUC {np.mean([r[2] for r in rows]):+.2f} points\n")
    print("| attribute | sequences | ΔAUC |\n|---|---|---|")
    for tag in sorted({t for r in rows for t in r[3]}):
        d = [r[2] for r in rows if tag in r[3]]
        print(f"| {tag} | {len(d)} | {np.mean(d):+.2f} |")
    print("\n| set | sequence | ΔAUC | attributes |\n|---|---|---|---|")
    for s, name, d, tags in sorted(rows, key=lambda r: r[2])[:8]:
        print(f"| {s} | {name} | {d:+.1f} | {', '.join(tags)} |")


if __name__ == "__main__":
    main()
