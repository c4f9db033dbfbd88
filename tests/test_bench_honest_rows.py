"""`dt bench` says what its numbers are: the reference row is the reference (not a pass against itself), a graph made
for TensorRT timed by ONNX Runtime is marked as not TensorRT's latency, and a synthetic train set is named as
training photos."""

from __future__ import annotations

import json

import onnx
import pytest

from droptrack.data import generate_synth
from droptrack.export.onnx import read_metadata, set_metadata
from helpers import cli


@pytest.fixture(scope="module")
def bench(tiny_ckpt, tmp_path_factory):
    """`dt bench tiny.pt model_int8_trt.onnx` on a 2x6 synthetic set of the train split (`dt data synth`'s default);
    the graph is the FP32 export with the metadata dt export writes on its TensorRT INT8 graph (precision int8,
    int8_target trt): what bench reads to know the graph's target."""
    from droptrack.export.pipeline import export_onnx

    d = tmp_path_factory.mktemp("honest")
    fp32 = export_onnx(tiny_ckpt, output_dir=d / "deploy").path
    model = onnx.load(str(fp32))
    meta = read_metadata(fp32)
    meta.precision, meta.extra["int8_target"] = "int8", "trt"
    set_metadata(model, meta)
    trt = d / "deploy" / "model_int8_trt.onnx"
    onnx.save(model, str(trt))
    train = cli("data", "synth", d / "train", "--sequences", 2, "--frames", 6, "--size", "160x120")
    assert train.exit_code == 0, train.output
    out = d / "out"
    res = cli("bench", tiny_ckpt, trt, "--data", d / "train", "--output", out, "--threads", 1)
    return res, out, json.loads((out / "bench.json").read_text()), (out / "bench.md").read_text()


def _md_row(md: str, name: str) -> list[str]:
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| {name} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_reference_row_reads_as_the_reference_not_a_pass(bench):
    res, _, js, md = bench
    ref, trt = js["rows"]
    assert "✅" not in _md_row(md, "tiny")[3]
    assert _md_row(md, "tiny")[3] == "— (reference)"
    assert ref["is_reference"] is True and trt["is_reference"] is False
    assert ref["status"] == "passed" and ref["gates"]          # bench.json keeps its fields as they were
    table_line = next(ln for ln in res.output.splitlines() if "│ tiny " in ln)
    assert "reference" in table_line and "passed" not in table_line
    gates = md.split("## Gates", 1)[1].split("##", 1)[0] if "## Gates" in md else ""
    assert "- tiny:" not in gates                              # no gate checked against itself is listed


def test_tensorrt_graph_timed_by_onnxruntime_is_marked(bench):
    res, _, js, md = bench
    ref, trt = js["rows"]
    cells = _md_row(md, "model_int8_trt")
    assert all(c.endswith("*") for c in cells[10:15]), cells    # ms p50, ms p95, ms p99, model p50, FPS
    assert not any(c.endswith("*") for c in _md_row(md, "tiny"))
    assert (trt["runtime"], trt["target_runtime"], trt["latency_on_target"]) == ("onnxruntime", "tensorrt", False)
    assert (ref["runtime"], ref["latency_on_target"]) == ("pytorch", True)
    note = next(n for n in js["notes"] if n.startswith("model_int8_trt:"))
    assert "onnxruntime" in note and "tensorrt" in note and "--engine" in note
    assert note in md and "model_int8_trt: * its latency" in " ".join(res.output.split())


def test_train_split_scores_are_named_training_photos(bench, tmp_path):
    res, _, js, md = bench
    assert "training photos" in md and "--split val" in " ".join(res.output.split())
    assert js["data"]["split"] == "train" and js["data"]["training_photos"] is True
    note = next(n for n in js["notes"] if "training photos" in n)   # names the rows' models, as dt eval its -m file
    assert "the default model was trained on its photos: if tiny or model_int8_trt was trained or fine-tuned on such " \
           "a set, its scores are on training photos" in note
    assert "so these scores are on training photos" not in note     # the default model's wording: it was not benched
    assert note in md and note in " ".join(res.output.split())


