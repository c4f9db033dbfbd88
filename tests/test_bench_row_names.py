"""Rows and trackers of the same name: `dt bench` named two model.onnx from different folders 'model' and
'model_1' (which is which?) and, beside a model_2.onnx, gave two rows the name 'model_2' (one results folder for
both); report.json's `differences` rows key the scores by tracker name, so two trackers of one name (or one named
'sequence' or 'diff') overwrote each other there."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import FakeSeq, cli

from droptrack.eval import results as R
from droptrack.eval.bench_options import row_names
from droptrack.eval.report import analyze


def test_row_names_are_unique_and_say_which_folder():
    assert row_names(["x/model_2.onnx", "a/model.onnx", "b/model.onnx"]) == ["model_2", "a_model", "b_model"]
    assert row_names(["a/model.onnx", "b/model.onnx", "c/a_model.pt"]) == ["a_model_1", "b_model", "a_model"]
    assert row_names(["a/model.onnx", "a/model.pt"]) == ["a_model", "a_model_1"]
    assert row_names(["final.pt", "deploy/model_fp16.onnx"]) == ["final", "model_fp16"]   # no clash: unchanged


def _two_trackers(tmp_path):
    """Two sequences; the first tracker's boxes are the ground truth, the second's never overlap it."""
    seqs = [FakeSeq(f"s{k}", "otb", np.array([[20.0 + 3 * i, 30.0, 40.0, 30.0] for i in range(10)])) for k in range(2)]
    for folder, shift in (("a", 0.0), ("b", 200.0)):
        for s in seqs:
            boxes = s.boxes.copy()
            boxes[1:, 0] += shift
            R.write_result(tmp_path / folder / f"{s.name}.txt", boxes)
    return seqs, [tmp_path / "a", tmp_path / "b"]


def test_differences_keep_both_trackers_of_one_name(tmp_path):
    seqs, dirs = _two_trackers(tmp_path)
    for names in (["model", "model"], ["diff", "sequence"]):
        rep = analyze(dirs, seqs, names=names, output_dir=tmp_path / "out")
        first, second = (t.name for t in rep.trackers)
        assert first != second and {first, second}.isdisjoint({"sequence", "diff"})
        rows = json.loads((tmp_path / "out" / "report.json").read_text())["differences"]
        assert [sorted(r) for r in rows] == [sorted(["sequence", first, second, "diff"])] * 2
        for r in rows:   # 21 thresholds 0, 0.05, ..., 1 and IoU > threshold: an exact box passes 20 of them; the
            # miss overlaps only on frame 0 (the given box), 1 frame of 10
            assert (r[first], r[second], r["diff"]) == pytest.approx((20 / 21, 2 / 21, 18 / 21))


def test_bench_rows_of_one_stem_get_their_own_folders_and_names(onnx_model, tiny_ckpt, tmp_path):
    arts = []
    for sub, name in (("x", "model_2.onnx"), ("a", "model.onnx"), ("b", "model.onnx")):
        (tmp_path / sub).mkdir()
        arts.append(tmp_path / sub / name)
        arts[-1].write_bytes(onnx_model.read_bytes())
    out = tmp_path / "bench"
    r = cli("bench", *arts, "--reference", tiny_ckpt, "--sequences", "1", "--frames", "3", "--threads", "1",
            "-o", out)
    assert r.exit_code == 0, r.output
    bench = json.loads((out / "bench.json").read_text())
    assert [(row["name"], row["artifact"]) for row in bench["rows"]] == list(zip(["model_2", "a_model", "b_model"],
                                                                                  map(str, arts)))
    assert [row["eval"]["result_dir"] for row in bench["rows"]] == [str(out / "results" / n)
                                                                    for n in ("model_2", "a_model", "b_model")]
    report = json.loads((out / "report.json").read_text())
    assert [t["name"] for t in report["trackers"]][:3] == ["model_2", "a_model", "b_model"]
    table = [ln for ln in r.output.splitlines() if ln.startswith("│")]
    assert [ln.split("│")[1].strip() for ln in table] == ["model_2", "a_model", "b_model"]
