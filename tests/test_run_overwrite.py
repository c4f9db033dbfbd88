"""`dt run` never replaces an output file that holds data (an earlier run's boxes, JSON lines or video) unless
--overwrite is given; the refusal comes before the model is read or a frame decoded."""

from __future__ import annotations

import pytest
from helpers import cli, one_line_error

from droptrack.data.media import bundled_video

VIDEO = bundled_video("carphone_pristine.mp4")
ARGS = ["--device", "cpu", "--init", "60,40,40,50"]


@pytest.mark.parametrize("option,name", [("--output", "boxes.txt"), ("--jsonl", "frames.jsonl"),
                                         ("--save", "video.mp4")])
def test_an_output_that_holds_data_is_refused_before_the_model_is_read(tmp_path, option, name):
    broken = tmp_path / "broken.pt"   # loading it would be a 'corrupt checkpoint' error: it is never read
    broken.write_bytes(b"not a checkpoint")
    out = tmp_path / name
    out.write_bytes(b"an earlier run's results\n")
    line = one_line_error(cli("run", VIDEO, "-m", broken, *ARGS, option, out))
    assert f"{option} '{out}' already exists" in line and "--overwrite" in line
    assert out.read_bytes() == b"an earlier run's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["broken.pt", name])   # no .part was made


def test_a_second_run_is_refused_and_overwrite_replaces_the_finished_outputs(tiny_ckpt, tmp_path):
    boxes, jsonl = tmp_path / "boxes.txt", tmp_path / "frames.jsonl"
    r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 3, "--output", boxes, "--jsonl", jsonl)
    assert r.exit_code == 0, r.output
    first = boxes.read_text()
    assert len(first.splitlines()) == 3 and len(jsonl.read_text().splitlines()) == 3
    line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 5, "--output", boxes))
    assert f"--output '{boxes}'" in line and "--overwrite" in line
    assert boxes.read_text() == first
    line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 5, "--jsonl", jsonl))
    assert f"--jsonl '{jsonl}'" in line
    r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 5, "--output", boxes, "--jsonl", jsonl,
            "--overwrite")
    assert r.exit_code == 0, r.output
    assert len(boxes.read_text().splitlines()) == 5 and len(jsonl.read_text().splitlines()) == 5
    assert boxes.read_text().splitlines()[:3] == first.splitlines()   # same tracker, same first frames


def test_empty_files_and_dev_null_are_not_results(tiny_ckpt, tmp_path):
    empty = tmp_path / "boxes.txt"   # e.g. made by mktemp: nothing in it to lose
    empty.touch()
    r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 2, "--output", empty, "--jsonl", "/dev/null")
    assert r.exit_code == 0, r.output
    assert len(empty.read_text().splitlines()) == 2