def test_train_split_note_names_opencv_rows_and_skips_failed_ones():
    from droptrack.eval.bench_data import BenchData

    data = BenchData("synthetic", "SET", None, "synth", [], split="train")
    assert "(kcf and csrt learn nothing from them), so a model's scores here" in data.split_note([], ["kcf", "csrt"])
    both = data.split_note(["a"], ["kcf"])
    assert "(kcf learns nothing from them): if a was trained or fine-tuned on such a set, its scores" in both
    assert data.split_note([], []) is None                               # every row failed: no scores to qualify


def test_held_out_set_has_no_training_note(tiny_ckpt, tmp_path):
    val = generate_synth(tmp_path / "val", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    res = cli("bench", tiny_ckpt, "--data", val, "--output", tmp_path / "out", "--threads", 1)
    js = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert "training photos" not in res.output
    assert js["data"]["split"] == "val" and js["data"]["training_photos"] is False


def test_target_runtime_from_metadata_or_old_graph_names():
    from droptrack.eval.bench_rows import target_runtime

    assert target_runtime("onnx", "int8", {"int8_target": "trt"}, "x.onnx") == "tensorrt"
    assert target_runtime("onnx", "int8", {"int8_target": "ort"}, "model_int8_trt.onnx") == "onnxruntime"
    assert target_runtime("onnx", "int8", {}, "d/model_int8_trt.onnx") == "tensorrt"   # exported before the key
    assert target_runtime("onnx", "int8", {}, "quantized.onnx") is None
    assert target_runtime("onnx", "fp16", {}, "model_fp16.onnx") is None
    assert target_runtime("engine", "int8", {}, "model_int8_trt.engine") == "tensorrt"


def test_eval_on_a_train_set_says_training_photos(tiny_ckpt, tmp_path):
    """`dt data synth OUT` makes the train split; dt eval on it names the scores as training photos, on val not."""
    for split in ("train", "val"):
        made = cli("data", "synth", tmp_path / split, "--sequences", 1, "--frames", 4, "--size", "160x120",
                   "--split", split)
        assert made.exit_code == 0, made.output
        res = cli("eval", "--dataset", "synth", "--root", tmp_path / split, "-m", tiny_ckpt, "--output",
                  tmp_path / f"out_{split}", "--threads", 1)
        assert res.exit_code == 0, res.output
        text = " ".join(res.output.split())
        assert ("training photos" in text and "--split val" in text) == (split == "train"), res.output


def test_eval_training_photos_note_escapes_a_newline_in_the_folder_name(tmp_path):
    """The note names the set's folder: a newline in that name is shown as \\n, not printed as a line break."""
    pytest.importorskip("cv2")
    root = generate_synth(tmp_path / "a\nb", sequences=1, frames=4, seed=0, size=(96, 72), split="train")
    res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "--output", tmp_path / "out")
    assert res.exit_code == 0, res.output
    note = next(line for line in res.output.splitlines() if "training photos" in line)
    assert "a\\nb" in note and not note.startswith("b")

def test_latency_plot_marks_a_graph_timed_off_its_target():
    """latency.png is what gets shared: the TensorRT graph's bar timed by ONNX Runtime says so, the others not."""
    from droptrack.eval.bench_plot import latency_figure
    from droptrack.eval.bench_rows import BenchRow
    from droptrack.eval.bench_timing import Latency

    lat = Latency({"p50": 5.0}, {"mean": 5.0, "p50": 5.0}, {"infer": 5.0}, frames=10, warmup_frames=2)
    rows = [BenchRow("model", "model.onnx", "onnx", "fp32", latency=lat),
            BenchRow("model_int8_trt", "model_int8_trt.onnx", "onnx", "int8", latency=lat, target_runtime="tensorrt")]
    labels = [t.get_text() for t in latency_figure(rows).axes[0].get_yticklabels()]
    assert labels == ["model_int8_trt (onnx int8) * onnxruntime, not tensorrt", "model (onnx fp32)"]
