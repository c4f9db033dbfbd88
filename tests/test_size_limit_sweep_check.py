"""benchmarks/size_limit_sweep.py's checks: a file cut short (a PNG without IEND, JSON or a line cut mid-way) is named,
a whole one is not; a limited run keeps the promise only with exit 2 and the one 'no room left' line last, no
traceback, or when it fitted (exit 0) with whole files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("size_limit_sweep", ROOT / "benchmarks" / "size_limit_sweep.py")
    mod = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "size_limit_sweep", mod)
        spec.loader.exec_module(mod)
    return mod


def test_whole_files_pass_and_the_same_cut_short_do_not(sweep, tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    files = {"a.png": cv2.imencode(".png", image)[1].tobytes(), "a.jpg": cv2.imencode(".jpg", image)[1].tobytes(),
             "r.json": json.dumps({"auc": 0.5}).encode(), "b.jsonl": b'{"frame": 0}\n{"frame": 1}\n',
             "b.txt": b"1,2,3,4\n5,6,7,8\n"}
    for name, data in files.items():
        assert sweep.incomplete(name, data) is None, name
        assert sweep.incomplete(name, data[:-3]) is not None, name
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert sweep.check_tree(tmp_path) == []
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(files["a.png"][:40])
    assert sweep.check_tree(tmp_path) == ["sub/c.png: PNG without its IEND chunk"]


def test_only_the_one_no_room_line_with_exit_2_or_a_run_that_fitted_keeps_the_promise(sweep):
    line = "error: no room left writing 'o/a.png' (File too large): free space ..."
    assert sweep.verdict(2, f"tracking 3/5\n{line}\n", []) is None
    assert sweep.verdict(0, "", []) is None
    note = "note: no success plot: no room left writing 'o/success.png' ...\n"
    assert sweep.verdict(0, note, []) is None   # every file written, each whole: the run fitted
    assert sweep.verdict(0, note, [], ["precision.png"]) is not None   # a full disk that ended as a note, exit 0
    assert sweep.verdict(0, "", ["a.png: PNG without its IEND chunk"]) is not None
    assert sweep.verdict(1, f"{line}\n", []) is not None
    assert sweep.verdict(2, f"Traceback (most recent call last):\n{line}\n", []) is not None
    assert sweep.verdict(2, "error: something else\n", []) is not None
    assert sweep.verdict(2, f"{line}\n", ["b.txt: a line cut short"]) is not None
