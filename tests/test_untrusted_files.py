"""Model files from someone else never run code or read files outside their folder: code-running pickles in every
checkpoint container, ONNX external data that escapes the model's folder, custom-op libraries, TensorRT engines
that carry code. Each is refused in one line (exit 2) before anything in it is used.
(tests/test_untrusted_metadata.py: hostile metadata, configs and JSON files.)"""

from __future__ import annotations

import ast
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from droptrack.engine import trt_compat
from droptrack.engine.onnx_files import external_data_problem, location_problem
from droptrack.errors import BackendError, CheckpointError
from droptrack.model.checkpoint import read_file
from helpers import cli, one_line_error

ROOT = Path(__file__).resolve().parents[1]
INIT = "60,40,40,50"


class RunsShell:
    """Pickles as os.system('touch MARKER'): a full unpickler would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    """Pickles as eval(...) writing the marker: builtins.eval is not one of the modules torch blocks outright."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


def write_evil(path: Path, container: str, payload) -> Path:
    """A checkpoint holding `payload` next to real-looking weights, in one of the containers users download."""
    obj = {"net": {"backbone.x": torch.zeros(2)}, "settings": payload}
    if container == "zip":
        torch.save(obj, path)
    elif container == "legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:                                   # a bare pickle (what pickle.dump of a checkpoint dict gives)
        with open(path, "wb") as f:
            pickle.dump(obj, f)
    return path


@pytest.mark.parametrize("payload", [RunsShell, RunsEval])
@pytest.mark.parametrize("name,container", [("evil.pt", "zip"), ("evil.pth.tar", "zip"), ("evil.pth.tar", "legacy"),
                                            ("evil.pth", "pickle"), ("evil.tar", "legacy")])
def test_code_running_pickles_are_refused_in_one_line_and_never_run(tmp_path, name, container, payload):
    marker = tmp_path / "pickle_ran_code"
    path = write_evil(tmp_path / name, container, payload(marker))
    with pytest.raises(CheckpointError) as err:
        read_file(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("container", ["zip", "legacy", "pickle"])
def test_trust_checkpoint_reads_code_as_inert_records_or_refuses_it_never_runs_it(tmp_path, container):
    marker = tmp_path / "pickle_ran_code"
    for payload in (RunsShell(marker), RunsEval(marker)):
        path = write_evil(tmp_path / "evil.pth.tar", container, payload)
        try:
            obj = read_file(path, trust=True)
        except CheckpointError as exc:
            assert "\n" not in str(exc)
        else:   # only names torch does not block outright: kept as a record of what would have been called
            assert obj["settings"]["__global__"] == "builtins.eval"
        assert not marker.exists()


def test_dt_run_and_export_refuse_a_code_running_checkpoint(tmp_path, video):
    marker = tmp_path / "pickle_ran_code"
    path = write_evil(tmp_path / "model.pth.tar", "zip", RunsShell(marker))
    for argv in (["run", video, "-m", path, "--device", "cpu", "--init", INIT, "--trust-checkpoint"],
                 ["export", path, "-o", tmp_path / "out"]):
        line = one_line_error(cli(*argv))
        assert "model.pth.tar" in line
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_package_reads_every_pickle_and_npy_weights_only():
    """Every torch.load says weights_only=True and every np.load allow_pickle=False (package and benchmarks)."""
    bad = []
    for py in [*(ROOT / "droptrack").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        for node in ast.walk(ast.parse(py.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)):
                continue
            module, name = node.func.value.id, node.func.attr
            kw = {k.arg: k.value for k in node.keywords}
            safe = {("torch", "load"): ("weights_only", True), ("np", "load"): ("allow_pickle", False),
                    ("numpy", "load"): ("allow_pickle", False)}.get((module, name))
            if module == "pickle" and name in ("load", "loads", "Unpickler"):
                bad.append(f"{py.relative_to(ROOT)}:{node.lineno} pickle.{name}")
            elif safe and not (safe[0] in kw and isinstance(kw[safe[0]], ast.Constant)
                               and kw[safe[0]].value is safe[1]):
                bad.append(f"{py.relative_to(ROOT)}:{node.lineno} {module}.{name}")
    assert not bad, bad


# ----- ONNX: external data must stay inside the model's folder -----


def with_external(src: Path, folder: Path, location: str) -> Path:
    """A copy of `src` in `folder` whose largest initializer is read from `location` (the bytes are also written to
    secret.bin beside `folder`, so a loader that follows the location would succeed)."""
    model = onnx.load(str(src))
    init = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    data = init.raw_data
    init.ClearField("raw_data")
    init.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(data)))):
        init.external_data.add(key=k, value=v)
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "secret.bin").write_bytes(data)
    onnx.save(model, str(folder / "model.onnx"))
    return folder / "model.onnx"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "nested dotdot"])
