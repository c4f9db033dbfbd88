"""`dt eval --dataset got10k --split val` and then `--split test` both wrote results/got10k/<tracker>: the test run's
got10k_submit.zip replaced the val split's and the val report.json stayed beside the test results, one folder of two
runs. The default folder now carries the split as the dataset's alias names it (results/got10k_test, as
--dataset got10k_test), and an --output holding another split's results is refused before any work."""

import json
import os
import shlex
import zipfile

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def _got10k(tmp_path):
    """A GOT-10k root: val/ (every box) and test/ (only the first box published), two short sequences each."""
    root = tmp_path / "got10k"
    generate_synth(root / "val", 2, 3, seed=0, size=(96, 64), split="val")
    generate_synth(root / "test", 2, 3, seed=1, size=(96, 64), split="train")   # (synth makes test sets hard only)
    for seq in (root / "test").glob("synth_train_*"):
        gt = seq / "groundtruth.txt"
        gt.write_text(gt.read_text().splitlines()[0] + "\n")
    return root


def _eval(root, *args):
    return cli("eval", "--dataset", "got10k", "--root", root, "--tracker", "kcf", *args)


def _zipped(folder):
    with zipfile.ZipFile(folder / "got10k_submit.zip") as zf:
        return sorted({n.split("/")[0] for n in zf.namelist()})


def test_each_split_has_its_own_default_folder(tmp_path, monkeypatch):
    root = _got10k(tmp_path)
    monkeypatch.chdir(tmp_path)
    val = _eval(root, "--split", "val")
    assert val.exit_code == 0, val.output
    test = _eval(root, "--split", "test")
    assert test.exit_code == 0, test.output
    val_dir, test_dir = tmp_path / "results" / "got10k_val" / "kcf", tmp_path / "results" / "got10k_test" / "kcf"
    assert _zipped(val_dir) == ["synth_val_00001", "synth_val_00002"]   # the val submission is kept
    assert _zipped(test_dir) == ["synth_train_00001", "synth_train_00002"]
    assert (val_dir / "report.json").is_file() and not (test_dir / "report.json").exists()
    assert json.loads((val_dir / "eval.json").read_text())["split"] == "val"
    # its next line's dt analyze writes analysis/got10k_val, as --dataset got10k_val would
    nxt = next(ln for ln in val.output.splitlines() if ln.startswith("next: "))
    assert cli(*shlex.split(nxt.removeprefix("next: "))[1:]).exit_code == 0
    assert (tmp_path / "analysis" / "got10k_val" / "report.json").is_file()
    # the alias names the same folder: it resumes there (nothing tracked again)
    alias = cli("eval", "--dataset", "got10k_test", "--root", root, "--tracker", "kcf")
    assert alias.exit_code == 0, alias.output
    assert sorted(os.listdir(tmp_path / "results")) == ["got10k_test", "got10k_val"]
    # without --split: results/got10k, as before (the reader's default split, val)
    plain = _eval(root)
    assert plain.exit_code == 0, plain.output
    assert _zipped(tmp_path / "results" / "got10k" / "kcf") == ["synth_val_00001", "synth_val_00002"]


def test_an_output_holding_another_splits_results_is_refused(tmp_path):
    root = _got10k(tmp_path)
    out = tmp_path / "out"
    assert _eval(root, "--split", "val", "--output", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in (out / "kcf").iterdir() if p.is_file()}
    res = _eval(root, "--split", "test", "--output", out)
    line = one_line_error(res)
    assert "holds results of the val split of got10k, now the test split" in line, line
    assert "pass another --output" in line, line
    after = {p.name: p.read_bytes() for p in (out / "kcf").iterdir() if p.is_file()}
    assert after == before   # nothing tracked or written
    # the root given as a split folder is that split: refused too
    res = cli("eval", "--dataset", "got10k", "--root", root / "test", "--tracker", "kcf", "--output", out)
    assert "now the test split" in one_line_error(res)
    # another dataset's (the val folder read as a synthetic set): refused as before, naming another --output
    res = cli("eval", "--dataset", "synth", "--root", root / "val", "--tracker", "kcf", "--output", out)
    line = one_line_error(res)
    assert "holds results of another run (dataset: 'got10k', now 'synth'" in line and "--output" in line, line
    # the same split again resumes
    assert _eval(root, "--output", out).exit_code == 0


