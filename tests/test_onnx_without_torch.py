"""`dt run` and build_tracker with an ONNX model need neither torch installed nor imported (the host Tracker, the
NumPy Hann window, the thread setup, the device choice and the resume journal's model id are torch-free), and
write exactly the boxes of a run where torch is there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).parents[1]


def python(code: str, block_torch: bool) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python (with `import torch` failing, as on an install without it, when asked)."""
    prelude = "import sys\nsys.modules['torch'] = None\n" if block_torch else ""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Five 160x120 frames of a bright square drifting over noise."""
    out = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(1)
    for k in range(5):
        f = rng.integers(0, 60, (120, 160, 3), dtype=np.uint8)
        f[40 + 2 * k: 70 + 2 * k, 60 + 3 * k: 90 + 3 * k] = 200
        cv2.imwrite(str(out / f"{k + 1:04d}.png"), f)
    return out


def test_dt_run_on_an_onnx_model_runs_without_torch_with_the_same_boxes(onnx_model, folder, tmp_path):
    pytest.importorskip("onnxruntime")
    outputs = {}
    for blocked in (True, False):
        out = tmp_path / f"boxes_{blocked}.txt"
        args = ["dt", "run", str(folder), "--model", str(onnx_model), "--init", "60,40,30,30", "--output", str(out),
                "--jsonl", str(tmp_path / f"run_{blocked}.jsonl"), "--size-lr", "0.6"]
        r = python(f"import sys\nsys.argv = {args!r}\nfrom droptrack.cli import app\napp()", blocked)
        assert r.returncode == 0, r.stderr[-2000:]
        outputs[blocked] = out.read_text()
    assert outputs[True] == outputs[False] and len(outputs[True].splitlines()) == 5


def test_build_tracker_on_an_onnx_model_runs_without_torch(onnx_model):
    pytest.importorskip("onnxruntime")
    r = python(f"from droptrack import build_tracker\nt = build_tracker({str(onnx_model)!r}, None, 'cpu')\n"
               "print(type(t).__name__)", block_torch=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "Tracker"


def test_the_python_api_on_an_onnx_model_leaves_torch_unimported(onnx_model):
    pytest.importorskip("onnxruntime")
    code = f"""
import sys
import numpy as np
from droptrack import load_tracker
frame = np.zeros((120, 160, 3), np.uint8)
frame[40:70, 60:90] = 200
with load_tracker({str(onnx_model)!r}) as t:
    t.initialize(frame, (60, 40, 30, 30))
    t.track(frame)
print('torch' in sys.modules)
"""
    r = python(code, block_torch=False)                            # torch installed: still never imported
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"


def test_dt_run_on_an_onnx_model_leaves_an_installed_torch_unimported(onnx_model, folder, tmp_path):
    """No --device on a machine without a GPU driver: the device choice and the thread setup learn what they need
    without `import torch` (about 2 s of CPU, as much as the first 150 frames of a small model)."""
    pytest.importorskip("onnxruntime")
    from droptrack.engine.base import gpu_driver_present

    if gpu_driver_present():
        pytest.skip("a GPU driver is here: the device choice asks torch whether it sees the GPU")
    args = ["dt", "run", str(folder), "--model", str(onnx_model), "--init", "60,40,30,30", "--output",
            str(tmp_path / "boxes.txt"), "--threads", "1"]
    code = (f"import sys\nsys.argv = {args!r}\nfrom droptrack.cli import app\ntry:\n    app()\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nprint('torch' in sys.modules)")
    r = python(code, block_torch=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the device-node probe is Linux's")
def test_the_gpu_probe_asks_torch_only_where_a_gpu_device_node_exists(tmp_path, monkeypatch):
    """No node: no GPU, and torch is not asked; a node (here a stand-in file): torch decides."""
    from droptrack.engine import base

    node = tmp_path / "nvidiactl"
    monkeypatch.setattr(base, "GPU_DEVICE_NODES", (str(node),))
    assert base.gpu_driver_present() is False and base.cuda_available() is False
    node.touch()
    assert base.gpu_driver_present() is True


def test_dt_run_device_cpu_leaves_torch_unimported_where_a_gpu_driver_is(onnx_model, folder, tmp_path):
    """`--device cpu` with an ONNX model (the README: never imports torch) asked torch whether it saw a GPU first
    wherever a GPU driver is installed, a choice the user had already made (about 2 s of start-up). The driver is a
    stand-in device node here."""
    pytest.importorskip("onnxruntime")
    node = tmp_path / "nvidiactl"
    node.touch()
    args = ["dt", "run", str(folder), "--model", str(onnx_model), "--init", "60,40,30,30", "--output",
            str(tmp_path / "boxes.txt"), "--threads", "1", "--device", "cpu"]
    code = (f"import sys\nimport droptrack.engine.base as b\nb.GPU_DEVICE_NODES = ({str(node)!r},)\n"
            f"assert b.gpu_driver_present()\nsys.argv = {args!r}\nfrom droptrack.cli import app\ntry:\n    app()\n"
            "except SystemExit as e:\n    assert not e.code, e.code\nprint('torch' in sys.modules)")
    r = python(code, block_torch=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 5