def test_onnx_whose_weights_lie_outside_its_folder_is_refused_before_loading(onnx_model, tmp_path, video, kind):
    folder = tmp_path / "model"
    location = {"dotdot": "../secret.bin", "absolute": str(tmp_path / "secret.bin"), "symlink": "w.bin",
                "nested dotdot": "sub/../../secret.bin"}[kind]
    path = with_external(onnx_model, folder, location)
    if kind == "symlink":
        os.symlink(tmp_path / "secret.bin", folder / "w.bin")
    bench = ["bench", path, "--device", "cpu", "--sequences", 1, "--frames", 3, "-o", tmp_path / "bench"]   # not ./out
    for argv in (["run", video, "-m", path, "--device", "cpu", "--init", INIT, "--output", tmp_path / "b.txt"],
                 ["export", path, "--engine"], bench):
        r = cli(*argv)
        line = one_line_error(r) if argv[0] != "bench" else r.output   # bench: a table, then its one error line
        assert r.exit_code in (1, 2) and "Traceback" not in r.output
        assert "outside its folder" in line and ("secret.bin" in line or "w.bin" in line), line
    assert not (tmp_path / "b.txt").exists()


def test_onnx_with_external_weights_inside_its_folder_still_runs(onnx_model, tmp_path, video):
    path = with_external(onnx_model, tmp_path / "model", "weights/w.bin")
    (tmp_path / "model" / "weights").mkdir()
    shutil.move(tmp_path / "secret.bin", tmp_path / "model" / "weights" / "w.bin")
    r = cli("run", video, "-m", path, "--device", "cpu", "--init", INIT, "--max-frames", 3, "--output",
            tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 3


def test_a_symlinked_model_is_checked_against_the_folder_its_loaders_read_from(onnx_model, tmp_path, video):
    """ONNX Runtime and onnx join a location to the folder of the path they are given, not to where a symlinked
    .onnx file leads: top/model.onnx -> real/model.onnx reads top/w.bin, which here leads to a file outside."""
    with_external(onnx_model, tmp_path / "real", "w.bin")   # real/ holds no w.bin: that check alone passes
    (tmp_path / "top").mkdir()
    os.symlink(tmp_path / "real" / "model.onnx", tmp_path / "top" / "model.onnx")
    os.symlink(tmp_path / "secret.bin", tmp_path / "top" / "w.bin")
    line = one_line_error(cli("run", video, "-m", tmp_path / "top" / "model.onnx", "--device", "cpu", "--init", INIT,
                              "--output", tmp_path / "b.txt"))
    assert "'w.bin'" in line and "symbolic link" in line, line
    assert not (tmp_path / "b.txt").exists()


def test_an_onnx_file_onnx_cannot_parse_is_refused_not_handed_on(tmp_path):
    """Its external data cannot be checked, so no other parser (ONNX Runtime's, TensorRT's) gets to read it."""
    from droptrack.engine.onnx_files import check_external_data

    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0fgraph")   # ir_version 7, then a string field past the end
    with pytest.raises(BackendError, match=r"m\.onnx' is not a readable ONNX file \(DecodeError\)"):
        check_external_data(path, BackendError)


def test_a_hugging_face_cache_download_with_external_weights_still_runs(onnx_model, tmp_path, video):
    """huggingface_hub keeps repo/snapshots/REV/NAME as links to repo/blobs/HASH: the graph and its weights file
    both lead out of the snapshot folder, into the repository's own blobs/ (any other link out is refused)."""
    built = with_external(onnx_model, tmp_path / "built", "model.onnx_data")
    repo = tmp_path / "models--someone--tracker"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / "0123abc").mkdir(parents=True)
    shutil.move(built, repo / "blobs" / "aaa")
    shutil.move(tmp_path / "secret.bin", repo / "blobs" / "bbb")
    os.symlink("../../blobs/aaa", repo / "snapshots" / "0123abc" / "model.onnx")
    os.symlink("../../blobs/bbb", repo / "snapshots" / "0123abc" / "model.onnx_data")
    r = cli("run", video, "-m", repo / "snapshots" / "0123abc" / "model.onnx", "--device", "cpu", "--init", INIT,
            "--max-frames", 3, "--output", tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 3
    os.symlink(tmp_path / "elsewhere.bin", repo / "snapshots" / "0123abc" / "w.bin")
    assert "symbolic link" in location_problem("w.bin", repo / "snapshots" / "0123abc")
    (repo / "snapshots" / "0123abc" / "onnx").mkdir()   # a model kept in a folder of the repository
    os.symlink("../../../blobs/bbb", repo / "snapshots" / "0123abc" / "onnx" / "model.onnx_data")
    assert location_problem("model.onnx_data", repo / "snapshots" / "0123abc" / "onnx") == ""
    (tmp_path / "other" / "blobs").mkdir(parents=True)
    (tmp_path / "other" / "blobs" / "ccc").write_bytes(b"x")
    os.symlink(tmp_path / "other" / "blobs" / "ccc", repo / "snapshots" / "0123abc" / "v.bin")   # another repo's
    assert "symbolic link" in location_problem("v.bin", repo / "snapshots" / "0123abc")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_external_data_that_is_a_pipe_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "w.bin")   # a loader opening it would wait for a writer forever
    assert "not a regular file" in location_problem("w.bin", tmp_path)


