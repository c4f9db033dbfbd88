"""A missing artifact of `dt bench` is named as what it is, a positional ARTIFACT: the line said 'pass an existing
--checkpoint/--model file', options dt bench does not have."""

from __future__ import annotations

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
