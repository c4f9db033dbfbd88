"""The engine build (`export.tensorrt._build_plan`) and engine loading against a stand-in `tensorrt` module
(tests/fake_tensorrt.py: TensorRT 10's Python names and two behaviours of its bindings), on CPU."""

from __future__ import annotations

import signal
import sys

import pytest

from droptrack.errors import BackendError, ExportError
from fake_tensorrt import FakeTRT

ENV = {"tensorrt": "10.3.0", "cuda": "12.6", "gpu": "Orin", "compute_capability": "8.7"}


def _build(monkeypatch, tmp_path, fake: FakeTRT, typing: str = "strong", logged: list | None = None, module=None):
    from droptrack.export.tensorrt import _build_plan

    monkeypatch.setitem(sys.modules, "tensorrt", module or fake.module())
    log = (logged.append if logged is not None else lambda s: None)
    return _build_plan(tmp_path / "model_fp16.onnx", "fp16", typing, 1 << 30, tmp_path / "cache", ENV, log)


def test_build_strongly_typed_with_workspace_no_tf32_and_a_timing_cache_reused(monkeypatch, tmp_path):
    fake, logged = FakeTRT(), []
    plan, notes = _build(monkeypatch, tmp_path, fake, logged=logged)
    assert plan == b"PLAN" and logged == ["  TensorRT: Building engine (3 steps)"]
    flags, pools, builder_flags = fake.built[0]
    assert flags == 1 << 1 and pools == {"WORKSPACE": 1 << 30} and "TF32" not in builder_flags
    assert "TF32 off: FP32 layers compute in full FP32" in notes
    cache = list((tmp_path / "cache").glob("timing-*.cache"))
    assert [c.read_bytes() for c in cache] == [b"+timed"]                # the empty cache, after the build
    _, notes = _build(monkeypatch, tmp_path, fake)
    assert any(n.startswith("timing cache reused") for n in notes) and cache[0].read_bytes() == b"+timed+timed"


@pytest.mark.usefixtures("python_sigint")   # Python's own SIGINT handler, main thread: conftest.py
@pytest.mark.parametrize("where", ["phase_start", "step_complete", "log"])
def test_ctrl_c_during_a_build_stops_it_and_is_raised(monkeypatch, tmp_path, where):
    """A KeyboardInterrupt raised in a monitor callback is dropped by TensorRT's binding: the build went on
    (phase_start) or ended as a failed build, 'try a larger --workspace' (step_complete); now it stops and is raised.
    The same in a `log` call of the ONNX parser (the logger is Python now): raised after the parse, no build."""
    fake = FakeTRT(sigint_in=where)
    with pytest.raises(KeyboardInterrupt):
        _build(monkeypatch, tmp_path, fake)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not list((tmp_path / "cache").glob("timing-*.cache"))        # nothing saved from a stopped build
    assert len(fake.built) == (where != "log")


def test_tensorrt_that_cannot_initialise_cuda_is_a_one_line_error(monkeypatch, tmp_path):
    """trt.Builder / trt.Runtime raise TypeError('... factory function returned nullptr') when TensorRT cannot
    initialise CUDA: a traceback before; now the export and the engine load fail in one line naming what to check."""
    from droptrack.engine import trt_compat

    with pytest.raises(ExportError, match=r"could not create its builder .*nvidia-smi") as exc:
        _build(monkeypatch, tmp_path, FakeTRT(no_cuda=True))
    assert "\n" not in str(exc.value)
    trt = FakeTRT(no_cuda=True).module()
    with pytest.raises(BackendError, match="could not create its runtime") as exc:
        trt_compat.deserialize(trt, b"PLAN", trt.Logger())
    assert "\n" not in str(exc.value)
    with pytest.raises(TypeError, match="positional argument"):   # other TypeErrors stay what they are
        trt_compat.created(trt.Logger, "not", "a severity", what="logger")


