"""`dt bench GRAPH` without --reference looks for the checkpoint the graph was exported from by the sha256 its metadata
records (among the artifacts, beside the graph, in its parent folder, the embedded model). Found, a checkpoint that
pickles a foreign object failed every row compared with it after the synthetic set was made and the rows tracked
(exit 1, the refusal repeated per row), and so did such a checkpoint benched as a row; both are now one line before
any work (exit 2) naming --trust-checkpoint, which dt bench takes. Not found (moved, deleted or changed since the
export), the line says so and names the checkpoints it found there that are not it."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from helpers import cli, one_line_error

CUT = ["--sequences", "1", "--frames", "3", "--threads", "1"]


@pytest.fixture(scope="module")
def beside(with_args):
    """`dt export CKPT --trust-checkpoint` into a folder beside the checkpoint (bench looks in the graph's parent)."""
    out = with_args.parent / "deploy"
    res = cli("export", with_args, "--trust-checkpoint", "-o", out)
    assert res.exit_code == 0, res.output
    return out / "model.onnx"


def test_a_found_reference_that_needs_the_option_is_refused_before_any_work(beside, with_args, tmp_path):
    line = one_line_error(cli("bench", beside, *CUT, "-o", tmp_path / "b"))
    assert str(with_args) in line and "--trust-checkpoint" in line and "dt bench" in line, line
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())   # no data made, no row tracked
    res = cli("bench", beside, "--trust-checkpoint", *CUT, "-o", tmp_path / "t")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "t" / "bench.json").read_text())
    assert [r["artifact"] for r in report["references"]] == [str(with_args)]
    assert report["rows"][0]["parity"]["divergence"] == 0.0


def test_a_checkpoint_row_that_needs_the_option_is_refused_before_any_work(beside, with_args, tmp_path):
    for artifacts in ([with_args], [with_args, beside]):
        line = one_line_error(cli("bench", *artifacts, *CUT, "-o", tmp_path / "b"))
        assert "types.SimpleNamespace" in line and "--trust-checkpoint" in line, line
        assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


def test_a_moved_or_changed_checkpoint_is_named_never_taken(beside, with_args, tiny_ckpt, tmp_path):
    alone = tmp_path / "away" / "graphs"
    alone.mkdir(parents=True)
    shutil.copyfile(beside, alone / "model.onnx")
    line = one_line_error(cli("bench", alone / "model.onnx", *CUT, "-o", tmp_path / "b"))
    assert "cannot find the checkpoint model.onnx was exported from" in line and "moved, deleted or changed" in line
    assert "--reference" in line and "is not it" not in line, line
    ckpt = torch.load(tiny_ckpt, map_location="cpu", weights_only=True)   # with_args's weights, changed on disk
    key = next(iter(ckpt["net"]))
    ckpt["net"][key] = ckpt["net"][key] + 0.5
    torch.save(ckpt, alone / "with args.pt")
    line = one_line_error(cli("bench", alone / "model.onnx", "--trust-checkpoint", *CUT, "-o", tmp_path / "c"))
    assert "'with args.pt' there is not it (another sha256" in line and "--reference" in line, line
    res = cli("bench", alone / "model.onnx", "--reference", alone / "with args.pt", "--trust-checkpoint", *CUT,
              "-o", tmp_path / "d")
    assert "two models" in res.output, res.output   # passed by hand, the other weights are called out
