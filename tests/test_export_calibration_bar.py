"""`dt export --int8` calibrated for a minute without a word on a ViT-B 384 (55 s at 32 pairs, 163 s at 64, on one
CPU thread): a progress bar now counts the calibration pairs as ONNX Runtime takes them, where a calibration runs
(the TensorRT graph's; the ONNX Runtime graph is dynamic, none), and only where asked (dt demo has its own bar)."""

from __future__ import annotations

from droptrack.eval import bench_timing
from droptrack.export.calibration import calibration_pairs
from droptrack.export.onnx import read_metadata
from droptrack.export.quantize import Int8Recipe, quantize_int8


def _recorded(monkeypatch) -> list:
    """Every bar opened from now on: [label, enabled, [(done, total), ...]]."""
    opened = []

    class Bar:
        def __init__(self, label, enabled=True):
            opened.append([label, enabled, []])

        def __enter__(self):
            return lambda done, total: opened[-1][2].append((done, total))

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(bench_timing, "bar", Bar)
    return opened


def test_calibration_counts_its_pairs_only_where_asked(onnx_model, tmp_path, monkeypatch):
    opened = _recorded(monkeypatch)
    meta = read_metadata(onnx_model)
    pairs, source = calibration_pairs(meta, None, 8)
    quantize_int8(onnx_model, tmp_path / "a.onnx", meta, pairs, source, Int8Recipe(target="trt"), progress=True)
    (label, enabled, updates), = opened
    assert label == "calibrating INT8 on 8 pairs" and enabled and updates[-1] == (8, 8), opened
    assert [d for d, _ in updates] == sorted(d for d, _ in updates) and {t for _, t in updates} == {8}
    opened.clear()
    quantize_int8(onnx_model, tmp_path / "b.onnx", meta, pairs, source, Int8Recipe(target="trt"))
    assert [o[1] for o in opened] == [False]   # not asked: no bar shown
    opened.clear()
    quantize_int8(onnx_model, tmp_path / "c.onnx", meta, pairs, source, Int8Recipe(target="ort"), progress=True)
    assert opened == []   # dynamic: nothing is calibrated