def test_graph_with_a_dynamic_size_is_refused_before_the_build(monkeypatch, tmp_path):
    """No optimization profile is made, so TensorRT would fail the build after parsing ('try a larger --workspace')."""
    import onnx
    from onnx import TensorProto, helper

    from droptrack.config import load_config, meta_from_config
    from droptrack.engine import trt_compat
    from droptrack.export.onnx import set_metadata
    from droptrack.export.tensorrt import build_engine

    def io(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    names = [("template", "score_map"), ("search", "size_map"), ("search", "offset_map")]
    graph = helper.make_graph([helper.make_node("Identity", [a], [b]) for a, b in names], "g",
                              [io("template", ["batch", 3, 64, 64]), io("search", [1, 3, 128, 128])],
                              [io("score_map", ["batch", 3, 64, 64]), io("size_map", [1, 3, 128, 128]),
                               io("offset_map", [1, 3, 128, 128])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    set_metadata(model, meta_from_config(load_config("tiny_ce_test"), arch="droptrack"))
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    fake = FakeTRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(ENV))
    with pytest.raises(ExportError, match=r"input 'template' of model.onnx has a dynamic size \['batch', 3, 64, 64\]"):
        build_engine(path, cache=tmp_path / "cache")
    assert fake.built == [] and not (tmp_path / "model.engine").exists()


# what TensorRT logs (severity, message) in three failed builds: an unsupported node (TensorRT 10), GPU memory
# gone (TensorRT 10.3, NVIDIA/TensorRT#4258), tactics short of workspace (TensorRT 8.6, NVIDIA/TensorRT#3046)
NO_KERNEL = ((3, "Local timing cache in use."), (2, "Unused Input: extra"),
             (1, "IBuilder::buildSerializedNetwork: Error Code 10: Internal Error (Could not find any implementation "
                 "for node /blocks.0/attn/MatMul.)"))
GPU_OOM = ((1, "[defaultAllocator.cpp::allocate::31] Error Code 1: Cuda Runtime (out of memory)"),
           (2, "Requested amount of GPU memory (15485030400 bytes) could not be allocated. There may not be enough "
               "free memory for allocation to succeed."),
           (1, "IBuilder::buildSerializedNetwork: Error Code 10: Internal Error (Could not find any implementation "
               "for node {ForeignNode[/blocks.0/norm1...]}.)"))
SHORT_WORKSPACE = ((1, "[optimizer.cpp::computeCosts::3867] Error Code 4: Internal Error (Could not find any "
                       "implementation for node /patch_embed/Conv due to insufficient workspace. See verbose log for "
                       "requested sizes.)"),)


def test_a_failed_build_says_what_tensorrt_logged_not_try_a_larger_workspace(monkeypatch, tmp_path, capsys):
    """Every failed build said 'try a larger --workspace', which rarely helps; now the error names TensorRT's first
    error, and the build's warnings and errors are printed ([TRT] lines) and kept by the process's logger."""
    with pytest.raises(ExportError) as exc:
        _build(monkeypatch, tmp_path, FakeTRT(build_log=NO_KERNEL, fails=True))
    msg = str(exc.value)
    assert "from model_fp16.onnx: TensorRT reported 1 error(s), the first: IBuilder::buildSerializedNetwork: Error " \
           "Code 10: Internal Error (Could not find any implementation for node /blocks.0/attn/MatMul.)" in msg
    assert "--workspace" not in msg and "TensorRT log" in msg and "\n" not in msg
    err = capsys.readouterr().err
    assert "[TRT] [W] Unused Input: extra" in err and "[TRT] [E] IBuilder::buildSerializedNetwork" in err
    assert "Local timing cache" not in err   # INFO and VERBOSE stay out, as with trt.Logger(WARNING)


@pytest.mark.parametrize("logged, hint", [(GPU_OOM, "free GPU memory (nvidia-smi lists what holds it) or try a "
                                                    "smaller --workspace (now 1 GB)"),
                                          (SHORT_WORKSPACE, "try a larger --workspace (now 1 GB)")])
def test_workspace_is_suggested_only_when_tensorrt_logged_a_memory_shortage(monkeypatch, tmp_path, logged, hint):
    """GPU memory gone: a larger workspace makes it worse (TensorRT itself says to decrease it); tactics short of
    workspace: a larger one. A later build of the same process is judged on its own messages only."""
    fake = FakeTRT(build_log=logged, fails=True)
    trt = fake.module()
    with pytest.raises(ExportError) as exc:
        _build(monkeypatch, tmp_path, fake, module=trt)
    assert str(exc.value).endswith(hint) and f"the first: {logged[0][1]}" in str(exc.value)
    fake.build_log = NO_KERNEL
    with pytest.raises(ExportError) as exc:
        _build(monkeypatch, tmp_path, fake, module=trt)   # same module, same logger: the earlier errors are kept
    assert "--workspace" not in str(exc.value) and "reported 1 error(s)" in str(exc.value)


def test_tensorrt_messages_naming_graph_nodes_reach_the_terminal_as_text_on_one_line(monkeypatch, tmp_path, capsys):
    """TensorRT's messages name the user's graph and its nodes (names from elsewhere): a node name with an escape
    sequence or a newline went to the terminal raw, a newline making a second line that read as a [TRT] line."""
    log = ((2, "Unused Input: x\x1b[2J\n[TRT] [E] forged"), (1, "Could not find any implementation for node n\x07."))
    with pytest.raises(ExportError):
        _build(monkeypatch, tmp_path, FakeTRT(build_log=log, fails=True))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[TRT]")]
    assert lines == ["[TRT] [W] Unused Input: x\\x1b[2J\\n[TRT] [E] forged",
                     "[TRT] [E] Could not find any implementation for node n\\x07."], lines

def test_the_logger_keeps_a_message_it_cannot_print():
    """TensorRT's log is kept before it is printed: with stderr closed (`dt ... 2>&-`) the print fails (the binding
    drops that error) and the build's failure message would have lost what TensorRT reported."""
    import io

    from droptrack.engine.trt_log import recording_logger

    closed = io.StringIO()
    closed.close()
    logger = recording_logger(FakeTRT().module(), stream=closed)
    mark = logger.mark()
    with pytest.raises(ValueError):
        logger.log(1, "Error Code 1: Cuda Runtime (out of memory)")
    logger.log(4, "Parsing node: /patch_embed/Conv")   # VERBOSE: neither printed nor kept
    assert logger.since(mark) == [(1, "Error Code 1: Cuda Runtime (out of memory)")]


@pytest.mark.parametrize("outputs, search, problem", [
    (("y",), [1, 3, 128, 128], "inputs ['search', 'template'] and outputs ['y'], not ['template', 'search'] and "
                               "['score_map', 'size_map', 'offset_map']"),
    (("score_map", "size_map", "offset_map"), [1, 3, 96, 96],
     "input 'search' is float32 [1, 3, 96, 96], its metadata gives float32 [N, 3, 128, 128]")])
def test_a_graph_that_is_not_the_trackers_is_refused_before_the_build(monkeypatch, tmp_path, outputs, search, problem):
    """An .onnx with droptrack metadata but other I/O got an engine built (minutes on a real model) and 'next: dt run'
    printed, and every dt command then refused that engine; now the graph is refused first, TensorRT or not."""
    import onnx
    from onnx import TensorProto, helper

    from droptrack.config import load_config, meta_from_config
    from droptrack.export.onnx import set_metadata
    from helpers import cli, one_line_error

    def io(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    nodes = [helper.make_node("Identity", ["search"], [name]) for name in outputs]
    graph = helper.make_graph(nodes, "g", [io("template", [1, 3, 64, 64]), io("search", search)],
                              [io(name, search) for name in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    set_metadata(model, meta_from_config(load_config("tiny_ce_test"), arch="droptrack"))   # crops 64 and 128
    onnx.save(model, str(tmp_path / "other.onnx"))
    fake = FakeTRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    line = one_line_error(cli("export", tmp_path / "other.onnx", "--engine"))
    assert line == f"error: other.onnx is not a tracker graph that droptrack runs ({problem}); export the tracker " \
                   "with `dt export CHECKPOINT`"
    assert fake.built == [] and sorted(p.name for p in tmp_path.iterdir()) == ["other.onnx"]
