"""A `dt eval` rerun in which every sequence is resumed (no model loads) prints the summary a normal run prints,
its 'tracker: ...' line (the tracker settings in words) included: eval.json records them."""

from __future__ import annotations

import json

from droptrack.data import generate_synth
from helpers import cli


def _lines(res) -> list[str]:
    assert res.exit_code == 0, res.output
    return [ln.strip() for ln in res.output.splitlines()]


def test_all_resumed_rerun_keeps_the_tracker_line(tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "val", sequences=2, frames=4, seed=0, size=(96, 72), split="val")
    args = ("eval", "--dataset", "synth", "--root", root, "-m", tiny_ckpt, "--output", tmp_path / "out",
            "--threads", 1)
    first, again = _lines(cli(*args)), _lines(cli(*args))
    assert any(ln.startswith("2 resumed") or " 2 resumed" in ln for ln in again), again   # nothing tracked again
    tracker = [ln for ln in first if ln.startswith("tracker: ")]
    assert tracker and tracker[0] != "tracker: "
    assert [ln for ln in again if ln.startswith("tracker: ")] == tracker
    manifest = json.loads((tmp_path / "out" / "tiny" / "eval.json").read_text())
    assert manifest["procedures"] == [tracker[0].removeprefix("tracker: ")]


def test_folder_of_an_older_run_without_the_record_resumes_without_the_line(tiny_ckpt, tmp_path):
    """eval.json written before it recorded the settings: nothing to print, and no error."""
    root = generate_synth(tmp_path / "val", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    args = ("eval", "--dataset", "synth", "--root", root, "-m", tiny_ckpt, "--output", tmp_path / "out",
            "--threads", 1)
    _lines(cli(*args))
    path = tmp_path / "out" / "tiny" / "eval.json"
    old = json.loads(path.read_text())
    old.pop("procedures", None)
    path.write_text(json.dumps(old))
    again = _lines(cli(*args))
    assert not any(ln.startswith("tracker: ") for ln in again)
    assert "procedures" not in json.loads(path.read_text())
