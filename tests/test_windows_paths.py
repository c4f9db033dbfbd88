"""An output path written with Windows' '\\' (`-o C:\\out\\boxes.txt`, `-o out\\export`) is refused in one line
giving the '/' form: where '/' separates folders, '\\' is a letter of a name, so dt made a file or folder named
'C:\\out\\boxes.txt' in the current folder."""

from __future__ import annotations

import os

import pytest

from droptrack.errors import InputError
from droptrack.paths import check_separators
from helpers import cli, drifting_clip, one_line_error

pytestmark = pytest.mark.skipif(os.sep != "/", reason="'\\' separates folders here")


@pytest.mark.parametrize("args, fix", [
    (["run", "{clip}", "--init", "30,22,26,20", "-o", "C:\\out\\boxes.txt"], "'/mnt/c/out/boxes.txt'"),
    (["export", "-o", "out\\export"], "'out/export'"),
    (["bench", "--tracker", "mil", "-o", "res\\bench"], "'res/bench'"),
    (["data", "synth", "sets\\val"], "'sets/val'"),
    (["train", "-c", "tiny_ce_test", "-o", "runs\\mine", "--data", "{clip}"], "'runs/mine'"),
])
def test_a_windows_output_path_is_refused_before_any_work(tmp_path, monkeypatch, args, fix):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    line = one_line_error(cli(*(a.format(clip=clip) for a in args)))
    assert "'\\'" in line and line.endswith(f"pass e.g. {fix}"), line
    assert list(work.iterdir()) == []


def test_an_existing_name_with_a_backslash_is_the_users(tmp_path):
    (tmp_path / "a\\b").mkdir()
    check_separators("--output", tmp_path / "a\\b")
    with pytest.raises(InputError):
        check_separators("--output", tmp_path / "a\\c")
    check_separators("--output", tmp_path / "a" / "c")


def test_a_new_file_in_an_existing_folder_with_a_backslash_is_the_users(tmp_path):
    """Only the part below the nearest existing folder can be a Windows path: `-o 'runs\\v2/boxes.txt'` into an
    existing folder named 'runs\\v2' was refused, its fix naming another folder ('runs/v2/boxes.txt')."""
    from droptrack.paths import check_output_dir, check_output_file, windows_form

    (tmp_path / "a\\b").mkdir()
    check_output_file("--output", tmp_path / "a\\b" / "boxes.txt")
    check_output_dir("--output", tmp_path / "a\\b" / "new")
    assert windows_form(tmp_path / "a\\b" / "c\\d.txt") == f"{tmp_path}/a\\b/c/d.txt"
    assert windows_form(f"{tmp_path}/x\\y/z.txt") == f"{tmp_path}/x/y/z.txt"
