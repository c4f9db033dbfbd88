"""`dt data synth` progress moved once per sequence (one long sequence showed nothing for minutes) and showed nothing
at all when stderr is not a terminal. It now moves with every frame rendered and written, and prints plain lines
(at most one per period) elsewhere, as dt eval does."""

import io

import droptrack.data.synth_progress as synth_progress
from droptrack.data import generate_synth
from droptrack.data.synth import synth_sequence
from droptrack.data.synth_progress import SynthProgress


def test_render_reports_every_frame():
    seen = []
    seq = synth_sequence(0, 5, 0, size=(48, 32), split="val", on_frame=seen.append)
    assert seen == [1, 2, 3, 4, 5] and len(seq.frames) == 5


def test_lines_when_not_a_terminal():
    out = io.StringIO()
    with SynthProgress(True, 2, 3, "synth val", stream=out, period_s=0.0) as bar:
        for i in (1, 2, 3):
            bar.step("synth_val_00001", "rendered", i)
        bar.sequence_done("synth_val_00002", resumed=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("[synth val 0/2 seq, 8%, ETA ") and lines[0].endswith("] synth_val_00001: frame 1/3 "
                                                                                     "rendered")
    assert lines[2].startswith("[synth val 0/2 seq, 25%")   # 3 of 12 steps (3 frames x 2 sequences, twice each)
    assert lines[3].startswith("[synth val 1/2 seq, 75%")   # a resumed sequence counts 6 steps at once


def test_quiet_within_the_period():
    out = io.StringIO()
    with SynthProgress(True, 1, 3, "synth val", stream=out, period_s=3600.0) as bar:
        bar.step("synth_val_00001", "rendered", 1)
    assert out.getvalue() == ""


def test_generate_synth_prints_lines_on_a_pipe(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(synth_progress, "LOG_PERIOD_S", 0.0)
    generate_synth(tmp_path / "s", 1, 200, seed=0, size=(64, 64), split="val", progress=True)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[synth val")]
    assert len(lines) == 400   # each of 200 frames rendered, then written
    assert lines[199].endswith("frame 200/200 rendered") and lines[-1].endswith("frame 200/200 written")
