"""A command stopped (Ctrl-C, an error) before it wrote any file leaves no new empty output folder: dt eval, dt bench,
dt export and dt data synth remove the folders they made (with the folders above them they made) while those are
still empty, and keep a folder that was there before, or that holds anything (paths.removed_if_left_empty)."""

from __future__ import annotations

import pytest

import droptrack.data.synth as synth
import droptrack.eval.bench as bench
import droptrack.eval.run as run
import droptrack.export.pipeline as pipeline
from droptrack.data.synth import generate_synth
from droptrack.errors import InputError
from droptrack.paths import removed_if_left_empty
from helpers import cli


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("set") / "val", sequences=1, frames=4, seed=0, size=(64, 64),
                          split="val")


def test_the_folders_a_block_made_go_when_it_fails_and_stay_when_it_ends(tmp_path):
    out = tmp_path / "a" / "b" / "c"
    with pytest.raises(KeyboardInterrupt):
        with removed_if_left_empty(out):
            out.mkdir(parents=True)
            raise KeyboardInterrupt
    assert sorted(tmp_path.iterdir()) == []   # a/b/c, a/b and a: all three made by the block
    with pytest.raises(InputError):
        with removed_if_left_empty(out):
            out.mkdir(parents=True)
            (tmp_path / "a" / "note.txt").write_text("x")   # written beside: a is no longer empty
            raise InputError("refused")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and [p.name for p in (tmp_path / "a").iterdir()] == [
        "note.txt"]
    with removed_if_left_empty(out):   # no exception: the folder is the command's output, even empty
        out.mkdir(parents=True)
    assert out.is_dir()


def test_a_folder_that_was_there_before_or_holds_a_file_is_kept(tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with removed_if_left_empty(before):
            raise KeyboardInterrupt
    assert before.is_dir()
    made = tmp_path / "made"
    with pytest.raises(KeyboardInterrupt):
        with removed_if_left_empty(made):
            made.mkdir()
            (made / "result.txt").write_text("1,2,3,4\n")
            raise KeyboardInterrupt
    assert (made / "result.txt").read_text() == "1,2,3,4\n"


def eval_args(root, out):
    return ["eval", "--dataset", "synth", "--root", root, "--tracker", "csrt", "--output", out]


def test_dt_eval_interrupted_before_eval_json_leaves_no_folder(synth_set, tmp_path, monkeypatch):
    def manifest(*args, write=True, **kwargs):   # under the folder's lock, before eval.json is written
        if write:
            raise KeyboardInterrupt

    monkeypatch.setattr(run, "check_manifest", manifest)
    r = cli(*eval_args(synth_set, tmp_path / "results" / "synth"))
    assert r.exit_code == 130, r.output
    assert "nothing saved" in r.output
    assert list(tmp_path.iterdir()) == []   # results/ and results/synth (and its tracker folder) are gone


def test_dt_eval_interrupted_keeps_a_folder_that_was_there(synth_set, tmp_path, monkeypatch):
    out = tmp_path / "mine"
    out.mkdir()
    monkeypatch.setattr(run, "check_manifest", lambda *a, write=True, **k: interrupt() if write else None)
    r = cli(*eval_args(synth_set, out))
    assert r.exit_code == 130, r.output
    assert out.is_dir() and not (out / "csrt").exists()   # the tracker folder this run made goes, `mine` stays


def test_dt_bench_interrupted_before_any_row_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "remove_stale_temp", interrupt)   # the first thing it does under the folder's lock
    r = cli("bench", "--tracker", "csrt", "--output", tmp_path / "out" / "bench")
    assert r.exit_code == 130, r.output
    assert list(tmp_path.iterdir()) == []


def test_dt_export_interrupted_before_its_first_graph_leaves_no_folder(tiny_ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "torch_to_onnx", interrupt)   # while the FP32 graph is exported
    r = cli("export", tiny_ckpt, "--output", tmp_path / "deploy" / "v1")
    assert r.exit_code == 130, r.output
    assert list(tmp_path.iterdir()) == []   # no lock file, no .dt-export-* folder, no deploy/
    kept = tmp_path / "kept"
    kept.mkdir()
    r = cli("export", tiny_ckpt, "--output", kept)
    assert r.exit_code == 130, r.output
    assert kept.is_dir() and list(kept.iterdir()) == []


def test_export_onnx_stopped_by_an_error_leaves_no_folder(tiny_ckpt, tmp_path):
    """The library's export_onnx (its own folder, not export_all's): a checkpoint that does not load."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):
        pipeline.export_onnx(bad, output_dir=tmp_path / "out" / "onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


def test_dt_data_synth_interrupted_before_its_first_file_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "atomic_write_text", interrupt)   # its journal, the first file it writes
    with pytest.raises(KeyboardInterrupt):
        generate_synth(tmp_path / "data" / "set", sequences=1, frames=2, size=(64, 64))
    assert list(tmp_path.iterdir()) == []
