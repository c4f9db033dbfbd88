"""The embedded model's INT8 recipe: `dt export --int8` of it keeps the groups its recorded precision search chose
(benchmarks/results/precision_targets_v15_layer; with the crop grid, int8_kept_sets_v15), and only for exactly those
weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from droptrack.artifact import sha256_file
from droptrack.export.onnx import read_metadata
from droptrack.model.default import DEFAULT_INT8, default_checkpoint, int8_record_sha, searched_int8_kept
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
    """The graph keeps exactly the recorded groups of its procedure in FP32 (its metadata), says so,
    and `--int8-keep none` still quantizes every group."""
    r = cli("export", "--int8", "--int8-target", "ort", "--calib-pairs", "8", "-o", tmp_path / "s")
    assert r.exit_code == 0, r.output
    meta = read_metadata(tmp_path / "s" / "model_int8_ort.onnx")
    # the embedded model tracks with the crop grid (benchmarks/results/grid_target_v12), so its set is the grid's
    assert meta.tracker.get("CROP_GRID") == recorded()["crop_grid"]["value"]
    assert sorted(meta.extra["kept_groups"]) == sorted(recorded()["crop_grid"]["kept"]["ort"])
    assert "kept the groups the embedded model's precision search chose" in r.output
    r = cli("export", "--int8", "--int8-target", "ort", "--int8-keep", "none", "--calib-pairs", "8", "-o",
            tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert read_metadata(tmp_path / "a" / "model_int8_ort.onnx").extra["kept_groups"] == []


def test_a_crop_grid_graph_gets_the_kept_set_measured_with_the_grid():
    """The grid's kept set is the row its validation run recorded and its rule picks (the lowest pooled divergence
    among the sets at least 1.10x faster than FP32 in that run), on the same weights; another grid step, or none,
    keeps the default procedure's set."""
    rec, sha = recorded(), recorded()["checkpoint_sha256"]
    grid = rec["crop_grid"]
    report = json.loads((ROOT / grid["recorded_in"] / "report.json").read_text())
    row = report["rows"][grid["recorded_row"]]
    assert sorted(grid["kept"]["ort"]) == sorted(row["kept"])
    fast = [k for k in report["rows"] if report["speedup"][k] >= 1.10]
    assert grid["recorded_row"] == min(fast, key=lambda k: report["rows"][k]["pooled"]["divergence"])
    assert set(rec["kept"]["ort"]) < set(grid["kept"]["ort"])          # the search's set plus more groups
    assert sorted(searched_int8_kept(sha, "ort", 0.1)[0]) == sorted(row["kept"])
    assert searched_int8_kept(sha, "ort", 0.1)[1] == grid["recorded_in"]
    for other in (None, 0.05, 0.2):
        assert searched_int8_kept(sha, "ort", other)[0] == tuple(rec["kept"]["ort"])
    assert searched_int8_kept("0" * 64, "ort", 0.1) is None and searched_int8_kept("0" * 64, "trt", 0.1) is None


def test_the_grid_tensorrt_graph_keeps_the_set_its_validation_run_measured():
    """The TensorRT Q/DQ graph of a grid config keeps the candidate set of the recorded validation run (its graph's
    own metadata, written into the report), which diverged less than the default set there; without the grid the
    TensorRT graph keeps its default set (no recipe)."""
    rec, sha = recorded(), recorded()["checkpoint_sha256"]
    where = rec["crop_grid"]["recorded_in_trt"]
    report = json.loads((ROOT / where / "report.json").read_text())
    kept, div = report["rows"]["K16"]["kept"], report["validation"]
    assert div["K16"]["diverged"] < div["default"]["diverged"] and div["K16"]["diverged"] <= 0.03
    assert searched_int8_kept(sha, "trt", 0.1) == (tuple(rec["crop_grid"]["kept"]["trt"]), where)
    assert sorted(rec["crop_grid"]["kept"]["trt"]) == sorted(kept)
    assert set(report["rows"]["default"]["kept"]) < set(kept)   # the default set (attention cores, head, ...) + K16
    assert searched_int8_kept(sha, "trt") is None and searched_int8_kept(sha, "trt", 0.05) is None


def test_export_with_the_grid_turned_off_in_a_config_writes_the_default_kept_set(tmp_path):
    """`dt export --config` of the embedded config with `CROP_GRID: null` (the README's way back to the procedure
    without the grid) keeps the default procedure's searched groups in FP32, not the grid's, and says where they
    were measured; the embedded export (above) keeps the grid's."""
    import yaml

    cfg = yaml.safe_load((ROOT / "droptrack" / "configs" / "droptrack_tiny_synth.yaml").read_text())
    cfg["TEST"]["CROP_GRID"] = None
    (tmp_path / "nogrid.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("export", "--config", tmp_path / "nogrid.yaml", "--int8", "--int8-target", "ort", "--calib-pairs", "8",
            "-o", tmp_path / "g")
    assert r.exit_code == 0, r.output
    meta = read_metadata(tmp_path / "g" / "model_int8_ort.onnx")
    assert meta.tracker.get("CROP_GRID") is None
    assert sorted(meta.extra["kept_groups"]) == sorted(recorded()["kept"]["ort"])
    assert set(meta.extra["kept_groups"]) < set(recorded()["crop_grid"]["kept"]["ort"])
    assert Path(recorded()["recorded_in"]).name in " ".join(r.output.split())


def test_the_embedded_weights_in_another_file_get_the_recipe(tmp_path):
    """`dt export --safetensors` of the embedded model (train.md's way to share it) is another file, of another
    sha256: its INT8 export quantized every group, and both graphs failed dt bench's accuracy gate (ΔAUC -4.44 ORT,
    -1.67 TRT on carphone). Its tensors are the embedded model's: it gets the recorded kept set; changed weights do
    not."""
    import torch

    from droptrack.model.checkpoint import load_tracking_checkpoint, save_safetensors

    model, cfg = load_tracking_checkpoint(default_checkpoint())
    path = save_safetensors(tmp_path / "model.safetensors", model, cfg)
    again, _ = load_tracking_checkpoint(path)
    other = sha256_file(path)
    assert other != recorded()["checkpoint_sha256"]
    assert searched_int8_kept(int8_record_sha(other, again), "ort")[0] == tuple(recorded()["kept"]["ort"])
    with torch.no_grad():
        next(again.parameters()).view(-1)[0] += 1e-3   # one weight changed: another model
    assert searched_int8_kept(int8_record_sha(other, again), "ort") is None
