"""The caches of the export benchmark scripts (benchmarks/*.py): each keeps its graphs and boxes apart per model
and settings, and never trusts a half-written file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from droptrack.errors import InputError
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


def benchmark_script(name: str):
    """A benchmarks/<name>.py script as a module (its caches are tested here)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_int8_accuracy_keeps_each_models_graphs_apart(tiny, tmp_path):
    """benchmarks/bench_int8_accuracy.py kept graphs and tracked boxes in --work itself, so --model OTHER silently
    reused the first model's; each checkpoint now has its own folder."""
    bench = benchmark_script("bench_int8_accuracy")
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path / "other.pt", build_model(tiny[2]).eval(), tiny[2])
    mine = bench.graph_folder(tmp_path, str(tiny[0]))
    assert mine.parent == tmp_path and mine != bench.graph_folder(tmp_path, str(other))
    assert mine == bench.graph_folder(tmp_path, str(tiny[0]))


def test_gpu_precision_check_reads_back_only_boxes_of_the_same_settings(tmp_path):
    """benchmarks/gpu_precision_check.py read any boxes_<mode>.npz in --out back, so a rerun with another --seed,
    --tracker-keys or default model compared old boxes; they now carry their settings and others stop the run."""
    from droptrack.artifact import atomic_savez

    check = benchmark_script("gpu_precision_check")
    mine, seed3 = check.run_settings(2, 40, 60, None), check.run_settings(3, 40, 60, None)
    assert len({mine, seed3, check.run_settings(2, 40, 60, {"CROP_GRID": 0.1})}) == 3
    saved = tmp_path / "boxes_cpu_fp32.npz"
    atomic_savez(saved, {"s1": np.ones((3, 4)), check.MS_KEY: np.float64(1.5), check.SETTINGS_KEY: np.str_(mine)})
    boxes, ms = check.read_saved(saved, mine)
    assert ms == 1.5 and list(boxes) == ["s1"]
    with pytest.raises(InputError, match="tracked with other settings"):
        check.read_saved(saved, seed3)


def test_gpu_check_reference_boxes_are_cached_per_graph(exported, tmp_path, frames):
    """benchmarks/gpu_check.py cached the ORT reference boxes under the graph's path only, so a model exported
    again to the same path (gpu_check.sh re-exports into one work folder) was compared with the old model's boxes."""
    import shutil

    gpu_check = benchmark_script("gpu_check")
    clip, boxes = frames[:3], gpu_check.init_boxes(frames[0].shape, 1)
    fresh = {}
    for name in ("model.onnx", "model_int8_ort.onnx"):
        shutil.copy(exported[0] / name, tmp_path / name)
        fresh[name] = gpu_check.ort_reference(tmp_path / name, clip, boxes)
    assert not np.array_equal(*fresh.values())               # the two graphs track differently
    graph = tmp_path / "work" / "model.onnx"
    for name in ("model.onnx", "model_int8_ort.onnx"):       # the same path, exported again
        graph.parent.mkdir(exist_ok=True)
        shutil.copy(exported[0] / name, graph)
        np.testing.assert_array_equal(gpu_check.ort_reference(graph, clip, boxes), fresh[name])
    assert not [p for p in graph.parent.iterdir() if p.name.endswith(".tmp")]


def test_bench_int8_cpu_never_trusts_a_half_written_graph(exported, tmp_path, monkeypatch):
    """benchmarks/bench_int8_cpu.py reuses its graphs by name; ORT's quantizers wrote them in place, so a kill
    mid-write left a truncated var_*.onnx that the rerun timed (or failed on). Now an interrupted write leaves
    nothing under the final name and the rerun makes the graph again."""
    import shutil

    import onnxruntime.quantization as oq

    bench = benchmark_script("bench_int8_cpu")
    shutil.copy(exported[0] / "model.onnx", tmp_path / "model.onnx")
    real = oq.quantize_dynamic

    def killed(model_input, model_output, **kw):
        Path(model_output).write_bytes(b"half an onnx file")
        raise KeyboardInterrupt

    monkeypatch.setattr(oq, "quantize_dynamic", killed)
    with pytest.raises(KeyboardInterrupt):
        bench.variants(tmp_path, "dynamic_per_channel")
    assert not (tmp_path / "var_dynamic_per_channel.onnx").exists()
    monkeypatch.setattr(oq, "quantize_dynamic", real)
    path = bench.variants(tmp_path, "dynamic_per_channel")["ort_int8_dynamic_per_channel"]
    assert onnx.load(str(path)).graph.node and not list(tmp_path.glob(".*.tmp"))
