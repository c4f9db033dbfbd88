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

        def __init__(self, path, so, providers, provider_options, **kw):
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


def _gpu_session(ort, made: list, fail_with_trt: bool = False, device_id: str | None = None):
    """A CPU session that records what it was asked for ((providers, options, kwargs) into `made`), fails to start
    while the TensorRT provider is among them (`fail_with_trt`: its engine build out of GPU memory), answers as if
    CUDA had started, and reports the CUDA provider's device_id (`device_id`: as asked)."""
    real = ort.InferenceSession

    class Session(real):
        def __init__(self, path, so, providers, provider_options, **kw):
            made.append((list(providers), dict(zip(providers, provider_options)), kw))
            if fail_with_trt and ob.TRT in providers:
                raise RuntimeError("TensorRT EP failed to create engine from network (out of memory)")
            self._asked = dict(zip(providers, provider_options))
            super().__init__(path, so, providers=[ob.CPU])

        def get_providers(self):
            return [ob.CUDA, ob.CPU]

        def get_provider_options(self):
            cuda = self._asked[ob.CUDA]
            return {ob.CUDA: {"device_id": device_id if device_id is not None else str(cuda["device_id"])}}

    return Session


def test_a_tensorrt_provider_that_fails_to_start_leaves_the_session_on_the_named_gpu(onnx_model, monkeypatch):
    """ONNX Runtime's own fallback retried a session whose TensorRT provider failed to start with no provider
    options: CUDA then ran on GPU 0 while dt said cuda:1. It is off; the TensorRT provider alone is dropped."""
    ort = pytest.importorskip("onnxruntime")
    made: list = []
    monkeypatch.setattr(ort, "InferenceSession", _gpu_session(ort, made, fail_with_trt=True))
    monkeypatch.setattr(ort, "get_available_providers", lambda: [ob.TRT, ob.CUDA, ob.CPU])
    monkeypatch.setattr("droptrack.engine.trt_compat.import_tensorrt", lambda: object())   # its libraries load
    with ob.OrtBackend(onnx_model, device="cuda:1") as be:
        assert be.device == "cuda:1"
    assert [m[0] for m in made] == [[ob.TRT, ob.CUDA, ob.CPU], [ob.CUDA, ob.CPU]]
    assert made[1][1] == {ob.CUDA: {"device_id": 1}, ob.CPU: {}}
    assert all(m[2].get("enable_fallback") == 0 for m in made), made


def test_a_session_on_another_gpu_than_named_is_refused(onnx_model, monkeypatch):
    from droptrack.errors import BackendError

    ort = pytest.importorskip("onnxruntime")
    monkeypatch.setattr(ort, "InferenceSession", _gpu_session(ort, [], device_id="0"))
    monkeypatch.setattr(ort, "get_available_providers", lambda: [ob.CUDA, ob.CPU])
    with pytest.raises(BackendError, match=r"put the CUDA provider on GPU 0, not cuda:1"):
        ob.OrtBackend(onnx_model, device="cuda:1")
