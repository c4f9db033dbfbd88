"""`--device cuda:N` with an ONNX graph: ONNX Runtime's CUDA and TensorRT providers run on the GPU their
`device_id` option names (0 when it is not given), so the index must reach them; it did not, and every `cuda:N`
graph ran on GPU 0. No GPU here: the session records the options it is given and runs on the CPU provider."""

from __future__ import annotations

import pytest

from droptrack.engine import onnxruntime_backend as ob

GPU_PROVIDERS = [ob.TRT, ob.CUDA, ob.CPU]


def test_provider_options_carry_the_gpu_index():
    trt, cuda, cpu = ob.provider_options(GPU_PROVIDERS, "cuda:1")
    assert cuda == {"device_id": 1} and trt["device_id"] == 1 and cpu == {}
    trt, cuda, _ = ob.provider_options(GPU_PROVIDERS, "cuda")
    assert cuda == {"device_id": 0} and trt["device_id"] == 0
    assert ob.provider_options([ob.CPU], "cpu") == [{}]


def test_ort_backend_opens_its_session_on_the_named_gpu(onnx_model, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    real = ort.InferenceSession
    seen = []

    class Session(real):
        """A CPU session that records the provider options and answers as if CUDA had started."""

        def __init__(self, path, so, providers, provider_options):
            seen.append(dict(zip(providers, provider_options)))
            super().__init__(path, so, providers=[ob.CPU])

        def get_providers(self):
            return [ob.CUDA, ob.CPU]

    monkeypatch.setattr(ort, "InferenceSession", Session)
    monkeypatch.setattr(ort, "get_available_providers", lambda: [ob.CUDA, ob.CPU])
    with ob.OrtBackend(onnx_model, device="cuda:1") as be:
        assert be.device == "cuda:1"
    assert seen == [{ob.CUDA: {"device_id": 1}, ob.CPU: {}}]


def test_tensorrt_provider_cache_is_one_per_onnxruntime_and_tensorrt_version(tmp_path, monkeypatch):
    """ONNX Runtime's TensorRT provider keeps engines and timing caches valid for the versions that wrote them only;
    one shared folder made an upgrade load the old ones. The folder also follows $DT_CACHE_DIR like `dt export`'s."""
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path))

    def folder(ort_version, trt_version):
        opts = ob.provider_options(GPU_PROVIDERS, "cuda", {"onnxruntime": ort_version, "tensorrt": trt_version})[0]
        return opts["trt_engine_cache_path"]

    first = folder("1.22.0", "10.9.0.34")
    assert first.startswith(str(tmp_path / "ort-trt")) and "1.22.0" in first and "10.9.0.34" in first
    assert len({first, folder("1.23.0", "10.9.0.34"), folder("1.22.0", "10.11.0.33")}) == 3


def test_tensorrt_provider_timing_cache_is_in_the_cache_folder_not_the_working_directory(tmp_path, monkeypatch):
    """ONNX Runtime writes the TensorRT provider's timing cache to the working directory unless
    trt_timing_cache_path names a folder: `dt run` on a graph left a TensorrtExecutionProvider_cache_*.timing file
    wherever the user stood."""
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path))
    trt = ob.provider_options(GPU_PROVIDERS, "cuda", {"onnxruntime": "1.22.0", "tensorrt": "10.9.0.34"})[0]
    assert trt["trt_timing_cache_enable"] is True
    assert trt["trt_timing_cache_path"] == trt["trt_engine_cache_path"]
    assert trt["trt_timing_cache_path"].startswith(str(tmp_path / "ort-trt"))
