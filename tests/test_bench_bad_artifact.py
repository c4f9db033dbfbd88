"""A missing artifact of `dt bench` is named as what it is, a positional ARTIFACT: the line said 'pass an existing
--checkpoint/--model file', options dt bench does not have."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


def test_a_missing_artifact_names_no_option_dt_bench_lacks(tmp_path):
    line = one_line_error(cli("bench", tmp_path / "nope.onnx", "-o", tmp_path / "out"))
    assert line == (f"error: artifact '{tmp_path / 'nope.onnx'}' not found; pass existing checkpoint, .onnx or .engine "
                    "files")
    assert not (tmp_path / "out").exists()


def test_a_bad_init_is_refused_before_any_model_loads(tiny_ckpt, tmp_path):
    """--init 1,2,3 (and --init on the synthetic set, whose sequences have their boxes) were refused only after
    every artifact had been loaded and probed, the output folder made."""
    out = tmp_path / "out"
    assert one_line_error(cli("bench", tiny_ckpt, "--init", "1,2,3", "-o", out)) == (
        "error: --init '1,2,3' has 3 numbers, not 4; pass --init x,y,w,h")
    assert one_line_error(cli("bench", tiny_ckpt, "--init", "1,2,3,4", "-o", out)) == (
        "error: --data synthetic has its own first-frame boxes; drop --init (it is only for a video or folder "
        "without ground truth)")
    assert not out.exists()


def test_a_checkpoint_cut_short_is_bad_input_before_any_work(tiny_ckpt, tmp_path):
    """A cut-short download was a failed row: the data made, bench.md written, exit 1 (a zero-byte one: exit 2)."""
    cut = tmp_path / "cut.pt"
    data = tiny_ckpt.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    out = tmp_path / "out"
    line = one_line_error(cli("bench", tiny_ckpt, cut, "--sequences", "1", "--frames", "3", "-o", out))
    assert f"checkpoint '{cut}' is cut short" in line and "download it again" in line, line
    assert not (out / "bench.json").exists()


@pytest.mark.parametrize("box, words", [("5000,5000,60,60", "lies outside the"), ("10,10,1000,1000", "more than 2x")])
def test_an_init_box_off_the_video_is_bad_input_before_any_work(tiny_ckpt, tmp_path, box, words):
    """--init outside a video's frame was a failed row after the reference ran (exit 1), whose advice was to fix
    the sequence's annotation file; dt run refuses it in one line."""
    from helpers import square_avi

    clip = square_avi(tmp_path / "clip.avi", 6)
    out = tmp_path / "out"
    line = one_line_error(cli("bench", tiny_ckpt, "--data", clip, "--init", box, "--threads", "1", "-o", out))
    assert line.startswith(f"error: --init {box}: init box") and words in line, line
    assert not (out / "bench.json").exists()
