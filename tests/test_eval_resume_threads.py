"""A resumed `dt eval` whose default thread count changed (other --workers for a large model, another
OMP_NUM_THREADS) silently mixed boxes computed with different thread counts: eval.json now records the count, a
resume without --threads keeps it, and another --threads is refused in one line."""

import json

from droptrack.data import generate_synth
from droptrack.engine.threads import ThreadPlan
from droptrack.eval.resume import resume_threads
from helpers import cli, one_line_error


def test_resume_keeps_the_recorded_thread_count(tmp_path, monkeypatch):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    args = ["eval", "--dataset", "synth", "--root", root, "--output", tmp_path / "out"]
    assert cli(*args, "--threads", "2", "--sequences", "synth_val_00001").exit_code == 0
    manifest = tmp_path / "out" / "default" / "eval.json"
    assert json.loads(manifest.read_text())["threads"] == 2
    line = one_line_error(cli(*args, "--threads", "1"))
    assert "--threads 2" in line
    assert not (tmp_path / "out" / "default" / "synth_val_00002.txt").exists()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")   # the default would now be 1 thread
    assert cli(*args).exit_code == 0
    assert json.loads(manifest.read_text())["threads"] == 2
    assert (tmp_path / "out" / "default" / "synth_val_00002.txt").is_file()


def test_resume_threads_plan(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    plan = ThreadPlan(4, "8 usable cores / 2 worker(s)")
    assert resume_threads(out, plan, 2, usable=8) is plan            # nothing tracked yet
    (out / "eval.json").write_text(json.dumps({"threads": 8}))
    assert resume_threads(out, plan, 2, usable=8) is plan            # no results beside it
    (out / "a.txt").write_text("1\t2\t3\t4\n")
    kept = resume_threads(out, plan, 2, usable=8)
    assert kept.threads == 8 and kept.oversubscribed                 # 8 x 2 > 8
    assert not resume_threads(out, plan, 1, usable=8).oversubscribed
    (out / "eval.json").write_text(json.dumps({"artifact": "x"}))    # written before threads were recorded
    assert resume_threads(out, plan, 2, usable=8) is plan
