"""An output option given a folder is refused with an example file path inside it; pasted back, that example runs
(for --save it needs a container, `DIR/out` was refused as one without)."""

from __future__ import annotations

import re

import pytest

from helpers import cli, drifting_clip, one_line_error

INIT = "30,22,26,20"


@pytest.mark.parametrize("option", ["--save", "--jsonl", "-o"])
def test_folder_hint_is_a_path_that_works(tiny_ckpt, tmp_path, option):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 4)
    folder = tmp_path / "outdir"
    folder.mkdir()
    base = ["run", clip, "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "--init", INIT]
    line = one_line_error(cli(*base, option, folder))
    example = re.search(r"e\.g\. '([^']+)'", line).group(1)
    assert example.startswith(str(folder) + "/")
    res = cli(*base, option, example)
    assert res.exit_code == 0, res.output
    assert (folder / example.rsplit("/", 1)[1]).stat().st_size > 0


def test_several_targets_with_a_folder_as_output_are_refused(tiny_ckpt, tmp_path):
    """With two targets, `-o outdir` wrote 'outdir_0' and 'outdir_1' beside the folder (one target: refused)."""
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 4)
    (tmp_path / "outdir").mkdir()
    line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "--init", INIT,
                              "--init", "10,10,20,20", "-o", tmp_path / "outdir"))
    assert "is a folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip", "outdir"]
