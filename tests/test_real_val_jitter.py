"""benchmarks/real_val_jitter.py: the jittered starts (the labelled box first, the others within the stated bounds,
the same for every run of a seed), the paired-difference table on hand-made IoUs, and bad arguments refused in one
line (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import benchmark_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "real_val_jitter.py"


@pytest.fixture(scope="module")
def jit():
    return benchmark_module("real_val_jitter")


def test_starts_begin_with_the_labelled_box_and_stay_within_the_bounds(jit):
    box = [100.0, 50.0, 40.0, 80.0]
    s = jit.starts(box, 50, seed=7)
    assert len(s) == 50 and s[0] == box
    a = np.asarray(s[1:])
    assert np.all(np.abs(a[:, 0] - 100) <= 0.03 * 40 + 1e-9) and np.all(np.abs(a[:, 1] - 50) <= 0.03 * 80 + 1e-9)
    assert np.all(np.abs(a[:, 2] / 40 - 1) <= 0.05 + 1e-9) and np.all(np.abs(a[:, 3] / 80 - 1) <= 0.05 + 1e-9)
    assert len({tuple(r) for r in s}) == 50                      # all different
    assert jit.starts(box, 50, seed=7) == s and jit.starts(box, 50, seed=8) != s
    assert jit.starts(box, 1, seed=7) == [box]


def test_table_pairs_each_start_with_the_first_setting(jit):
    # one set, one clip, two starts, two keyframes each: means 0.5 and 0.7 (first), 0.6 and 0.6 (second)
    rows = [{"label": "a", "ious": {"v": {"c": [[0.4, 0.6], [0.7, 0.7]]}}},
            {"label": "b", "ious": {"v": {"c": [[0.6, 0.6], [0.5, 0.7]]}}}]
    text = jit.table(rows, ["v"], ["# t"])
    # p10 of 0.4, 0.6, 0.7, 0.7 (linear): 0.3 of the way from 0.4 to 0.6 = 0.46
    assert "| a | 0.600 / 0.46 / 0.40 | 0.600 / 0.46 / 0.40 |" in text
    assert "| b | +0.000 (1 / 1) | +0.000 (1 / 1) |" in text                 # +0.1 and -0.1


@pytest.mark.parametrize("args, words", [
    (["--real", "nope.json", "--eval", "{}", "--out", "o"], "no such keyframe file"),
    (["--real", "benchmarks/data/real_video_val3_keyframes.json", "--eval", "{\"X\": 1}", "--out", "o"],
     "unknown tracker extension"),
    (["--real", "benchmarks/data/real_video_val3_keyframes.json", "--eval", "{}", "--inits", "0", "--out", "o"],
     "at least 1"),
    (["--real", "benchmarks/data/real_video_val3_keyframes.json", "--eval", "{}", "--model", "nope.pt", "--out", "o"],
     "--model nope.pt: no such checkpoint"),
])
def test_bad_arguments_are_one_line_errors(args, words, tmp_path):
    args = [str(tmp_path / "o") if a == "o" else a for a in args]
    r = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()   # refused before any folder is made


def test_a_clip_of_a_debian_package_that_is_missing_names_the_package(tmp_path):
    """A keyframe clip from a Debian package (the fresh validation clip's kind) that is not installed: one line
    naming the package to install, not a traceback."""
    import json

    clip = {"name": "x", "source": "debian", "package": "some-package", "file": str(tmp_path / "none.mp4"),
            "size": [64, 48], "shot": [0, 4], "rule": "-", "keyframes": {"0": [1, 1, 9, 9], "4": [2, 2, 9, 9]}}
    (tmp_path / "k.json").write_text(json.dumps({"about": "-", "clips": [clip]}))
    from droptrack.errors import InputError

    with pytest.raises(InputError, match="apt-get install some-package"):
        benchmark_module("real_keyframes").clip_frames(clip)
