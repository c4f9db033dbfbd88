"""`dt eval --config my.yaml`, resumed after my.yaml was edited (another search factor, another scale penalty),
kept the results of the first config and tracked the rest with the second: one results folder of two configs.
eval.json now records the config's text (sha256) as well as its name: an edit is refused in one line, the same text
resumes, and an eval.json of an earlier droptrack (no text recorded) still resumes."""

from __future__ import annotations

import json
from pathlib import Path

from droptrack.data import generate_synth
from helpers import cli, one_line_error

SHIPPED = Path(__file__).resolve().parent.parent / "droptrack" / "configs" / "tiny_ce_test.yaml"


def test_an_edited_config_file_is_refused_on_resume(tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    config = tmp_path / "my.yaml"
    config.write_bytes(SHIPPED.read_bytes())
    args = ["eval", "--dataset", "synth", "--root", root, "-m", tiny_ckpt, "--config", config,
            "--output", tmp_path / "out", "--threads", "1"]
    assert cli(*args, "--sequences", "synth_val_00001").exit_code == 0
    config.write_bytes(SHIPPED.read_bytes() + b"\n# edited: another config of the same name\n")
    line = one_line_error(cli(*args))
    assert "--config" in line and "changed" in line, line
    assert not (tmp_path / "out" / "tiny" / "synth_val_00002.txt").exists()   # nothing mixed in
    config.write_bytes(SHIPPED.read_bytes())   # restored: resumes
    assert cli(*args).exit_code == 0
    assert (tmp_path / "out" / "tiny" / "synth_val_00002.txt").is_file()


def test_an_eval_json_without_the_config_text_still_resumes(tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    args = ["eval", "--dataset", "synth", "--root", root, "-m", tiny_ckpt, "--config", "tiny_ce_test",
            "--output", tmp_path / "out", "--threads", "1"]
    assert cli(*args, "--sequences", "synth_val_00001").exit_code == 0
    manifest = tmp_path / "out" / "tiny" / "eval.json"
    old = json.loads(manifest.read_text())
    old.pop("config_sha256", None)   # as an earlier droptrack wrote it
    manifest.write_text(json.dumps(old))
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "tiny" / "synth_val_00002.txt").is_file()
