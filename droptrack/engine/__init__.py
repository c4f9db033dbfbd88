"""Backends that run one model file: torch (checkpoint), onnxruntime (.onnx), tensorrt (.engine)."""
