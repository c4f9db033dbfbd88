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