@pytest.mark.parametrize("location,why", [("../x.bin", "climbs out"), ("a/../../x.bin", "climbs out"),
                                          ("..\\x.bin", "climbs out"), ("/etc/passwd", "absolute"),
                                          ("C:\\Windows\\x.bin", "absolute"), ("\\\\server\\x.bin", "absolute"),
                                          ("", "names no file"), ("x\0.bin", "NUL"), ("w.bin", ""),
                                          ("sub/w.bin", "")])
def test_external_data_locations(tmp_path, location, why):
    problem = location_problem(location, tmp_path)
    assert (why in problem) if why else problem == ""


def test_external_data_in_a_subgraph_is_checked_too(tmp_path):
    """A tensor in an If branch (not an initializer of the main graph) pointing outside is found as well."""
    h = onnx.helper
    t = onnx.TensorProto(name="c", data_type=onnx.TensorProto.FLOAT, dims=[1],
                         data_location=onnx.TensorProto.EXTERNAL)
    t.external_data.add(key="location", value="../../etc/shadow")
    branch = h.make_graph([h.make_node("Constant", [], ["y"], value=t)], "b", [],
                          [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    graph = h.make_graph([h.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch)], "g",
                         [h.make_tensor_value_info("cond", onnx.TensorProto.BOOL, [])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    problem = external_data_problem(h.make_model(graph), tmp_path / "m.onnx")
    assert "'c'" in problem and "../../etc/shadow" in problem


def test_no_custom_op_or_plugin_library_is_ever_loaded():
    """Nothing in the package registers ONNX Runtime custom-op libraries, loads TensorRT plugin libraries, lets an
    engine run its own code or builds version-compatible (code-carrying) engines; a model's metadata can name none."""
    calls = ("register_custom_ops_library", "load_plugin_library", "init_libnvinfer_plugins", "plugins_to_serialize",
             "VERSION_COMPATIBLE", "add_external_initializers", "CDLL", "LoadLibrary", "cdll")
    found = []
    for py in (ROOT / "droptrack").rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in calls:
                found.append(f"{py.relative_to(ROOT)} {node.attr}")   # no line number: edits above move it
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr ==
                                                    "engine_host_code_allowed" for t in node.targets):
                assert isinstance(node.value, ast.Constant) and node.value.value is False, py
    # the one ctypes use: prctl(PR_SET_PDEATHSIG) from libc for training workers, no library from a file
    assert found == ["droptrack/train/launch.py CDLL"], found


class FakeRuntime:
    """A TensorRT runtime that records whether engine host code (a lean runtime, plugins) was allowed."""

    def __init__(self, logger):
        self.engine_host_code_allowed = True   # as if some other code in the process had allowed it
        self.allowed_at_load = None

    def deserialize_cuda_engine(self, plan: bytes):
        self.allowed_at_load = self.engine_host_code_allowed
        return None if plan == b"version-compatible" and not self.engine_host_code_allowed else object()


class FakeTrt:
    Runtime = FakeRuntime


def test_engines_are_deserialized_with_host_code_disallowed():
    runtime, engine = trt_compat.deserialize(FakeTrt, b"plan", logger=None)
    assert runtime.allowed_at_load is False and engine is not None
    with pytest.raises(BackendError, match="carries code"):
        trt_compat.deserialize(FakeTrt, b"version-compatible", logger=None)


def test_npz_holding_pickled_objects_is_not_unpickled(tmp_path):
    """A divergence cache (.npz) whose array holds pickled objects is treated as unreadable, nothing is unpickled."""
    from droptrack.export.divergence import _read_reference

    marker = tmp_path / "pickle_ran_code"
    np.savez(tmp_path / "ref.npz", seq=np.array([RunsShell(marker)], dtype=object))
    assert _read_reference(tmp_path / "ref.npz", {"seq"}) is None
    assert not marker.exists()


def test_a_legacy_pickle_checkpoint_names_its_objects_and_loads_with_trust_checkpoint(tiny_ckpt, tmp_path, video):
    """A checkpoint saved by an old torch (not a zip) with a trainer's namespace in it: the refusal names the class
    and the option, and that option then reads it (it used to say that the objects 'cannot be listed')."""
    import types

    ckpt = torch.load(tiny_ckpt, map_location="cpu", weights_only=True)
    ckpt["args"] = types.SimpleNamespace(lr=1e-4, epochs=300)
    path = tmp_path / "old.pth.tar"
    torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"types\.SimpleNamespace.*--trust-checkpoint"):
        read_file(path)
    obj = read_file(path, trust=True)
    assert obj["args"]["__global__"] == "types.SimpleNamespace"
    assert all(torch.equal(obj["net"][k], v) for k, v in ckpt["net"].items())
    r = cli("run", video, "-m", path, "--device", "cpu", "--init", INIT, "-o", tmp_path / "boxes.txt",
            "--trust-checkpoint")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "boxes.txt").read_text().count("\n") > 1
    line = one_line_error(cli("run", video, "-m", path, "--device", "cpu", "--init", INIT))
    assert "types.SimpleNamespace" in line and "--trust-checkpoint" in line


