"""The embedded model's INT8 recipe: `dt export --int8` of it keeps the groups its recorded precision search chose
(benchmarks/results/precision_targets_v12_layer), and only for exactly those weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from droptrack.artifact import sha256_file
from droptrack.export.onnx import read_metadata
from droptrack.model.default import DEFAULT_INT8, default_checkpoint, searched_int8_kept
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]


def recorded() -> dict:
    return json.loads((default_checkpoint().parent / DEFAULT_INT8).read_text())


def test_the_recipe_is_the_recorded_search_of_the_shipped_weights():
    """A new default model shipped without a new search fails here, not with another model's kept set: the recipe
    names the shipped file's sha256, and its groups are the ones the recorded search report chose."""
    rec = recorded()
    assert rec["checkpoint_sha256"] == sha256_file(default_checkpoint())
    report = json.loads((ROOT / rec["recorded_in"] / "report.json").read_text())
    assert report["checkpoint"].startswith("embedded default model")
    assert report["search"]["ort"]["passed"] and rec["kept"]["ort"] == report["search"]["ort"]["kept"]


def test_other_checkpoints_and_targets_get_no_recipe():
    sha = recorded()["checkpoint_sha256"]
    assert searched_int8_kept(sha, "ort")[0] == tuple(recorded()["kept"]["ort"])
    assert searched_int8_kept("0" * 64, "ort") is None
    assert searched_int8_kept(sha, "trt") is None          # the search was of the ORT graph only


def test_export_of_the_embedded_model_writes_the_searched_graph(tmp_path):
    """The graph keeps exactly the recorded groups in FP32 (its metadata, and no integer MatMul in them), says so,
    and `--int8-keep none` still quantizes every group."""
    r = cli("export", "--int8", "--int8-target", "ort", "--calib-pairs", "8", "-o", tmp_path / "s")
    assert r.exit_code == 0, r.output
    kept = recorded()["kept"]["ort"]
    meta = read_metadata(tmp_path / "s" / "model_int8_ort.onnx")
    assert sorted(meta.extra["kept_groups"]) == sorted(kept)
    assert "kept the groups the embedded model's precision search chose" in r.output
    r = cli("export", "--int8", "--int8-target", "ort", "--int8-keep", "none", "--calib-pairs", "8", "-o",
            tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert read_metadata(tmp_path / "a" / "model_int8_ort.onnx").extra["kept_groups"] == []
