"""`dt eval` resumed on another --device mixed CUDA-tracked and CPU-tracked sequences (their boxes differ in the last
bits) in one results folder without a word; it is refused in one line, as another model or option is."""

import json

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def test_resume_on_another_device_is_refused(tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    args = ["eval", "--dataset", "synth", "--root", root, "--output", tmp_path / "out", "--threads", "1"]
    first = cli(*args, "--sequences", "synth_val_00001")
    assert first.exit_code == 0, first.output
    manifest = tmp_path / "out" / "default" / "eval.json"
    meta = json.loads(manifest.read_text())
    assert meta["device"] == "cpu"
    manifest.write_text(json.dumps({**meta, "device": "cuda:0"}))   # as a run with --device cuda leaves it
    line = one_line_error(cli(*args))
    assert "cuda" in line and "--output" in line
    assert not (tmp_path / "out" / "default" / "synth_val_00002.txt").exists()
    manifest.write_text(json.dumps(meta))
    assert cli(*args).exit_code == 0
    assert (tmp_path / "out" / "default" / "synth_val_00002.txt").is_file()
