"""An empty argument (`dt run "$VIDEO"` with VIDEO unset) is one error line naming it, exit 2: it reached the
commands as '.', so `dt run ''` tracked the image files of the current folder and `dt bench M --data ''` benched
them."""

from __future__ import annotations

import pytest

from droptrack.cli.app import empty_argument
from helpers import cli, drifting_clip, one_line_error


@pytest.mark.parametrize("args, names", [
    (["run", "", "--init", "30,22,26,20"], "argument 2 is empty"),
    (["run", "  ", "--init", "30,22,26,20"], "argument 2 is empty"),
    (["bench", "{ckpt}", "--data", "", "--init", "30,22,26,20"], "--data is given an empty value"),
    (["bench", "{ckpt}", "--data=", "--init", "30,22,26,20"], "--data is given an empty value"),
    (["run", "{clip}", "--init", "30,22,26,20", "-o", ""], "-o is given an empty value"),
    # after an option that takes no value, '' is the argument (`dt export --fp16 "$CKPT"`), not that option's value
    (["export", "--fp16", ""], "argument 3 is empty"),
    (["run", "--show", "", "--init", "30,22,26,20"], "argument 3 is empty"),
    (["bench", "--data=synthetic", ""], "argument 3 is empty"),
])
def test_empty_argument_is_refused_before_any_work(tiny_ckpt, tmp_path, monkeypatch, args, names):
    drifting_clip(tmp_path, 3)   # the current folder holds frames: '.' would be a source
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = cli(*(a.format(ckpt=tiny_ckpt, clip=tmp_path) for a in args))
    line = one_line_error(res)
    assert res.exit_code == 2 and names in line and "unset shell variable" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # nothing written


def test_ordinary_arguments_pass():
    args = ["run", "clip.mp4", "--init", "1,2,3,4", "--jsonl", "-", "--overwrite", "-o", "b.txt"]
    assert empty_argument(args) is None
    assert empty_argument(["bench", "m.onnx", "--data=synthetic"]) is None
