"""Counts far beyond any use are one line, exit 2, before any work: `dt data synth --sequences 1e20` built a list of
names until memory ran out (a MemoryError traceback), and `dt export --val-sequences 1e20` did so after the FP32
export."""

from __future__ import annotations

from pathlib import Path

from helpers import cli, one_line_error

HUGE = "99999999999999999999"


def test_synth_sequences_beyond_the_names_digits(tmp_path: Path):
    line = one_line_error(cli("data", "synth", tmp_path / "o", "--sequences", HUGE, "--frames", "3", "--split", "val"))
    assert f"--sequences {HUGE} is more than 99999" in line, line
    assert not (tmp_path / "o").exists()


def test_export_val_sequences_beyond_a_synthetic_sets_names(tmp_path: Path):
    out = tmp_path / "exp"
    line = one_line_error(cli("export", "-o", out, "--int8", "--int8-target", "ort", "--calib-pairs", "8",
                              "--auto-precision", "--val-frames", "3", "--val-sequences", HUGE))
    assert f"--val-sequences {HUGE} is more than 99999" in line, line
    assert not out.exists()


def test_engine_options_without_engine_are_refused(tmp_path: Path):
    # --workspace 0.5 without --engine exited 0 and did nothing, where every INT8-only option without --int8 is refused
    out = tmp_path / "exp"
    line = one_line_error(cli("export", "-o", out, "--workspace", "0.5"))
    assert "--workspace sets the TensorRT engine build; add --engine or drop it" in line, line
    line = one_line_error(cli("export", "-o", out, "--workspace", "2", "--trt-typing", "flags"))
    assert "--workspace and --trt-typing set the TensorRT engine build" in line, line
    assert not out.exists()


def test_serve_max_targets_has_a_ceiling():
    from droptrack.errors import InputError
    from droptrack.serve.options import MAX_TARGETS, ServeOptions, check_serve_options

    import pytest

    with pytest.raises(InputError, match=f"--max-targets {10**8} must be between 1 and {MAX_TARGETS}"):
        check_serve_options(ServeOptions("clip.mp4", max_targets=10**8))


def test_a_config_that_is_not_a_mapping_names_the_fix(tmp_path: Path):
    text = tmp_path / "t.txt"
    text.write_text("hi\n")
    line = one_line_error(cli("export", "--config", text, "-o", tmp_path / "e"))
    assert "must be a YAML mapping of sections (MODEL:, DATA:, TRAIN:, TEST:)" in line, line
    assert "droptrack_tiny_synth" in line, line
