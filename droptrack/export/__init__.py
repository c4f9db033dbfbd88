"""Export: PyTorch -> verified ONNX (FP32, FP16, INT8 Q/DQ) -> TensorRT engines (with a build cache).

Library entry points (imported lazily so `import droptrack.export` stays cheap):
  export_onnx(checkpoint, config, output_dir, opset) -> ExportResult
  export_all(checkpoint, config, output_dir, opset, precisions, calib, calib_pairs, engine, ...) -> ExportReport
  build_engine(onnx_path, ...) -> EngineResult;  engine_cache_key(...) -> str
"""

from __future__ import annotations

_EXPORTS = {
    "export_onnx": "droptrack.export.pipeline", "export_all": "droptrack.export.pipeline",
    "ExportResult": "droptrack.export.pipeline", "ExportReport": "droptrack.export.pipeline",
    "ParityError": "droptrack.export.pipeline", "FILENAMES": "droptrack.export.pipeline",
    "build_engine": "droptrack.export.tensorrt", "engine_cache_key": "droptrack.export.tensorrt",
    "read_metadata": "droptrack.export.onnx",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'droptrack.export' has no attribute {name!r}")
