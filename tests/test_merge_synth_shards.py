"""benchmarks/merge_synth_shards.py: the training set that gpu_train.sh and cpu_train_v13/v14.sh merge from shards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "merge_synth_shards.py"


def shard(root: Path, name: str, tags: dict[str, str]) -> Path:
    d = root / name
    for seq, tag in tags.items():
        (d / seq).mkdir(parents=True)
        (d / seq / "attributes.txt").write_text(tag + "\n" if tag else "")
    (d / "list.txt").write_text("".join(s + "\n" for s in tags))
    (d / "synth.json").write_text(json.dumps({"seed": len(name)}))
    return d


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_links_list_marker_and_the_tag_filter(tmp_path):
    a = shard(tmp_path, "plain", {"s1": "", "s2": ""})
    b = shard(tmp_path, "hardB", {"s1": "silhouette", "s2": "noise", "s3": "low_light\nsilhouette"})
    out = tmp_path / "merged"
    res = run(str(out), str(a), str(b), "--only", "hardB=silhouette")
    assert res.returncode == 0, res.stderr
    assert (out / "list.txt").read_text().split() == ["plain_s1", "plain_s2", "hardB_s1", "hardB_s3"]
    assert (out / "hardB_s3").resolve() == (b / "s3").resolve()
    marker = json.loads((out / "synth.json").read_text())
    assert marker["split"] == "train" and marker["merged_from"] == {"plain": {"seed": 5}, "hardB": {"seed": 5}}
    assert marker["kept"] == {"hardB": "only the sequences tagged silhouette"}


def test_an_unfinished_shard_or_a_used_output_is_refused(tmp_path):
    a = shard(tmp_path, "plain", {"s1": ""})
    (a / "list.txt").unlink()
    res = run(str(tmp_path / "m"), str(a))
    assert res.returncode == 2 and "has no list.txt" in res.stderr and "Traceback" not in res.stderr
    b = shard(tmp_path, "hard", {"s1": ""})
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    res = run(str(tmp_path / "used"), str(b))
    assert res.returncode == 2 and "not empty" in res.stderr