def test_the_default_folder_holding_another_splits_results_names_a_fix_that_works(tmp_path, monkeypatch):
    # results/got10k holding the test split's (an older dt eval's default folder for a split folder as the root): the
    # refusal said 'pass another --output (without one, each split has its own folder)', but no --output was passed
    root = _got10k(tmp_path)
    monkeypatch.chdir(tmp_path)
    test = _eval(root, "--split", "test", "--output", "results/got10k")
    assert test.exit_code == 0, test.output
    line = one_line_error(_eval(root))
    assert "holds results of the test split of got10k, now the val split" in line, line
    assert "without one, each split has its own folder" not in line, line
    assert "or --split val without --output (results/got10k_val)" in line, line
    assert _eval(root, "--split", "val").exit_code == 0   # the fix named: its own folder
    assert (tmp_path / "results" / "got10k_val" / "kcf" / "got10k_submit.zip").is_file()


def test_results_of_the_default_folder_before_it_carried_the_split_are_named(tmp_path, monkeypatch):
    # `dt eval --dataset got10k --split test` wrote results/got10k/kcf before each split had its own default folder
    # (its eval.json records no split); the same command now starts over in results/got10k_test without a word
    root = _got10k(tmp_path)
    monkeypatch.chdir(tmp_path)
    old = tmp_path / "results" / "got10k" / "kcf"
    first = _eval(root, "--split", "test", "--output", "results/got10k", "--sequences", "synth_train_00001")
    assert first.exit_code == 0, first.output
    manifest = json.loads((old / "eval.json").read_text())
    del manifest["split"]   # as the older dt eval wrote it
    manifest["threads"] += 1   # with other --workers: kept when resumed there (no --threads given)
    (old / "eval.json").write_text(json.dumps(manifest))
    before = {p.name: p.read_bytes() for p in old.iterdir() if p.is_file()}
    res = _eval(root, "--split", "test")
    assert res.exit_code == 0, res.output
    notes = [ln for ln in res.output.splitlines() if ln.startswith("note: ")]
    assert len(notes) == 1 and f"{os.path.join('results', 'got10k', 'kcf')} holds this tracker's results" in notes[0] \
        and notes[0].endswith(f"pass --output {os.path.join('results', 'got10k')}"), res.output
    new = tmp_path / "results" / "got10k_test" / "kcf"
    assert _zipped(new) == ["synth_train_00001", "synth_train_00002"]   # the folder used is still the new default
    assert {p.name: p.read_bytes() for p in old.iterdir() if p.is_file()} == before   # the old one untouched
    again = _eval(root, "--split", "test")   # the new folder holds results now: nothing to say
    assert again.exit_code == 0 and "note: " not in again.output, again.output
    # the fix named works: the old folder resumes (its finished sequence is not tracked again)
    kept = (old / "synth_train_00001.txt").stat().st_mtime_ns
    there = _eval(root, "--split", "test", "--output", "results/got10k")
    assert there.exit_code == 0, there.output
    assert (old / "synth_train_00001.txt").stat().st_mtime_ns == kept and (old / "synth_train_00002.txt").is_file()


def test_no_note_where_the_old_default_folder_cannot_be_continued(tmp_path, monkeypatch):
    root = _got10k(tmp_path)
    monkeypatch.chdir(tmp_path)
    # the val split's results there (recorded as val): another split's, not this run's
    assert _eval(root, "--split", "val", "--output", "results/got10k").exit_code == 0
    # another tracker's results (no split recorded) on this split's sequences, there from an older dt eval (which
    # did not refuse another split beside the val split's results)
    assert _eval(root, "--split", "test", "--output", "results/older", "--name", "mil").exit_code == 0
    os.rename(tmp_path / "results" / "older" / "mil", tmp_path / "results" / "got10k" / "mil")
    other = tmp_path / "results" / "got10k" / "mil" / "eval.json"
    manifest = json.loads(other.read_text())
    del manifest["split"]
    other.write_text(json.dumps(manifest))
    res = _eval(root, "--split", "test")
    assert res.exit_code == 0 and "note: " not in res.output, res.output