def test_a_legacy_pickle_is_listed_by_disassembly_never_run(tmp_path):
    marker = tmp_path / "pickle_ran_code"
    for payload, name in ((RunsEval(marker), r"\(builtins\.eval\)"),   # a blocked module: no --trust-checkpoint
                          (RunsShell(marker), r"calls into (posix|nt)\.system, which torch refuses to load even")):
        path = write_evil(tmp_path / "evil.pth", "legacy", payload)
        with pytest.raises(CheckpointError, match=name):
            read_file(path)
        assert not marker.exists()


def test_a_blocked_call_is_refused_without_a_contradicting_warning_or_the_trust_option(tmp_path, caplog):
    """'warning: ... posix.system read as plain data records' came before 'error: ... torch refuses to load even as
    plain records', and without --trust-checkpoint the line offered that option, which cannot read it either."""
    marker = tmp_path / "pickle_ran_code"
    path = write_evil(tmp_path / "evil.pt", "zip", RunsShell(marker))
    for trust in (False, True):
        with pytest.raises(CheckpointError) as exc:
            read_file(path, trust=trust)
        assert "refuses to load even as plain records" in str(exc.value) and "--trust-checkpoint" not in str(exc.value)
    assert not any("read as plain data records" in r.getMessage() for r in caplog.records)
    assert not marker.exists()


class _CallsSubprocess:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import subprocess

        return subprocess.call, (["touch", str(self.marker)],)


def test_a_zip_pickle_names_its_call_as_python_3_imports_it(tmp_path):
    """A protocol-2 zip checkpoint calling subprocess.call was named 'commands.call' (Python 2's module name, which
    the pickle holds and the unpickler maps back)."""
    marker = tmp_path / "pickle_ran_code"
    path = tmp_path / "evil.pt"
    torch.save({"model": _CallsSubprocess(marker)}, path, pickle_protocol=2)
    with pytest.raises(CheckpointError, match=r"uses subprocess\.call in ways that cannot be read") as err:
        read_file(path)
    assert "commands" not in str(err.value) and "pass --trust-checkpoint" not in str(err.value)   # not offered
    assert not marker.exists()


class _TouchesAPath:
    """Pickles as getattr(PosixPath(marker), 'touch')(): a method of an object the file builds, no blocked module."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path(self.marker).touch, ()


def test_trust_is_offered_only_where_it_reads_the_file(tmp_path):
    """A checkpoint whose objects --trust-checkpoint cannot read as records either (a call on a record, a name torch
    looks up under Python 2's module name) was refused with 'pass --trust-checkpoint', and then, with it, as 'corrupt
    or not a PyTorch file; re-download it': both misnamed it. Now both say what it is, and nothing runs."""
    marker = tmp_path / "pickle_ran_code"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": _TouchesAPath(marker)}, path)
    for trust in (False, True):
        with pytest.raises(CheckpointError, match="in ways that cannot be read as plain data, even with "
                                                  "--trust-checkpoint") as err:
            read_file(path, trust=trust)
        assert "re-download" not in str(err.value) and "pass --trust-checkpoint" not in str(err.value)
    line = one_line_error(cli("export", path, "--trust-checkpoint", "-o", tmp_path / "out"))
    assert "cannot be read as plain data" in line and not (tmp_path / "out").exists()
    assert not marker.exists()
