"""`dt run SOURCE --init ...` with no --output, --jsonl, --save or --show tracked the whole source and kept nothing,
without a word; a line now says so where the files would be named."""

from __future__ import annotations

import pytest

from helpers import cli, drifting_clip

pytest.importorskip("cv2")

NOTE = "boxes: not kept (no --output, --jsonl or --save); pass -o boxes.txt to keep them"


def test_a_run_that_keeps_nothing_says_so(tmp_path, tiny_ckpt):
    frames = drifting_clip(tmp_path, 3)
    r = cli("run", frames, "-m", tiny_ckpt, "--device", "cpu", "--init", "30,22,26,20")
    assert r.exit_code == 0, r.output
    assert NOTE in r.output


def test_a_run_with_an_output_has_no_such_note(tmp_path, tiny_ckpt):
    frames = tmp_path / "frames"
    frames.mkdir()
    drifting_clip(frames, 3)
    r = cli("run", frames, "-m", tiny_ckpt, "--device", "cpu", "--init", "30,22,26,20", "-o", tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    assert NOTE not in r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 3
