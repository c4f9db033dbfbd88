"""An INT8 graph rewritten without --auto-precision drops the earlier search's auto_precision_<target>.json: its
kept groups describe a graph that is no longer in the folder."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime")


def test_int8_without_search_drops_earlier_search_report(tiny, tmp_path):
    from helpers import cli

    out = tmp_path / "deploy"
    out.mkdir()
    earlier = {"target": "ort", "max_divergence": 0.02, "val": "synth val", "kept": ["block2.qkv"], "passed": True}
    (out / "auto_precision_ort.json").write_text(json.dumps(earlier))
    (out / "auto_precision_trt.json").write_text(json.dumps({**earlier, "target": "trt"}))
    r = cli("export", tiny[0], "--int8", "--int8-target", "ort", "--calib-pairs", 8, "-o", out)
    assert r.exit_code == 0, r.output
    assert (out / "model_int8_ort.onnx").is_file()
    assert not (out / "auto_precision_ort.json").exists()
    assert json.loads((out / "auto_precision_trt.json").read_text())["target"] == "trt"   # its graph is untouched
