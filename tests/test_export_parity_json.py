"""parity.json merged its rows across exports into one folder: after `dt export CKPT1 --fp16` then `dt export CKPT2`,
it still showed CKPT1's FP16 row beside CKPT2's FP32 one, as if this export had verified it. A row now names the
sha256 of its file and of the checkpoint, and an export drops the rows that do not describe a file of the folder
exported from its checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from droptrack.artifact import sha256_file
from droptrack.config import load_config
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


def _rows(out) -> dict:
    return json.loads((out / "parity.json").read_text())["artifacts"]


def test_parity_json_holds_only_rows_of_files_there_from_this_checkpoint(tiny_ckpt, tmp_path):
    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    other = save_checkpoint(tmp_path / "other.pt", build_model(cfg).eval(), cfg)
    out = tmp_path / "out"
    assert cli("export", tiny_ckpt, "--fp16", "-o", out).exit_code == 0
    rows = _rows(out)
    assert set(rows) == {"model.onnx", "model_fp16.onnx"}
    for name, row in rows.items():
        assert row["sha256"] == sha256_file(out / name) and row["checkpoint_sha256"] == sha256_file(tiny_ckpt)
    assert cli("export", tiny_ckpt, "-o", out).exit_code == 0      # same checkpoint: the FP16 graph is still its own
    assert set(_rows(out)) == {"model.onnx", "model_fp16.onnx"}
    r = cli("export", other, "-o", out)                            # another checkpoint: its FP16 row is not this one's
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    assert set(rows) == {"model.onnx"} and rows["model.onnx"]["checkpoint_sha256"] == sha256_file(other)
    assert (out / "model_fp16.onnx").is_file()                     # the file itself is left (named as stale)
    assert cli("export", other, "--fp16", "-o", out).exit_code == 0
    (out / "model_fp16.onnx").write_bytes((out / "model.onnx").read_bytes())   # replaced after its check
    assert cli("export", other, "-o", out).exit_code == 0
    assert set(_rows(out)) == {"model.onnx"}


def test_rows_of_a_parity_json_from_elsewhere_are_dropped_not_followed(tmp_path):
    """Rows written by an older droptrack (no sha256) or naming paths outside the folder are dropped; nothing is read
    outside it."""
    from droptrack.export.parity import prune_parity_json

    (tmp_path / "model.onnx").write_bytes(b"graph")
    sha = sha256_file(tmp_path / "model.onnx")
    kept = {"passed": True, "sha256": sha, "checkpoint_sha256": "c"}
    rows = {"model.onnx": kept, "old.onnx": {"passed": True}, "../model.onnx": kept, "x": 3,
            "model_fp16.onnx": {"passed": False, "sha256": sha, "checkpoint_sha256": "c"}}   # no .failed file
    (tmp_path / "parity.json").write_text(json.dumps({"artifacts": rows, "note": 1}))
    assert sorted(prune_parity_json(tmp_path, "c")) == sorted(set(rows) - {"model.onnx"})
    assert json.loads((tmp_path / "parity.json").read_text()) == {"artifacts": {"model.onnx": kept}, "note": 1}
    assert prune_parity_json(tmp_path, "another") == ["model.onnx"]


def test_an_engine_rebuilt_from_its_graph_loses_its_checked_row(tiny_ckpt, tmp_path, monkeypatch):
    """`dt export GRAPH.onnx --engine` (no check) replaced model.engine and left the checked row of the engine before
    it in parity.json."""
    import sys

    from droptrack.engine import tensorrt_backend, trt_compat
    from fake_tensorrt import GPU_ENV, FakeTRT, GraphAsEngine

    class OtherPlan(FakeTRT):
        def build(self, monitor):
            return b"PLAN-2"

    monkeypatch.setitem(sys.modules, "tensorrt", FakeTRT().module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(GPU_ENV))
    monkeypatch.setattr(tensorrt_backend, "TensorRTBackend", GraphAsEngine)
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    r = cli("export", tiny_ckpt, "--engine", "-o", out)
    assert r.exit_code == 0, r.output
    assert _rows(out)["model.engine"]["sha256"] == sha256_file(out / "model.engine")
    monkeypatch.setitem(sys.modules, "tensorrt", OtherPlan().module())
    r = cli("export", out / "model.onnx", "--engine", "--workspace", 2)   # another build: another plan, unchecked
    assert r.exit_code == 0, r.output
    assert (out / "model.engine").read_bytes() == b"PLAN-2" and set(_rows(out)) == {"model.onnx"}


def test_a_parity_json_no_dt_export_wrote_is_refused_and_kept(tiny_ckpt, tmp_path):
    """A parity.json in --output that is not dt export's (another tool's report, a user's notes) was replaced by the
    export's rows; it is refused before any work, kept byte for byte, as a graph no dt export wrote is."""
    out = tmp_path / "deploy"
    out.mkdir()
    for text in ('{"model": "yolov8n.onnx", "map50": 0.52}\n', "checked by hand: all fine\n"):
        (out / "parity.json").write_text(text)
        for extra in ((), ("--engine", "--overwrite")):   # --overwrite is for engines, as for a graph of that name
            r = cli("export", tiny_ckpt, "-o", out, *extra)
            line = one_line_error(r)
            assert "holds 'parity.json'" in line and "no dt export wrote it" in line and "move it away" in line, line
            assert (out / "parity.json").read_text() == text
        assert sorted(p.name for p in out.iterdir()) == ["parity.json"]   # refused before any work
    # an earlier droptrack's own file (rows without sha256) is the export's to rewrite, as before
    (out / "parity.json").write_text(json.dumps({"artifacts": {"model.onnx": {"passed": True}}}))
    r = cli("export", tiny_ckpt, "-o", out)
    assert r.exit_code == 0, r.output
    assert _rows(out)["model.onnx"]["sha256"] == sha256_file(out / "model.onnx")


