"""A bench interrupted and resumed reports the same parity as an uninterrupted one: the resumed sequences' boxes
are read back from the result files (whole pixels, as pytracking writes them) while the ones tracked in the run
were compared as floats, so the IoU vs the reference and the divergence depended on where the bench was stopped."""

from __future__ import annotations

import json
import shutil

from helpers import cli


def test_resumed_parity_equals_the_uninterrupted_one(onnx_model, tiny_ckpt, tmp_path):
    args = ["bench", onnx_model, "--reference", tiny_ckpt, "--sequences", "2", "--frames", "6", "--threads", "1",
            "--root", tmp_path / "synth"]
    res = cli(*args, "-o", tmp_path / "whole")
    assert res.exit_code == 0, res.output
    whole = json.loads((tmp_path / "whole" / "bench.json").read_text())["rows"][0]
    stopped = tmp_path / "stopped"
    shutil.copytree(tmp_path / "whole", stopped)
    for f in (stopped / "results" / "model").glob("synth_val_00002*"):   # stopped during its second sequence
        f.unlink()
    res = cli(*args, "-o", stopped, "--resume")
    assert res.exit_code == 0, res.output
    row = json.loads((stopped / "bench.json").read_text())["rows"][0]
    assert (row["eval"]["resumed"], row["eval"]["tracked"]) == (1, 1)
    assert row["parity"] == whole["parity"] and row["accuracy"] == whole["accuracy"]


def test_the_resume_note_of_an_opencv_row_says_where_its_latency_comes_from():
    """An OpenCV row's latency is its per-frame tracking times, which a resumed sequence keeps from the interrupted
    run: the note said 'latency was measured again' for it too."""
    from types import SimpleNamespace

    from droptrack.eval.bench_rows import BenchRow, resume_notes

    res = SimpleNamespace(resumed=["s1"], sequences=["s1", "s2"], output_dir="out/results/x")
    rows = [BenchRow("kcf", "opencv:kcf", "opencv", result=res), BenchRow("model", "m.onnx", "onnx", result=res)]
    assert resume_notes(rows) == [
        "kcf: 1 of 2 sequences resumed from out/results/x; its latency is from both runs' per-frame times",
        "model: 1 of 2 sequences resumed from out/results/x; latency was measured again"]
