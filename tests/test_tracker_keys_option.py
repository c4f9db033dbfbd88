"""benchmarks' --tracker-keys: the same weights re-saved with the given TEST keys (read back from the file, reused
so caches keyed on its hash resume), and bad values refused with one line (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from droptrack.artifact import sha256_file
from droptrack.model.checkpoint import read_meta
from droptrack.model.default import default_checkpoint
from helpers import benchmark_module

ROOT = Path(__file__).resolve().parents[1]


def test_keys_are_written_and_weights_kept(tmp_path):
    pt = benchmark_module("precision_targets")
    src = default_checkpoint()
    out = pt.with_tracker_keys(src, {"CROP_GRID": 0.1}, tmp_path)
    assert read_meta(out).tracker == {**read_meta(src).tracker, "CROP_GRID": 0.1}
    a = torch.load(src, map_location="cpu", weights_only=True)["net"]
    b = torch.load(out, map_location="cpu", weights_only=True)["net"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    digest = sha256_file(out)
    assert pt.with_tracker_keys(src, {"CROP_GRID": 0.1}, tmp_path) == out and sha256_file(out) == digest
    assert pt.with_tracker_keys(src, {"CROP_GRID": 0.05}, tmp_path) != out


def test_bad_keys_are_one_line_errors():
    for script in ("precision_targets.py", "bench_classic.py"):
        for value in ('{"CROP_GRID": 2}', "[1]"):
            r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--tracker-keys", value],
                               capture_output=True, text=True, timeout=120)
            lines = [line for line in r.stderr.splitlines() if "error" in line]
            assert r.returncode == 2 and len(lines) == 1 and "--tracker-keys" in lines[0], (script, value, r.stderr)


def test_box_and_search_caches_name_their_set_and_limit(tmp_path):
    """A cached result is reused only for the same set and search: another validation size, held-out seed or
    search limit must not read the boxes or the searched graph of an earlier run (they were named 'val' before)."""
    pt = benchmark_module("precision_targets")

    def names(*argv):
        run = pt.Run(pt.parse(["--work", str(tmp_path), *argv]))
        return run.val_tag, run.test_tag, run.by

    base = names()
    assert names() == base                                            # same run, same names: it resumes
    assert names("--val-sequences", "80")[0] != base[0] and names("--val-sequences", "80")[2] != base[2]
    assert names("--seed", "3")[1] != base[1]
    assert names("--max-divergence", "0.015")[2] != base[2]
    assert len({names("--group-by", "layer")[2], names("--group-by", "layer", "--max-divergence", "0.015")[2],
                base[2]}) == 3


def test_atomic_savez_keeps_the_name_and_never_leaves_half_a_file(tmp_path):
    import numpy as np

    from droptrack.artifact import atomic_savez

    path = tmp_path / "boxes_fp32_val40x40.npz"
    atomic_savez(path, {"a": np.arange(3.0)})
    assert np.array_equal(np.load(path)["a"], np.arange(3.0)) and sorted(p.name for p in tmp_path.iterdir()) == [
        path.name]
    class Broken:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):                                 # fails after the first array was written
        atomic_savez(path, {"a": np.arange(2.0), "b": Broken()})
    assert np.array_equal(np.load(path)["a"], np.arange(3.0)) and len(list(tmp_path.iterdir())) == 1
