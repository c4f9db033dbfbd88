"""`dt bench --resume` with a changed setting was refused with dt eval's fix, 'name this run with --name', an option
dt bench does not have (typer: 'No such option'). The refusal names what dt bench can do: another --output, or a
bench without --resume."""

from __future__ import annotations

from droptrack.data import generate_synth
from droptrack.eval.bench import BenchOptions, run_bench
from helpers import cli, one_line_error


def test_a_changed_setting_on_resume_names_a_fix_dt_bench_has(tiny_ckpt, tmp_path):
    data = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    run_bench(BenchOptions([str(tiny_ckpt)], data=str(data), output_dir=tmp_path / "out", threads=1, progress=False,
                           warmup=1, timed_frames=3))
    args = ["bench", tiny_ckpt, "--data", data, "-o", tmp_path / "out", "--resume"]
    for changed in (["--threads", "2"], ["--threads", "1", "--size-lr", "0.5"]):
        line = one_line_error(cli(*args, *changed))
        assert "--name" not in line, line
        assert "pass another --output" in line and "drop --resume" in line, line


def test_other_frames_on_resume_name_frames(tiny_ckpt, tmp_path):
    """`--resume --frames 3` after a bench of 4 frames blamed 'another dataset root or a regenerated set' only:
    dt bench's own --frames is named too."""
    data = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    args = ["bench", tiny_ckpt, "--data", data, "-o", tmp_path / "out", "--threads", "1"]
    assert cli(*args).exit_code == 0
    line = one_line_error(cli(*args, "--resume", "--frames", "3"))
    assert "tracked on other frames" in line and "--frames" in line and "drop --resume" in line, line
