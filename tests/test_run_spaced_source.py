"""`dt run " clip.avi"` (a name pasted with a space) was stripped to clip.avi without a word, while a file whose name
really starts with a space was stripped to a name that does not exist and refused as 'not found'. The name is taken as
typed now: a spaced name that is no file says so, and names the file without the spaces where there is one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import cli, one_line_error, square_avi

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


@pytest.fixture
def clip(tmp_path) -> Path:
    return square_avi(tmp_path / "clip.avi", 3)


@pytest.mark.parametrize("typed", [" {}", "{} ", "  {}  "])
def test_a_spaced_name_names_the_file_without_the_spaces(clip, typed, tmp_path):
    name = typed.format(clip)
    line = one_line_error(cli("run", name, "--init", "10,10,20,20", "-o", tmp_path / "b.txt"))
    assert line == (f"error: source '{name}' not found: its name has leading/trailing "
                    f"whitespace; '{clip}' exists, pass that name")
    assert not (tmp_path / "b.txt").exists()


def test_a_spaced_name_with_no_file_either(tmp_path):
    name = f"{tmp_path / 'nope.avi'} "
    line = one_line_error(cli("run", name, "--init", "10,10,20,20"))
    assert line == (f"error: source '{name}' not found: its name has leading/trailing whitespace; "
                    f"no '{tmp_path / 'nope.avi'}' either: check the name")


def test_a_file_whose_name_really_has_a_space_is_tracked(clip, tiny_ckpt, tmp_path):
    spaced = tmp_path / "spaced.avi "   # the space ends the name as typed
    shutil.move(clip, spaced)
    out = tmp_path / "f.jsonl"
    r = cli("run", spaced, "-m", tiny_ckpt, "--init", "10,10,20,20", "--jsonl", out)
    assert r.exit_code == 0, r.output
    assert [json.loads(ln)["frame"] for ln in out.read_text().splitlines()] == [0, 1, 2]
