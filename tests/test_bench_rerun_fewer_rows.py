"""`dt bench -o DIR` run again with fewer rows left the earlier run's results/<row> folders beside the new ones, so
DIR mixed two runs: the stale row folders dt bench wrote (dt eval's eval.json in them) are now removed and the notes
name them; a folder or file of the user's in results/ is kept."""

from __future__ import annotations

import json

from helpers import cli

ARGS = ["bench", "--sequences", "1", "--frames", "3"]


def test_a_rerun_with_fewer_rows_leaves_only_its_own_row_folders(tmp_path):
    out = tmp_path / "bench"
    assert cli(*ARGS, "--tracker", "kcf", "--tracker", "csrt", "-o", out).exit_code == 0
    assert sorted(p.name for p in (out / "results").iterdir()) == ["csrt", "kcf"]
    (out / "results" / "mine").mkdir()            # not dt bench's: no eval.json
    (out / "results" / "mine" / "notes.txt").write_text("keep me")
    (out / "results" / "notes.txt").write_text("keep me too")
    res = cli(*ARGS, "--tracker", "kcf", "-o", out)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "results").iterdir()) == ["kcf", "mine", "notes.txt"]
    assert (out / "results" / "mine" / "notes.txt").read_text() == "keep me"
    bench = json.loads((out / "bench.json").read_text())
    assert [r["name"] for r in bench["rows"]] == ["kcf"]
    assert "removed results/csrt of an earlier bench (rows this one has not)" in bench["notes"]


def test_a_users_file_inside_a_row_folder_is_refused_before_it_would_go(tmp_path):
    from helpers import one_line_error

    out = tmp_path / "bench"       # a rerun removed results/csrt (dropped) or results/kcf (replaced) whole, notes too
    assert cli(*ARGS, "--tracker", "kcf", "--tracker", "csrt", "-o", out).exit_code == 0
    for row in ("csrt", "kcf"):
        note = out / "results" / row / "notes.txt"
        note.write_text("keep me")
        before = sorted(p.name for p in (out / "results" / row).iterdir())
        line = one_line_error(cli(*ARGS, "--tracker", "kcf", "-o", out))
        assert f"'{note}' is not a file dt bench wrote" in line and "move it out of" in line, line
        assert sorted(p.name for p in (out / "results" / row).iterdir()) == before
        note.unlink()
    res = cli(*ARGS, "--tracker", "kcf", "-o", out)   # its own files only: the rerun goes on as before
    assert res.exit_code == 0 and sorted(p.name for p in (out / "results").iterdir()) == ["kcf"], res.output


def test_a_users_file_in_the_submission_folder_is_found_too(tmp_path):
    from droptrack.eval.resume import foreign_file

    (tmp_path / "eval.json").write_text(json.dumps({"inputs": {"a": "x", "b": "y"}}))
    for rel in ("a.txt", "a_time.txt", "report.json", "got10k_submit/a/a_001.txt", "got10k_submit/a/a_time.txt",
                "got10k_submit/a/.a_001.txt.1234.tmp", "got10k_submit/b/b_001.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1\t2\t3\t4\n")
    assert foreign_file(tmp_path) is None                  # dt eval's own files, a temporary of an atomic write
    (tmp_path / "got10k_submit" / "b" / "notes.txt").write_text("mine")
    assert foreign_file(tmp_path) == tmp_path / "got10k_submit" / "b" / "notes.txt"
    (tmp_path / "got10k_submit" / "b" / "notes.txt").unlink()
    (tmp_path / "got10k_submit" / "stray").write_text("mine")   # a file where a sequence folder goes
    assert foreign_file(tmp_path) == tmp_path / "got10k_submit" / "stray"


def test_a_first_bench_into_a_users_row_folder_is_refused(tmp_path):
    from helpers import one_line_error

    out = tmp_path / "bench"       # no bench ran here yet: results/kcf is the user's (no eval.json)
    mine = out / "results" / "kcf"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    line = one_line_error(cli(*ARGS, "--tracker", "kcf", "-o", out))
    assert f"'{mine}' holds files dt bench did not write ('notes.txt')" in line and "kcf row" in line, line
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and not (out / "bench.json").exists()
    (out / "results" / "csrt").mkdir()   # an empty folder of a row's name holds nothing to lose: used
    assert cli(*ARGS, "--tracker", "csrt", "-o", out).exit_code == 0
    assert (out / "results" / "csrt" / "eval.json").is_file() and (mine / "notes.txt").read_text() == "keep me"


def test_a_gate_failure_beside_a_baseline_counts_rows_not_artifacts(tmp_path):
    from types import SimpleNamespace

    import pytest

    from droptrack.errors import GateError
    from droptrack.eval.bench import check_gates
    from droptrack.eval.bench_rows import BenchRow

    failed = BenchRow("model", "model.onnx", "onnx", status="gate_failed", reason="FPS 10 < 20")
    base = BenchRow("csrt", "opencv:csrt", "opencv", precision="-")
    with pytest.raises(GateError, match=r"^1 of 2 rows did not pass \(model gate failed: FPS 10 < 20\)"):
        check_gates(SimpleNamespace(rows=[failed, base], output_dir=tmp_path))
    with pytest.raises(GateError, match=r"^1 of 2 artifacts did not pass"):   # artifacts only: as before
        check_gates(SimpleNamespace(rows=[failed, BenchRow("m2", "m2.onnx", "onnx")], output_dir=tmp_path))
