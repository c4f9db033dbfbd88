"""Paired ΔAUC per synthetic attribute between two trackers' boxes on the same sets (pooled_delta_auc.py's inputs and
per-sequence scores): for each attribute, the mean of (candidate - reference) success AUC over the sequences whose
attributes.txt names it; then the sequences that lose most.

    python benchmarks/attribute_delta.py --set DATA,REFERENCE,CANDIDATE [--set ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pooled_delta_auc import parse, set_scores  # noqa: E402


def main() -> None:
    from droptrack.data import get_sequences

    rows = []
    for data, ref, cand in parse().sets:
        a, b, _, _ = set_scores(data, ref, cand)
        for q, ra, rb in zip(get_sequences("synth", data), a, b):   # set_scores' order
            rows.append((data.name, q.name, 100 * (rb - ra), (data / q.name / "attributes.txt").read_text().split()))
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
