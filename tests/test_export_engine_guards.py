"""`dt export ... --engine` guards: the folder lock of `dt export GRAPH.onnx --engine`, the machine checked before any
work, and an engine whose parity check was interrupted. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

from __future__ import annotations

import sys

import pytest

from fake_tensorrt import FakeTRT, GraphAsEngine, install
from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def test_engine_from_a_graph_takes_the_folder_lock(onnx_model, tmp_path, tensorrt_here):
    """`dt export GRAPH.onnx --engine` wrote the engine with no lock: an export writing that folder at the same time
    could replace it under the other's sidecar. It now holds the export lock; only its own files' temp files are
    removed (the graph's folder is the user's, not an export's own)."""
    from droptrack.export.workdir import LOCK, exclusive

    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    with exclusive(tmp_path):   # another export holds the folder
        line = one_line_error(cli("export", graph, "--engine"))
    assert f"another dt export is writing to '{tmp_path}'" in line and "--output" not in line, line
    assert tensorrt_here.built == [] and not (tmp_path / "model.engine").exists()
    killed = tmp_path / ".model.engine.q9zab1_x.tmp"          # a killed build's atomic-write temp file
    other = tmp_path / ".notes.txt.k2v8m0pa.tmp"              # not ours
    killed.write_bytes(b"PL")
    other.write_text("mine")
    r = cli("export", graph, "--engine")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "model.engine").read_bytes() == b"PLAN" and len(tensorrt_here.built) == 1
    assert not killed.exists() and other.read_text() == "mine" and not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("graph", [False, True], ids=["checkpoint", "graph"])
def test_engine_on_a_machine_without_cuda_is_refused_before_any_work(tiny, onnx_model, tmp_path, monkeypatch, graph):
    """TensorRT installed, no CUDA GPU: `dt export CKPT --engine` exported every graph, then showed the engine as a
    skipped row (exit 0). Now one line naming the reason and the fix, exit 2, before anything is loaded or made."""
    import torch

    monkeypatch.setitem(sys.modules, "tensorrt", FakeTRT().module())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    if graph:
        src = tmp_path / "model.onnx"
        src.write_bytes(onnx_model.read_bytes())
        line = one_line_error(cli("export", src, "--engine"))
        assert "drop --engine" not in line and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    else:
        line = one_line_error(cli("export", tiny[0], "--engine", "-o", out))
        assert line.endswith("or drop --engine (the ONNX graphs need neither)") and not out.exists()
    assert line.startswith("error: --engine: no engine can be built on this machine: no CUDA GPU is visible"), line


def test_tensorrt_that_cannot_start_cuda_is_refused_before_any_work(tiny, tmp_path, tensorrt_here, monkeypatch):
    """torch sees the GPU but TensorRT cannot initialise CUDA (its builder is nullptr: a driver older than the
    wheel's CUDA): that was a FAILED row after the exports; now one line before them."""
    monkeypatch.setitem(sys.modules, "tensorrt", FakeTRT(no_cuda=True).module())
    line = one_line_error(cli("export", tiny[0], "--fp16", "--engine", "-o", tmp_path / "out"))
    assert "TensorRT could not create its builder" in line and "nvidia-smi" in line
    assert not (tmp_path / "out").exists()


class CheckedEngine(GraphAsEngine):
    """Stands in for TensorRTBackend in the parity check: answers as the FP32 graph beside it; Ctrl-C on the first
    inference while `interrupt` is set. `runs` counts the inferences (the checks made)."""

    interrupt, runs = False, 0

    def infer(self, template, search):
        if CheckedEngine.interrupt:
            CheckedEngine.interrupt = False
            raise KeyboardInterrupt
        CheckedEngine.runs += 1
        return self.graph.infer(template, search)


def test_ctrl_c_in_the_engine_check_leaves_no_engine_that_looks_verified(tiny, tmp_path, tensorrt_here, monkeypatch):
    """Ctrl-C during the parity check of `dt export CKPT --engine` left model.engine and its sidecar under their final
    names: taken for a verified engine by dt run / dt bench, and by the rerun's cache check. It is now kept as
    model.engine.unchecked (exit 130, one line); the rerun reuses that build, checks it, then gives it its name."""
    from droptrack.engine import tensorrt_backend

    monkeypatch.setattr(tensorrt_backend, "TensorRTBackend", CheckedEngine)
    monkeypatch.setattr(CheckedEngine, "interrupt", True)
    monkeypatch.setattr(CheckedEngine, "runs", 0)
    out = tmp_path / "out"
    r = cli("export", tiny[0], "--engine", "-o", out)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 130 and "Traceback" not in r.output and lines[-1].startswith("interrupted"), r.output
    assert not (out / "model.engine").exists() and not (out / "model.engine.json").exists()
    assert (out / "model.engine.unchecked").read_bytes() == b"PLAN" and (out / "model.engine.unchecked.json").is_file()
    r = cli("export", tiny[0], "--engine", "-o", out)
    assert r.exit_code == 0, r.output
    assert CheckedEngine.runs > 0 and len(tensorrt_here.built) == 1              # checked; the build was reused
    assert (out / "model.engine").read_bytes() == b"PLAN" and (out / "model.engine.json").is_file()
    assert not list(out.glob("*.unchecked*"))


def test_engine_of_a_graph_on_a_read_only_mount_is_one_line(onnx_model, tmp_path, tensorrt_here):
    """The engine goes beside its graph: on a read-only mount the build ran, then writing the plan was a traceback
    (EROFS is no PermissionError). Now one line before any work (needs root to mount; skipped elsewhere)."""
    import subprocess

    from disk_limits import tmpfs

    with tmpfs(tmp_path / "ro", "4m") as mnt:
        (mnt / "model.onnx").write_bytes(onnx_model.read_bytes())
        if subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        line = one_line_error(cli("export", mnt / "model.onnx", "--engine"))
        assert f"and '{mnt}' is not writable (Read-only file system); copy the graph" in line, line
        assert tensorrt_here.built == [] and sorted(p.name for p in mnt.iterdir()) == ["model.onnx"]


def test_a_workspace_larger_than_tensorrt_takes_is_one_line(tiny, tmp_path, tensorrt_here):
    """--workspace 1e12 (GB) is 2**70 bytes: TensorRT's binding refuses a size_t that large with a TypeError after the
    exports (the stand-in takes it); now one line before any work."""
    line = one_line_error(cli("export", tiny[0], "--engine", "--workspace", "1e12", "-o", tmp_path / "out"))
    assert "--workspace 1e+12 GB is more than TensorRT can take" in line and not (tmp_path / "out").exists()
    assert one_line_error(cli("export", tiny[0], "--engine", "--workspace", "8.6e9", "-o", tmp_path / "out"))
