"""An engine folder copied to another machine (or opened from another folder) and refused there names a rebuild
command for the graph beside it, as the user names the engine (CPU: TensorRT faked, `fake_tensorrt`)."""

from __future__ import annotations

import json
import shlex
import shutil

import pytest

from droptrack.errors import BackendError


def _build_in(folder, onnx_model, monkeypatch, tmp_path):
    """`dt export deploy/model.onnx --engine --workspace 2` run in `folder` (the build machine's shell), as a relative
    path; the graph and engine in FOLDER/deploy."""
    from fake_tensorrt import install

    from droptrack.export.tensorrt import build_engine

    install(monkeypatch, cache=tmp_path / "cache")
    (folder / "deploy").mkdir(parents=True)
    shutil.copyfile(onnx_model, folder / "deploy" / "model.onnx")
    monkeypatch.chdir(folder)
    return build_engine("deploy/model.onnx", workspace_gb=2.0).path


def _command(message: str, after: str) -> list[str]:
    return shlex.split(message.split(after, 1)[1].split(";")[0])


def test_engine_refused_elsewhere_names_the_graph_beside_it(onnx_model, tmp_path, monkeypatch):
    """Built from `deploy/model.onnx` on one machine, the folder copied to /models/deploy on a Jetson and run from the
    home folder: the refusal said `dt export deploy/model.onnx ...` (the build's relative path), a file that is not
    there; now it names the graph beside the engine, with the build's --workspace."""
    from droptrack.engine import doctor, trt_compat
    from droptrack.engine.tensorrt_backend import TensorRTBackend

    built = _build_in(tmp_path / "workstation", onnx_model, monkeypatch, tmp_path)
    assert json.loads((built.parent / "model.engine.json").read_text())["rebuild_command"].startswith(
        "dt export deploy/model.onnx")
    copied = tmp_path / "jetson" / "models" / "deploy"
    shutil.copytree(built.parent, copied)
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path / "home")
    orin_nano = {"tensorrt": "10.3.0.30", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(orin_nano))
    engine = "../jetson/models/deploy/model.engine"
    with pytest.raises(BackendError, match="rebuild it on this machine") as exc:
        TensorRTBackend(engine)
    command = _command(str(exc.value), "rebuild it on this machine: ")
    assert command[:2] == ["dt", "export"] and command[3:] == ["--engine", "--workspace", "2"]
    assert (tmp_path / "home" / command[2]).resolve() == (copied / "model.onnx").resolve()
    [check] = doctor._engine_fits(tmp_path / "home" / engine, orin_nano)
    assert check.level == "error" and (tmp_path / "home" / _command(check.message, "rebuild: ")[2]).samefile(
        copied / "model.onnx")


def test_stale_engine_elsewhere_names_the_graph_beside_it(onnx_model, tmp_path, monkeypatch):
    """The same for an engine whose graph changed since its build (refused by every command, reported by doctor)."""
    from droptrack.engine import doctor
    from droptrack.engine.tensorrt_backend import TensorRTBackend

    built = "a" / _build_in(tmp_path / "a", onnx_model, monkeypatch, tmp_path)   # as named from tmp_path
    monkeypatch.chdir(tmp_path)
    graph = built.parent / "model.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")   # another graph beside the engine
    with pytest.raises(BackendError, match="is stale") as exc:
        TensorRTBackend(built)
    assert (tmp_path / _command(str(exc.value), "rebuild it: ")[2]).samefile(graph)
    [check] = doctor.engine_files(built)
    assert (tmp_path / _command(check.message, "rebuild it: ")[2]).samefile(graph)


def test_engine_moved_alone_keeps_the_recorded_command(tmp_path):
    """An engine moved without its graph: the graph is not beside it, so the build's own command (its path) stays."""
    from droptrack.engine.tensorrt_backend import rebuild_for

    info = {"onnx": "model.onnx", "workspace_bytes": 3 << 29, "typing": "flags",
            "rebuild_command": "dt export /srv/deploy/model.onnx --engine --workspace 1.5 --trt-typing flags"}
    assert rebuild_for(tmp_path / "model.engine", info) == info["rebuild_command"]
    (tmp_path / "model.onnx").write_bytes(b"graph")
    assert shlex.split(rebuild_for(tmp_path / "model.engine", info)) == [
        "dt", "export", str(tmp_path / "model.onnx"), "--engine", "--workspace", "1.5", "--trt-typing", "flags"]
    assert rebuild_for(tmp_path / "model.engine", {**info, "rebuild_command": "x\x1b[2J"}).startswith("dt export")
