"""TensorRT runtime path checks that run without a GPU: upload ordering, device choice, address binding, timing.

The real engine runs are the `gpu` tests in test_export.py and benchmarks/gpu_check.sh; here the CUDA pieces
(events, execution context, device queries) are replaced by small fakes that record what was asked of them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from droptrack.config import meta_from_config
from droptrack.config import load_config
from droptrack.engine import trt_compat
from droptrack.engine.base import Backend, DeviceTiming
from droptrack.engine.tensorrt_backend import TensorRTBackend, cuda_index, sidecar_path
from droptrack.errors import BackendError
from droptrack.runtime.device_tracker import PinnedUploader


class FakeEvent:
    """Records record/synchronize calls in a shared log; elapsed_time returns a fixed value."""

    count = 0

    def __init__(self, log: list, elapsed: float = 0.0):
        FakeEvent.count += 1
        self.id, self.log, self.elapsed = FakeEvent.count, log, elapsed

    def record(self, stream=None):
        self.log.append(("record", self.id))

    def synchronize(self):
        self.log.append(("sync", self.id))

    def elapsed_time(self, end: "FakeEvent") -> float:
        return end.elapsed


def test_pinned_upload_waits_for_the_copy_that_last_read_a_buffer():
    """With 2 buffers, frame 3 reuses frame 1's buffer only after frame 1's copy event completed."""
    log: list = []
    up = PinnedUploader(torch.device("cpu"), slots=2, event=lambda: FakeEvent(log), pin=False)
    frames = [np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    for f in frames:
        out = up(f)
        assert np.array_equal(out.numpy(), f)
        log.append(("upload-done", int(f[0, 0, 0])))
    first, second, third = [e[1] for e in log if e[0] == "record"][:3]
    # buffer 0: recorded after frame 10; synchronised before frame 30 is written into it
    i_sync = log.index(("sync", first))
    assert log.index(("upload-done", 20)) < i_sync < log.index(("record", third))
    assert log.index(("sync", second)) > log.index(("upload-done", 30))
    assert ("sync", third) not in log  # frame 30's buffer not reused yet (frame 40 went to buffer 1)


def test_cuda_index_parsing():
    assert [cuda_index(d) for d in (None, "cuda", "cuda:0", "cuda:3", 2)] == [0, 0, 0, 3, 2]
    for bad in ("cpu", "cuda:x", "gpu:1", "cuda:", "cuda:-1", "cuda:²", "cuda:1 "):
        with pytest.raises(BackendError, match="--device cuda"):
            cuda_index(bad)


class FakeContext:
    def __init__(self, refuse: str = ""):
        self.refuse, self.bound, self.ran = refuse, {}, False

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        if name == self.refuse:
            return False
        self.bound[name] = ptr
        return True

    def execute_async_v3(self, stream: int) -> bool:
        self.ran = True
        return True


def test_refused_tensor_address_is_a_one_line_error_and_nothing_runs():
    ok = FakeContext()
    trt_compat.enqueue(ok, {"template": 512, "search": 1024}, 0)
    assert ok.ran and ok.bound == {"template": 512, "search": 1024}
    bad = FakeContext(refuse="search")
    with pytest.raises(BackendError, match="refused the device address of tensor 'search'") as exc:
        trt_compat.enqueue(bad, {"template": 512, "search": 1024 + 64}, 0)
    assert not bad.ran and "\n" not in str(exc.value) and "64 bytes past 256-byte alignment" in str(exc.value)


def test_execution_context_that_tensorrt_could_not_create_is_a_one_line_error():
    from types import SimpleNamespace

    ctx = object()
    assert trt_compat.execution_context(SimpleNamespace(create_execution_context=lambda: ctx)) is ctx
    with pytest.raises(BackendError, match="could not create an execution context") as exc:
        trt_compat.execution_context(SimpleNamespace(create_execution_context=lambda: None))
    assert "\n" not in str(exc.value) and "free GPU memory" in str(exc.value) and "--device cuda:N" in str(exc.value)


class FakeBuilderConfig:
    """create_timing_cache: None for b"junk"; set_timing_cache: False for a cache made on another GPU."""

    def __init__(self):
        self.attached = []

    def create_timing_cache(self, data: bytes):
        return None if data == b"junk" else ("cache", data)

    def set_timing_cache(self, cache, ignore_mismatch: bool) -> bool:
        assert ignore_mismatch is False
        if cache[1] == b"other-gpu":
            return False
        self.attached.append(cache[1])
        return True


def test_timing_cache_tensorrt_does_not_take_is_replaced_by_an_empty_one():
    for data, want in ((None, "new"), (b"saved", "reused"), (b"other-gpu", "refused"), (b"junk", "refused")):
        config = FakeBuilderConfig()
        assert trt_compat.attach_timing_cache(config, data) == want
        assert config.attached == [b"saved" if want == "reused" else b""]


def test_engines_are_built_without_tf32():
    """TensorRT turns TF32 on by default; cleared, FP32 layers (model.engine, the CE-ranking islands) stay FP32."""
    from types import SimpleNamespace

    cleared = []
    config = SimpleNamespace(clear_flag=cleared.append)
    assert trt_compat.disable_tf32(config, SimpleNamespace(BuilderFlag=SimpleNamespace(TF32="tf32")))
    assert cleared == ["tf32"]
    assert trt_compat.disable_tf32(config, SimpleNamespace(BuilderFlag=SimpleNamespace())) == [] and cleared == ["tf32"]


def test_one_tensorrt_logger_per_process():
    """Builder, runtime and inspector share one logger: TensorRT keeps only the first while any of them lives."""
    from fake_tensorrt import FakeTRT

    trt = FakeTRT().module()
    assert trt_compat.logger(trt) is trt_compat.logger(trt) and isinstance(trt_compat.logger(trt), trt.ILogger)


class TimedBackend(Backend):
    """A backend that (like TensorRT with torch inputs) returns before its device work: event timing."""

    name = "fake"

    def __init__(self, meta, log):
        super().__init__(meta)
        self.log, self.device_timed = log, True

    def _infer(self, template, search):
        if self.device_timed:
            self._device_timing = DeviceTiming(FakeEvent(self.log), FakeEvent(self.log, elapsed=7.5))
        f = self.meta.feat_size   # the maps a real backend returns (infer checks their shapes)
        return {"score_map": np.zeros((1, 1, f, f)), "size_map": np.zeros((1, 2, f, f)),
                "offset_map": np.zeros((1, 2, f, f))}


def test_device_timed_latency_is_resolved_from_events_when_read():
    log: list = []
    be = TimedBackend(meta_from_config(load_config("tiny_ce_test"), arch="droptrack"), log)
    z, x = np.zeros((1, 3, 64, 64), np.float32), np.zeros((1, 3, 128, 128), np.float32)
    be.infer(z, x)
    be.device_timed = False
    be.infer(z, x)
    assert not [e for e in log if e[0] == "sync"]           # nothing waited for during the calls
    lat = be.latencies_ms
    assert lat[0] == 7.5 and 0 <= lat[1] < 1000 and len(lat) == 2
    assert [e for e in log if e[0] == "sync"]                # reading resolved (waited for) the end event
    be.latencies_ms.clear()
    assert be.latencies_ms == []


def test_engine_for_another_gpu_index_is_refused_naming_the_index(tmp_path, monkeypatch):
    """--device cuda:1: the compatibility check looks at GPU 1 and the refusal names index 1."""
    meta = meta_from_config(load_config("tiny_ce_test"), arch="droptrack", precision="fp16")
    engine = tmp_path / "model_fp16.engine"
    engine.write_bytes(b"PLAN")
    built = {"tensorrt": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}
    sidecar_path(engine).write_text(json.dumps({"meta": meta.to_dict(), "env": built,
                                                "rebuild_command": "dt export model_fp16.onnx --engine",
                                                "recipe": 1}))   # built with the current recipe
    asked = []
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: (
        asked.append(device) or {"tensorrt": "10.3.0", "gpu": "RTX 4090", "compute_capability": "8.9"}))
    with pytest.raises(BackendError, match=r"GPU index 1 \(cuda:1\).*Orin.*RTX 4090.*dt export") as exc:
        TensorRTBackend(engine, device="cuda:1")
    assert asked == [1] and "\n" not in str(exc.value)
    with pytest.raises(BackendError, match="cuda:5 does not exist here"):
        TensorRTBackend(engine, device="cuda:5")


# ---------------------------------------------------------------- engine inspector summary and the GPU check report

# shaped like TensorRT 10's IEngineInspector JSON with ProfilingVerbosity.DETAILED (written by hand)
INSPECTOR_JSON = {
    "Layers": [
        {"Name": "Reformatting CopyNode for Input Tensor 0 to /patch_embed/Conv", "LayerType": "Reformat",
         "Inputs": [{"Name": "search", "Format/Datatype": "Row major linear FP32 format (kLINEAR)"}],
         "Outputs": [{"Name": "search_r", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
        {"Name": "/patch_embed/Conv", "LayerType": "CaskConvolution", "TacticName": "sm90_xmma_fprop_f16f16",
         "Outputs": [{"Name": "pe", "Format/Datatype": "Row major linear FP16 format (kLINEAR)"}]},
        {"Name": "{ForeignNode[/blocks.0/attn/MatMul.../blocks.0/attn/MatMul_1]}", "LayerType": "Myelin",
         "TacticName": "_gemm_mha_v2_0x1a2b", "Outputs": [{"Name": "a0", "Format/Datatype": "Half"}]},
        {"Name": "/blocks.3/TopK", "LayerType": "TopK",
         "Outputs": [{"Name": "v", "Format/Datatype": "Row major linear FP32 format (kLINEAR)"},
                     {"Name": "i", "Format/Datatype": "Row major linear Int32 format (kLINEAR)"}]},
        {"Name": "/blocks.4/mlp/fc1/MatMul", "LayerType": "CaskGemm", "TacticName": "sm90_int8_gemm",
         "Outputs": [{"Name": "f", "Format/Datatype": "Int8 NC/32HW32"}]},
    ],
    "Bindings": ["template", "search", "score_map", "size_map", "offset_map"],
}


def test_inspector_summary_counts_precisions_attention_and_reformats():
    from droptrack.engine.inspect import summarize_layers, tensor_dtype

    s = summarize_layers(json.dumps(INSPECTOR_JSON))
    assert s.detailed and s.layers == 5 and s.reformat_layers == 1
    assert s.output_precisions == {"fp16": 3, "fp32": 1, "int32": 1, "int8": 1}
    assert s.attention_layers == ["{ForeignNode[/blocks.0/attn/MatMul.../blocks.0/attn/MatMul_1]}"]
    assert s.layer_types["Myelin"] == 1 and s.io[0] == "template"
    assert [tensor_dtype(f) for f in ("Row major linear BF16 format", "Float", "Int64", "weird")] == \
        ["bf16", "fp32", "int64", "?"]
    # TensorRT 11 schema ("I/O Tensors") and a LAYER_NAMES_ONLY engine (layers are plain strings)
    names_only = summarize_layers({"Layers": ["Reformatting CopyNode x", "fmha_v2_flash_attention_fp16", "conv"],
                                   "I/O Tensors": [{"Name": "template"}, {"Name": "search"}]})
    assert not names_only.detailed and names_only.reformat_layers == 1 and names_only.attention_layers == \
        ["fmha_v2_flash_attention_fp16"] and names_only.io == ["template", "search"]


def _gpu_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gpu_check_report_lists_every_step_and_keeps_failures_visible(tmp_path):
    gc = _gpu_check()
    gc.write_json(tmp_path / "00_env.json", {"step": "env", "ok": True, "gpu": "NVIDIA H200", "tensorrt": "10.13",
                                             "seconds": 1.0})
    gc.write_json(tmp_path / "default_model_fp16_inspect.json",
                  {"step": "inspect", "ok": True, "model": "default", "engine": "model_fp16.engine", "layers": 5,
                   "output_precisions": {"fp16": 3, "fp32": 1}, "attention_layers": ["mha"], "reformat_layers": 1})
    gc.write_json(tmp_path / "default_model_fp16_track.json",
                  {"step": "track", "ok": True, "model": "default", "engine": "model_fp16.engine", "frames": 100,
                   "targets": 2, "mean_iou": 0.987, "min_iou": 0.41, "diverged_frames": 0.005,
                   "syncs_per_frame_max": 1})
    gc.write_json(tmp_path / "default_model_int8_latency.json",
                  {"step": "latency", "ok": False, "model": "default", "error": "Traceback ...\nRuntimeError: boom"})
    md = gc.build_report(tmp_path)
    assert md.startswith("# GPU check: NVIDIA H200")
    assert "| model_fp16.engine | default | 5 | fp16 3, fp32 1 | 1 | 1 |" in md
    assert "| model_fp16.engine | default | 100 x 2 | 0.9870 | 0.4100 | 0.5% | 1 |" in md
    assert "3 of 4 steps ok" in md and "RuntimeError: boom" in md


def test_gpu_check_report_without_tensorrt_says_whether_the_export_ran(tmp_path):
    """Without TensorRT `dt export --engine` is refused before any work: the report said the graphs were exported."""
    gc = _gpu_check()
    gc.write_json(tmp_path / "00_env.json", {"step": "env", "ok": True, "gpu": "NVIDIA H200", "unavailable": "no trt"})
    gc.write_json(tmp_path / "02_export_default.json", {"step": "run", "model": "export_default", "ok": False})
    assert "no ONNX graph was exported either" in gc.build_report(tmp_path)
    gc.write_json(tmp_path / "02_export_default.json", {"step": "run", "model": "export_default", "ok": True})
    assert "The export steps still ran" in gc.build_report(tmp_path)


def test_gpu_check_command_step_records_failure_and_timeout(tmp_path):
    import sys

    gc = _gpu_check()
    assert gc.main(["run", str(tmp_path), "--name", "ok", "--", sys.executable, "-c", "print('hello')"]) == 0
    assert gc.main(["run", str(tmp_path), "--name", "slow", "--timeout", "0.5", "--",
                    sys.executable, "-c", "import time; time.sleep(5)"]) == 1
    ok = json.loads((tmp_path / "02_ok.json").read_text())
    slow = json.loads((tmp_path / "02_slow.json").read_text())
    assert ok["ok"] and ok["log_tail"] == ["hello"]
    assert not slow["ok"] and "timeout" in slow["error"]
    assert gc.init_boxes((100, 300, 3), 2) == [[75.0, 37.5, 50.0, 25.0], [175.0, 37.5, 50.0, 25.0]]
    assert gc.box_iou([0, 0, 2, 2], [1, 0, 2, 2]) == pytest.approx(1 / 3)


class _T:
    def __init__(self, name, dtype="f32", execution=True):
        self.name, self.dtype, self.is_execution_tensor = name, dtype, execution


class FakeLayer:
    def __init__(self, name, kind, inputs, outputs, dtypes=None, execution=True):
        self.name, self.type, self.precision = name, kind, None
        dtypes = dtypes or ["f32"] * len(outputs)
        self._in, self.output_types = [_T(n) for n in inputs], {}
        self._out = [_T(n, d, execution) for n, d in zip(outputs, dtypes)]
        self.num_inputs, self.num_outputs = len(inputs), len(outputs)

    def get_input(self, k):
        return self._in[k]

    def get_output(self, k):
        return self._out[k]

    def set_output_type(self, k, dtype):
        self.output_types[k] = dtype


def test_weak_typing_pins_only_the_ce_ranking_branch_and_sigmoids():
    """flags typing: ranking Softmax/means/TopK and the sigmoid pinned; attention Softmax and LayerNorm free. Only
    floating point outputs get an output type (TopK's indices stay INT32); constants and shape tensors are left."""
    from types import SimpleNamespace

    kinds = SimpleNamespace(TOPK="topk", ACTIVATION="act", SOFTMAX="softmax", NORMALIZATION="norm", MATMUL="mm",
                            REDUCE="reduce", GATHER="gather", CONSTANT="const", SHAPE="shape")
    trt = SimpleNamespace(__version__="10.3.0", LayerType=kinds, float32="f32", float16="f16",
                          BuilderFlag=SimpleNamespace(FP16="FP16", INT8="INT8", OBEY_PRECISION_CONSTRAINTS="OBEY"))
    layers = [FakeLayer("ln", "norm", ["x"], ["xn"]),
              FakeLayer("qk", "mm", ["xn", "xn"], ["s"]), FakeLayer("attn_softmax", "softmax", ["s"], ["p"]),
              FakeLayer("pv", "mm", ["p", "xn"], ["y"]),
              FakeLayer("rank_qk", "mm", ["xn", "xn"], ["rs"]), FakeLayer("rank_softmax", "softmax", ["rs"], ["rp"]),
              FakeLayer("rank_axes", "const", [], ["axes"], ["i32"]),
              FakeLayer("rank_shape", "shape", ["rp"], ["rshape"], ["i64"], execution=False),
              FakeLayer("rank_mean", "reduce", ["rp", "axes", "rshape"], ["score"]),
              FakeLayer("topk", "topk", ["score"], ["v", "idx"], ["f32", "i32"]),
              FakeLayer("keep", "gather", ["y", "idx"], ["kept"]),
              FakeLayer("head/Sigmoid", "act", ["kept"], ["score_map"])]
    network = SimpleNamespace(num_layers=len(layers), get_layer=lambda i: layers[i], num_outputs=1,
                              get_output=lambda i: _T("score_map"))
    flags = []
    config = SimpleNamespace(set_flag=flags.append)
    notes = trt_compat.apply_precision(config, network, trt, "fp16", "flags")
    pinned = sorted(layer.name for layer in layers if layer.precision == "f32")
    assert pinned == ["head/Sigmoid", "rank_mean", "rank_qk", "rank_softmax", "topk"]
    assert flags == ["FP16", "OBEY"] and "5 layers pinned" in notes[-1]
    assert next(layer for layer in layers if layer.name == "topk").output_types == {0: "f32"}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pinned_upload_on_cuda_keeps_every_frame_intact():
    """Back-to-back uploads with no host sync: each device copy still holds its own frame."""
    up = PinnedUploader(torch.device("cuda", 0))
    frames = [np.random.default_rng(k).integers(0, 255, (720, 1280, 3), dtype=np.uint8) for k in range(6)]
    copies = [up(f).clone() for f in frames]          # clone is queued on the stream after the upload
    for f, c in zip(frames, copies):
        assert np.array_equal(c.cpu().numpy(), f)


@pytest.mark.gpu
def test_tensorrt_inspector_and_device_tracker_on_an_engine(tiny_ckpt, frames, tmp_path):
    """gpu_check.sh's engine step on the tiny model: the inspector's layer JSON, and DeviceTracker over the engine
    (torch CUDA buffers, the engine's own stream, 2 targets) against the host Tracker over a second backend of the
    same engine (numpy path); the first backend is dropped while the second one still runs (one TensorRT logger)."""
    reason = trt_compat.unavailable_reason()
    if reason:
        pytest.skip(reason)
    from droptrack.engine.inspect import engine_layer_info, summarize_layers
    from droptrack.export.pipeline import export_onnx
    from droptrack.export.tensorrt import build_engine
    from droptrack.geometry import box_iou
    from droptrack.runtime.device_tracker import DeviceTracker
    from droptrack.runtime.tracker import Tracker

    engine = build_engine(export_onnx(tiny_ckpt, output_dir=tmp_path).path, cache=tmp_path / "cache").path
    summary = summarize_layers(engine_layer_info(engine))
    assert summary.detailed and summary.layers > 0, summary
    host, dev = Tracker(TensorRTBackend(engine)), DeviceTracker(TensorRTBackend(engine, device="cuda:0"))
    inits = [[60.0, 40.0, 40.0, 50.0], [100.0, 60.0, 30.0, 30.0]]
    host.initialize_many(frames[0], inits)
    dev.initialize_many(frames[0], inits)
    for f in frames[1:6]:
        got, want = dev.track_many(f), host.track_many(f)
        assert (box_iou([g.box for g in got], [w.box for w in want]) > 0.95).all()
    host.backend.close()
    del host
    assert len(dev.track_many(frames[6])) == 2 and all(ms > 0 for ms in dev.backend.latencies_ms)