@pytest.mark.parametrize("kind", ["pipe", "folder"])
def test_a_parity_json_that_is_no_regular_file_is_refused_before_any_work(tiny_ckpt, tmp_path, kind):
    """A pipe named parity.json in --output hung dt export for ever once the graph was written (it read the pipe to
    merge its rows); a folder of that name failed the export after its work. Both are refused before any work."""
    import os

    if kind == "pipe" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    out = tmp_path / "deploy"
    out.mkdir()
    os.mkfifo(out / "parity.json") if kind == "pipe" else (out / "parity.json").mkdir()
    line = one_line_error(cli("export", tiny_ckpt, "-o", out))
    if kind == "pipe":
        assert "holds 'parity.json'" in line and "not a regular file" in line, line
    else:   # the wording of every command for a folder where dt writes a file
        assert line == (f"error: '{out / 'parity.json'}' is a folder where dt writes a file (nothing was put in it); "
                        "move or rename that folder, or pass another output path"), line
    assert sorted(p.name for p in out.iterdir()) == ["parity.json"]


def test_a_refused_export_of_another_checkpoint_keeps_the_record(tiny_ckpt, tmp_path):
    """dt export of another checkpoint into a finished export's folder dropped that export's rows as soon as it held
    the folder: refused a moment later (a --keep-fp32 that matches no node) or stopped, it left parity.json empty
    beside the unchanged graphs. The rows go once the new model.onnx is published."""
    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    other = save_checkpoint(tmp_path / "other.pt", build_model(cfg).eval(), cfg)
    out = tmp_path / "out"
    assert cli("export", tiny_ckpt, "--fp16", "-o", out).exit_code == 0
    before = (out / "parity.json").read_bytes()
    res = cli("export", other, "--fp16", "--keep-fp32", "nosuchnode", "-o", out)   # after its 'loaded ...' line
    assert res.exit_code == 2 and "error: --keep-fp32 'nosuchnode' matches no node" in res.output, res.output
    assert (out / "parity.json").read_bytes() == before
    assert set(_rows(out)) == {"model.onnx", "model_fp16.onnx"}
