"""dt eval (and dt bench, whose rows are dt eval folders) resume a results folder only for the same model bytes: an
ONNX graph that keeps its weights in an external data file beside it is pinned with that file, so other weights
there (the .onnx unchanged) are refused instead of mixing two models' sequences in one folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from droptrack.errors import CheckpointError, InputError
from droptrack.eval.resume import check_manifest, identity
from droptrack.eval.workers import TrackerSpec


def graph_with_external_weights(folder: Path, location: str = "w.bin") -> Path:
    """y = x + w with w (64 floats) stored in `location` (beside the graph: `w.bin`)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(64, dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])], [w])
    path = folder / "m.onnx"
    onnx.save_model(helper.make_model(graph), str(path), save_as_external_data=True, location="w.bin",
                    size_threshold=0)
    if location != "w.bin":   # the graph names another file (the bytes stay in w.bin)
        model = onnx.load(str(path), load_external_data=False)
        for e in model.graph.initializer[0].external_data:
            e.value = location if e.key == "location" else e.value
        onnx.save_model(model, str(path))
    return path


def test_other_weights_in_the_external_data_file_are_refused(tmp_path):
    model = graph_with_external_weights(tmp_path)
    out = tmp_path / "results"
    out.mkdir()
    spec = TrackerSpec(str(model), None, "cpu")
    ident = {**identity(spec, "synth"), "tracker_overrides": None, "realtime": None}
    check_manifest(out, ident, "cpu", {"seq1": "f1"})
    (out / "seq1.txt").write_text("1,2,3,4\n")
    graph = model.read_bytes()
    (tmp_path / "w.bin").write_bytes(np.arange(64, dtype=np.float32).tobytes()[::-1])   # other weights
    assert model.read_bytes() == graph
    again = {**identity(spec, "synth"), "tracker_overrides": None, "realtime": None}
    with pytest.raises(InputError, match="holds results of another run"):
        check_manifest(out, again, "cpu", {"seq1": "f1", "seq2": "f2"}, write=False)
    check_manifest(out, ident, "cpu", {"seq1": "f1", "seq2": "f2"}, write=False)   # the same bytes resume


def test_weights_outside_the_graphs_folder_are_refused_unread(tmp_path):
    """The identity hashed every location the graph names, before the loader's check that they lie in its folder:
    `/dev/zero` was read without end."""
    model = graph_with_external_weights(tmp_path, "/dev/zero")
    with pytest.raises(CheckpointError, match="external file '/dev/zero'.*it was not loaded"):
        identity(TrackerSpec(str(model), None, "cpu"), "synth")


def test_a_missing_or_cut_short_weight_file_is_named_before_onnx_runtime_reads_it(tmp_path):
    """ONNX Runtime's own error (an initializer's size check, an unreadable path) came out cut mid-word after a
    coloured log line; the tensor, the file and what is wrong with it are now one line, before any runtime loads it."""
    from droptrack.engine.onnx_files import check_external_data

    model = graph_with_external_weights(tmp_path)   # 64 float32 weights: bytes 0-256 of w.bin
    assert check_external_data(model, InputError) == ["w.bin"]
    weights = tmp_path / "w.bin"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(InputError, match=r"tensor 'w' in external file 'w.bin', which ends at byte 100, before the "
                                         r"tensor's last \(256\): a copy or download cut short"):
        check_external_data(model, InputError)
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(model), load_external_data=False)   # no 'length' entry: the size from dims and type
    entries = [(e.key, e.value) for e in graph.graph.initializer[0].external_data if e.key != "length"]
    del graph.graph.initializer[0].external_data[:]
    for key, value in entries:
        graph.graph.initializer[0].external_data.add(key=key, value=value)
    onnx.save_model(graph, str(model))
    with pytest.raises(InputError, match=r"ends at byte 100, before the tensor's last \(256\)"):
        check_external_data(model, InputError)
    weights.unlink()
    with pytest.raises(InputError, match="external file 'w.bin', which does not exist"):
        check_external_data(model, InputError)


def test_dt_run_on_a_graph_whose_weight_file_is_cut_short_is_one_line(onnx_model, tmp_path):
    from helpers import cli, one_line_error

    onnx = pytest.importorskip("onnx")
    path = tmp_path / "model.onnx"
    onnx.save_model(onnx.load(str(onnx_model)), str(path), save_as_external_data=True, location="w.bin")
    (tmp_path / "w.bin").write_bytes((tmp_path / "w.bin").read_bytes()[:1000])
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    for i in range(2):
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), np.full((64, 80, 3), 40 * i, np.uint8))
    line = one_line_error(cli("run", frames, "-m", path, "--init", "10,10,20,20", "-o", tmp_path / "b.txt"))
    assert "in external file 'w.bin', which ends at byte 1000" in line and "copy the .onnx" in line, line
    assert not (tmp_path / "b.txt").exists()
