"""Merge `dt data synth` shards into one training set of links, with the completeness marker the reader needs.

Usage: python benchmarks/merge_synth_shards.py OUT SHARD [SHARD ...] [--only SHARD=TAG ...]

OUT/<shard>_<sequence> links to each sequence of each shard's list.txt (`--only`: of that shard, only the sequences
tagged TAG in their attributes.txt), OUT/list.txt names them, and OUT/synth.json records the shards' own markers (the
reader refuses a synthetic folder without one). Used by gpu_train.sh, cpu_train_v13.sh and cpu_train_v14.sh.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from droptrack.errors import InputError, run_script


def tagged(seq: Path, tag: str) -> bool:
    """Whether `tag` is one of the sequence's attribute tags (one per line)."""
    path = seq / "attributes.txt"
    return path.is_file() and tag in path.read_text().split()


def merge(out: Path, shards: list[Path], only: dict[str, str]) -> int:
    """Write the merged set (see the module docstring); returns its sequence count."""
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; remove it first")
    missing = [s for s in shards if not (s / "list.txt").is_file()]
    if missing:
        raise InputError(f"shard {missing[0]} has no list.txt (its generation did not finish)")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for shard in shards:
        for seq in shard.joinpath("list.txt").read_text().split():
            if shard.name in only and not tagged(shard / seq, only[shard.name]):
                continue
            name = f"{shard.name}_{seq}"
            (out / name).symlink_to((shard / seq).resolve())
            names.append(name)
    (out / "list.txt").write_text("".join(n + "\n" for n in names))
    marker = {"split": "train", "merged_from": {s.name: json.loads((s / "synth.json").read_text())
                                                for s in shards if (s / "synth.json").is_file()}}
    if only:
        marker["kept"] = {shard: f"only the sequences tagged {tag}" for shard, tag in only.items()}
    (out / "synth.json").write_text(json.dumps(marker, indent=1))
    return len(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("shards", type=Path, nargs="*")
    ap.add_argument("--only", action="append", default=[], metavar="SHARD=TAG")
    a = ap.parse_args()
    only = dict(spec.split("=", 1) for spec in a.only if "=" in spec)
    if len(only) != len(a.only):
        ap.error("--only takes SHARD=TAG, e.g. --only hardB=silhouette")
    print(f"merged {merge(a.out, a.shards, only)} sequences into {a.out}")


if __name__ == "__main__":
    run_script(main)
