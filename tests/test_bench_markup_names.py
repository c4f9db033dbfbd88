"""`dt bench` names its rows by the artifacts' file names; the bar of a resumed row's latency pass showed that name
read as rich markup: for '[red]b.pt' it read 'latency b'."""

from __future__ import annotations

import shutil

from droptrack.data import generate_synth
from helpers import cli


def test_the_latency_bar_of_a_resumed_row_shows_the_name_as_it_is(tiny_ckpt, tmp_path):
    ckpt = tmp_path / "[red]b.pt"
    shutil.copy(tiny_ckpt, ckpt)
    data = generate_synth(tmp_path / "run:smile:1", sequences=2, frames=4, seed=0, size=(96, 72), split="val")
    out = tmp_path / "out"
    args = ("bench", ckpt, "--data", data, "--output", out, "--threads", 1)
    res = cli(*args)
    assert res.exit_code == 0, res.output
    # the table's title names the set's folder as it is: escaping markup left ':smile:' to rich, an emoji
    assert f"dtbench:{data}(" in "".join(res.output.split()), res.output   # the title may wrap anywhere
    for f in (out / "results" / "[red]b").glob("synth_val_00002*"):   # as a bench killed after one sequence
        f.unlink()
    res = cli(*args, "--resume")
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    assert any(ln.startswith("latency [red]b ") for ln in res.output.splitlines()), res.output


def test_the_interrupted_line_names_the_output_with_control_characters_escaped(tiny_ckpt, tmp_path, monkeypatch):
    """Ctrl-C names the --output holding the finished sequences: its control characters went to the terminal raw."""
    import droptrack.eval.bench

    def interrupted(*args, **kwargs):   # Ctrl-C while the rows run
        raise KeyboardInterrupt

    monkeypatch.setattr(droptrack.eval.bench, "run_bench", interrupted)
    (tmp_path / "b\x1b[2J").mkdir()   # a folder it had written to (none left: tests/test_bench_signals.py)
    res = cli("bench", tiny_ckpt, "--output", tmp_path / "b\x1b[2J")
    assert res.exit_code == 130, res.output
    assert res.output.startswith(f"interrupted: finished sequences are saved in {tmp_path}/b\\x1b[2J; "), res.output
