"""dt run / dt serve over an image folder: no output may be written inside that folder (beside or below its
frames), refused in one line before the model is loaded; outputs beside the folder still run."""

from __future__ import annotations

import os

import pytest

from helpers import cli, drifting_clip, one_line_error, text

INIT = "30,22,26,20"


@pytest.fixture
def clip(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    drifting_clip(folder, 3)
    text(folder / "groundtruth.txt", "30,22,26,20\n30,22,26,20\n30,22,26,20\n")
    return folder


@pytest.mark.parametrize("option,name", [("-o", "boxes.txt"), ("--jsonl", "sub/r.jsonl"),
                                         ("--save", "out.mp4")])
def test_an_output_inside_the_frame_folder_is_refused(tiny_ckpt, clip, option, name):
    """Only a file the folder already held was refused (as an input); a new output was written among the frames,
    with its .part, lock and resume journal (a later run, or dt eval reading the folder as a sequence, finds them
    there). Now any path inside the folder is refused, also through a link to it, with or without --overwrite."""
    before = sorted(os.listdir(clip))
    gt = (clip / "groundtruth.txt").read_bytes()
    label = {"-o": "--output"}.get(option, option)
    for folder in (clip, clip.parent / "link"):
        if folder.name == "link":
            folder.symlink_to(clip, target_is_directory=True)
        line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--init", INIT, option, folder / name,
                                  "--overwrite"))
        assert f"{label} '{folder / name}' is inside the input frame folder '{clip}'" in line, line
    assert sorted(os.listdir(clip)) == before and (clip / "groundtruth.txt").read_bytes() == gt


def test_dt_serve_refuses_an_output_inside_the_frame_folder_too(tiny_ckpt, clip):
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    line = one_line_error(cli("serve", clip, "-m", tiny_ckpt, "--port", 0, "-o", clip / "boxes.txt"))
    assert "is inside the input frame folder" in line, line


def test_outputs_beside_the_frame_folder_run(tiny_ckpt, clip):
    out = clip.parent / "boxes.txt"
    r = cli("run", clip, "-m", tiny_ckpt, "--init", INIT, "-o", out)
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 3
