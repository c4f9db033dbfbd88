"""A model file whose bytes are not the kind its suffix names (a text file renamed .onnx, a checkpoint named .onnx, an
ONNX graph named .pt, an empty download): one line naming what it holds and the fix, exit 2, before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from droptrack.artifact import content_problem
from droptrack.cli import app
from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import read_file
from helpers import one_line_error

runner = CliRunner()


def tiny_onnx(path: Path) -> Path:
    """A valid one-node ONNX model (not a tracker): its bytes are an ONNX graph."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])), path)
    return path


def test_real_files_of_each_kind_pass(tiny_ckpt, tmp_path):
    assert content_problem(tiny_ckpt) is None
    assert content_problem(tiny_onnx(tmp_path / "m.onnx")) is None
    assert content_problem(tiny_onnx(tmp_path / "M.ONNX")) is None


@pytest.mark.parametrize("low_byte", [0x80, 0x88, 0x50])   # lengths are multiples of 8
def test_a_safetensors_file_whose_header_length_starts_like_a_pickle_is_read(tmp_path, low_byte):
    """A .safetensors file's first byte is its header length's low byte; 0x80 is also a pickle's first byte (one file
    in 32, the length being padded to 8, came out as 'holds a PyTorch checkpoint')."""
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "m.safetensors"
    for pad in range(300):   # metadata padded until the header length's low byte is the one wanted
        save_file({"w": np.zeros(3, np.float32)}, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == low_byte:
            break
    assert path.read_bytes()[0] == low_byte
    assert content_problem(path) is None
    assert read_file(path)["w"].tolist() == [0.0, 0.0, 0.0]


def test_bench_of_a_text_file_named_onnx_is_refused_before_any_row_runs(tiny_ckpt, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_text("hello\n")
    out = tmp_path / "bench"
    line = one_line_error(runner.invoke(app, ["bench", str(fake), "--output", str(out), "--sequences", "1",
                                          "--frames", "3"]))
    assert "'" + str(fake) + "' is corrupt or not an ONNX graph" in line and "renamed .onnx" in line
    assert not (out / "bench.json").exists()   # before the fix: a 'failed' row, a report and exit 1


def test_bench_of_a_cut_short_graph_or_an_engine_without_its_sidecar_is_refused_before_any_row_runs(onnx_model,
                                                                                                      tmp_path):
    """A graph cut short keeps its first bytes (an ONNX header), and an engine's bytes are TensorRT's: both were a
    'failed' row after the whole reference run, a report and exit 1."""
    data = onnx_model.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) * 2 // 3])
    line = one_line_error(runner.invoke(app, ["bench", str(cut), "--output", str(tmp_path / "b1"), "--sequences", "1",
                                          "--frames", "3"]))
    assert f"model '{cut}' is not a readable ONNX file" in line and "re-export it" in line
    engine = tmp_path / "plan.engine"
    engine.write_bytes(b"\x00" * 64)
    line = one_line_error(runner.invoke(app, ["bench", str(engine), "--output", str(tmp_path / "b2"), "--sequences",
                                          "1", "--frames", "3"]))
    assert f"engine '{engine}' has no sidecar plan.engine.json" in line
    assert "`dt export GRAPH.onnx --engine` from the graph it was built from" in line   # no plan.onnx to name
    assert not (tmp_path / "b1").exists() and not (tmp_path / "b2").exists()


def test_checkpoint_named_onnx_says_rename_it(tiny_ckpt, tmp_path, video):
    renamed = tmp_path / "model.onnx"
    shutil.copy(tiny_ckpt, renamed)
    line = one_line_error(runner.invoke(app, ["run", str(video), "-m", str(renamed), "--device", "cpu",
                                          "--init", "60,40,40,50", "--max-frames", "2"]))
    assert "holds a PyTorch checkpoint, not an ONNX graph" in line and "rename it to .pt" in line


def test_onnx_graph_named_pt_says_rename_it(tmp_path):
    renamed = tmp_path / "weights.pt"
    tiny_onnx(tmp_path / "g.onnx").rename(renamed)
    line = one_line_error(runner.invoke(app, ["export", str(renamed), "--output", str(tmp_path / "exp")]))
    assert "holds an ONNX graph, not a PyTorch checkpoint" in line and "rename it to .onnx" in line


@pytest.mark.parametrize("name, kind", [("empty.pt", "a PyTorch checkpoint"), ("empty.onnx", "an ONNX graph"),
                                        ("empty.safetensors", "a .safetensors checkpoint")])
def test_empty_model_file_is_an_interrupted_download(tmp_path, name, kind):
    (tmp_path / name).write_bytes(b"")
    assert content_problem(tmp_path / name) == (f"'{tmp_path / name}' is empty (0 bytes), not {kind}: an interrupted "
                                                "download or copy; fetch or export it again")


def test_pretrained_onnx_graph_is_not_a_checkpoint(tmp_path):
    graph = tiny_onnx(tmp_path / "model.onnx")
    with pytest.raises(CheckpointError, match="is an ONNX graph, not a checkpoint; pass the PyTorch checkpoint"):
        read_file(graph)   # dt train --pretrained model.onnx said 'corrupt or not a PyTorch file (UnpicklingError)'


def test_a_plain_pickle_is_refused_without_torchs_protocol_warning(tmp_path):
    """A `pickle.dump` file (no PyTorch header) is the one-line 'not a PyTorch file' error alone: torch's
    UserWarning about the pickle protocol was printed above it, two lines of noise before the one that matters."""
    import pickle
    import warnings

    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match="is corrupt or not a PyTorch file"):
            read_file(raw)
    assert [str(w.message) for w in seen] == []


def test_a_folder_where_an_engines_sidecar_goes_is_named(tmp_path):
    """dt doctor said the engine had no sidecar and was not built by dt export (rebuild it): the rebuild would then
    fail on the folder. It names the folder now."""
    engine = tmp_path / "plan.engine"
    engine.write_bytes(b"\x00" * 64)
    (tmp_path / "plan.engine.json").mkdir()
    line = one_line_error(runner.invoke(app, ["doctor", str(engine)]))
    assert line == f"error: engine '{engine}' has a folder where its sidecar plan.engine.json goes; move it away"
