"""dt as an ordinary user: root (this machine, CI) bypasses file permissions, so these tests run the command in a
fresh Python process that drops to an unprivileged user (skipped when not root or when no such user exists)."""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import cv2
import numpy as np
import pytest
import typer

from droptrack.cli.app import friendly
from droptrack.errors import InputError
from helpers import cli, one_line_error

USER = "nobody"   # any unprivileged account works; this one exists almost everywhere
TIMEOUT_S = 180   # one child takes ~3 s on 2 loaded cores: a hung one fails its test instead of stalling CI
# imported as root before the child drops to USER, who may not read this Python (a pyenv under /root), besides the
# standard library this process has loaded: what the commands import lazily, and the commands' own modules
PRELOAD = ("encodings.utf_8_sig", "fractions", "zoneinfo", "statistics", "colorsys", "secrets", "hmac", "importlib.readers",
           "droptrack.runtime.run", "droptrack.runtime.sinks", "droptrack.export.options", "droptrack.export.pipeline",
           "droptrack.data.synth", "droptrack.train.options", "droptrack.cli.deploy", "droptrack.engine.doctor")
CHILD = """
import importlib, os, pickle, sys
with os.fdopen(int(sys.argv[1]), "wb") as report:
    uid, gid, preload, call = pickle.load(sys.stdin.buffer)
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:   # one this process had but that does not import alone: the command may not need it
            pass
    fn, args = pickle.loads(call)   # imports fn's module, still as root
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    try:
        result = pickle.dumps(("ok", fn(*args)))
    except ModuleNotFoundError as exc:   # a lazy import from a Python the user may not read (under /root)
        readable = os.access(os.path.dirname(os.__file__), os.R_OK | os.X_OK)
        result = pickle.dumps(("raised" if readable else "skip", repr(exc)))
    except BaseException as exc:
        result = pickle.dumps(("raised", repr(exc)))
    report.write(result)
"""


def user() -> pwd.struct_passwd:
    """USER's account (the test is skipped when not root, or when there is no such user)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no user {USER}")


def preload() -> list[str]:
    """The modules a child imports before it drops to USER: the standard library this process has loaded (a forked
    child had them), then PRELOAD."""
    std = Path(sysconfig.get_paths()["stdlib"])
    files = {name: Path(getattr(module, "__file__", None) or "/") for name, module in list(sys.modules.items())}
    loaded = [name for name, f in files.items()
              if std in f.parents and not {"site-packages", "dist-packages"} & set(f.parts)]
    return loaded + list(PRELOAD)


def as_user(fn: Callable, *args) -> object:
    """fn(*args), computed as USER in a new Python process: never a fork of this one, whose threads (torch,
    OpenMP, ONNX Runtime, earlier tests' prefetchers) may hold locks a forked child then waits on forever. fn is a
    module-level function (it travels pickled); the child resolves imports with this process's sys.path."""
    pw = user()
    call = pickle.dumps((fn, args))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile() as report:   # the child inherits it open, so it writes there as USER
        try:
            child = subprocess.run([sys.executable, "-c", CHILD, str(report.fileno())], capture_output=True,
                                   input=pickle.dumps((pw.pw_uid, pw.pw_gid, preload(), call)), env=env,
                                   pass_fds=(report.fileno(),), timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{fn.__name__}{args!r} as {USER} still ran after {TIMEOUT_S} s (killed): "
                        f"{(exc.stderr or b'').decode(errors='replace')[-3000:]}")
        report.seek(0)
        data = report.read()
    assert data, f"{fn.__name__}{args!r} as {USER} reported nothing (exit {child.returncode}): " \
                 f"{child.stderr.decode(errors='replace')[-3000:]}"
    kind, value = pickle.loads(data)
    if kind == "skip":
        pytest.skip(f"{USER} cannot read this Python's standard library: {value}")
    assert kind == "ok", value
    return value


@pytest.fixture
def shared_tmp():
    """A scratch folder the unprivileged user may enter (pytest's tmp_path lies under root's 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="dt-nonroot-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def each(fn: Callable, calls: list[tuple]) -> list:
    """fn(*args) for each args of calls, in turn (several calls in one child process)."""
    return [fn(*args) for args in calls]


def dt_result(*args) -> dict:
    """`dt ARGS...` in this process: its exit code and output (a traceback's exception appended)."""
    result = cli(*args)
    if isinstance(result.exception, ModuleNotFoundError):
        raise result.exception
    return {"exit_code": result.exit_code,
            "output": result.output + (repr(result.exception) if result.exit_code == 1 else "")}


def dt_as_user(*commands: tuple) -> list[SimpleNamespace]:
    """Each `dt ARGS...` of commands run as USER, in turn, in one child process: the exit code and output of each."""
    return [SimpleNamespace(**r) for r in as_user(each, dt_result, commands)]


HELD = threading.Lock()   # held by another thread of pytest during test_the_child_shares_no_lock_with_pytest


def child_state() -> tuple[int, bool]:
    """The child's user id, and whether it could take HELD within 5 s."""
    return os.getuid(), HELD.acquire(timeout=5)


def test_the_child_shares_no_lock_with_pytest():
    """as_user's child was forked from pytest, with the locks that pytest's other threads (torch/OpenMP pools,
    earlier tests' prefetchers) held at that moment and never release there: it hung in mixed runs. It is now a
    new process, with locks of its own, running as USER."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with HELD:
            taken.set()
            done.wait()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    taken.wait()
    try:
        assert as_user(child_state) == (user().pw_uid, True)
    finally:
        done.set()
        thread.join()


def test_permission_error_is_one_line(capsys):
    """Any PermissionError that escapes a command (a path under a folder the user may not enter) is one line,
    exit 2, naming the path; it was a traceback (exit 1)."""

    @friendly
    def command():
        raise PermissionError(13, "Permission denied", "/root/x.avi")

    with pytest.raises(typer.Exit) as exc:
        command()
    assert exc.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot access '/root/x.avi' (Permission denied)")


def test_run_source_under_a_folder_the_user_cannot_enter(video, shared_tmp):
    """dt run LOCKED/clip.mp4 as a user: Path.is_dir() raises PermissionError on Python 3.11 -> was a traceback."""
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o700)
    shutil.copy(video, locked / "clip.mp4")
    [result] = dt_as_user(("run", locked / "clip.mp4", "--init", "10,10,20,20", "--device", "cpu"))
    line = one_line_error(result)
    assert f"'{locked / 'clip.mp4'}' (Permission denied)" in line


def test_unreadable_inputs_are_named_not_called_corrupt(video, tiny_ckpt, shared_tmp):
    """Another user's 0600 video, checkpoint or frame: each refused before work as 'not readable' (they were 'cannot
    decode it; convert it with ffmpeg', 'corrupt or not a PyTorch file' and a mid-run 'cv2.imread failed')."""
    secret_video, secret_ckpt, frames = shared_tmp / "secret.mp4", shared_tmp / "secret.pt", shared_tmp / "frames"
    shutil.copy(video, secret_video)
    shutil.copy(tiny_ckpt, secret_ckpt)
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:08d}.jpg"), np.full((48, 64, 3), 60 * i, np.uint8))
    for path in (secret_video, secret_ckpt, frames / "00000001.jpg"):
        os.chmod(path, 0o600)
    secret_yaml = shared_tmp / "secret.yaml"
    secret_yaml.write_text("MODEL: {}\n")
    os.chmod(secret_yaml, 0o600)
    init = ("--init", "10,10,20,20", "--device", "cpu", "--max-frames", "2")
    shutil.copy(tiny_ckpt, shared_tmp / "tiny.pt")
    cases = {("run", video, "-m", shared_tmp / "tiny.pt", "--config", secret_yaml, *init): f"config file '{secret_yaml}'",
             ("run", secret_video, *init): f"video '{secret_video}'",
             ("run", video, "-m", secret_ckpt, *init): f"model '{secret_ckpt}'",
             ("run", frames, *init): f"image '{frames / '00000001.jpg'}'",
             ("export", secret_ckpt, "-o", shared_tmp / "export"): f"checkpoint '{secret_ckpt}'"}
    for (args, named), result in zip(cases.items(), dt_as_user(*cases)):
        line = one_line_error(result)
        assert line == f"error: {named} is not readable by this user (Permission denied); fix its permissions " \
                       "(e.g. chmod a+r) or pass a copy you can read", args
    assert not (shared_tmp / "export").exists()


def test_outputs_another_user_owns_are_refused_before_work(video, shared_tmp):
    """Another user's 0666 box file in a sticky folder (as in /tmp) was tracked into and then failed at the final
    rename ('Operation not permitted'); another user's 0644 NAME.part with --overwrite failed on opening it. Both are
    now refused before any work, and nothing is written."""
    pw = user()
    sticky, own = shared_tmp / "sticky", shared_tmp / "own"
    sticky.mkdir()
    own.mkdir()
    os.chmod(sticky, 0o1777)
    (sticky / "boxes.txt").write_text("")
    os.chmod(sticky / "boxes.txt", 0o666)
    (own / "boxes.txt.part").write_text("1,2,3,4\n")
    os.chown(own, pw.pw_uid, pw.pw_gid)
    init = ("--init", "10,10,20,20", "--device", "cpu", "--max-frames", "2")
    in_sticky, in_own = dt_as_user(("run", video, *init, "--output", sticky / "boxes.txt"),
                                   ("run", video, *init, "--output", own / "boxes.txt", "--overwrite"))
    assert one_line_error(in_sticky) == (f"error: --output '{sticky / 'boxes.txt'}' exists and belongs to another "
                                         f"user in the sticky folder '{sticky}', where only its owner may replace "
                                         "it; pass another path")
    assert sorted(p.name for p in sticky.iterdir()) == ["boxes.txt"]
    assert one_line_error(in_own) == (f"error: --output '{own / 'boxes.txt'}' is written as '{own / 'boxes.txt.part'}' until the run "
                    "ends, and that file is read-only; pass another path or make it writable")
    assert sorted(p.name for p in own.iterdir()) == ["boxes.txt.part"]
    assert (own / "boxes.txt.part").read_text() == "1,2,3,4\n"


@pytest.mark.parametrize("name, options", [("model.onnx", ()), ("model.engine.json", ("--engine",)),
                                           ("model.engine.failed", ("--engine",))])
def test_export_refuses_another_users_graph_before_work(tiny_ckpt, shared_tmp, name, options):
    """dt export -o a sticky folder holding another user's writable model.onnx exported, verified, wrote parity.json
    and then failed to rename its graph ('cannot access .../slim.onnx'); now refused before any work. The same for
    an engine's sidecar (removed before its build) and the name an unverified engine is kept under."""
    out = shared_tmp / "exports"
    out.mkdir()
    os.chmod(out, 0o1777)
    (out / name).write_bytes(b"old")
    os.chmod(out / name, 0o666)
    shutil.copy(tiny_ckpt, shared_tmp / "tiny.pt")
    [result] = dt_as_user(("export", shared_tmp / "tiny.pt", "-o", out, *options))
    line = one_line_error(result)
    assert line == (f"error: --output '{out}' holds '{name}', which this export replaces, and it belongs to "
                    f"another user in the sticky folder '{out}', where only its owner may replace it; pass another path")
    assert sorted(p.name for p in out.iterdir()) == [name] and (out / name).read_bytes() == b"old"


def test_dataset_frame_the_user_cannot_read(shared_tmp):
    """dt eval / bench on a dataset with another user's 0600 frame said 'cannot be decoded (corrupt or not an image);
    re-download it'; it now says the frame is not readable and how to fix the permissions."""
    frame = shared_tmp / "00000001.jpg"
    cv2.imwrite(str(frame), np.zeros((8, 8, 3), np.uint8))
    os.chmod(frame, 0o600)
    assert read_frame(frame) == "read"   # root reads it
    assert as_user(read_frame, frame) == (f"frame {frame} is not readable by this user (Permission denied); fix the dataset's "
                                          "permissions, e.g. chmod -R a+rX ROOT")


def read_frame(frame: Path) -> str:
    """'read', or why the dataset frame could not be read."""
    from droptrack.data.sequence import read_rgb
    from droptrack.errors import DatasetError

    try:
        read_rgb(frame)
    except DatasetError as exc:
        return str(exc)
    return "read"


def test_output_under_a_folder_the_user_cannot_enter_names_the_option(video, shared_tmp):
    """--output LOCKED/x (LOCKED: a folder the user may not enter) was a PermissionError from pathlib; the line now
    names the option, for file outputs (dt run), folder outputs (dt data synth) and dt train's own check."""
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o700)
    cases = {("run", video, "--init", "10,10,20,20", "--output", locked / "boxes.txt"): ("--output", "boxes.txt"),
             ("data", "synth", locked / "set"): ("OUT", "set"),
             ("train", "-c", "droptrack_tiny_synth", "-o", locked / "train"): ("--output", "train")}
    for (args, (label, name)), result in zip(cases.items(), dt_as_user(*cases)):
        line = one_line_error(result)
        assert line == (f"error: {label} '{locked / name}': a folder above it is closed to this user (Permission "
                        "denied); pass a path you can write to"), args
    assert list(locked.iterdir()) == []


def test_bench_reads_a_complete_synthetic_set_it_may_not_write(shared_tmp):
    """dt bench --data synthetic --root SHARED, where SHARED holds the very set (made by another user, read-only):
    refused as 'not writable' though nothing is written; it is now read as it is. A set that must be made there
    still needs a writable folder."""
    from droptrack.data.synth import ensure_synth
    from droptrack.eval.bench_data import SYNTH_SEED, SYNTH_SIZE

    shared = shared_tmp / "shared_synth"
    ensure_synth(shared, 1, 3, SYNTH_SEED, SYNTH_SIZE, split="val")
    before = sorted(p.relative_to(shared) for p in shared.rglob("*"))
    out = shared_tmp / "out"
    whole, more, new = as_user(each, read_synthetic, [(shared, out, 1), (shared, out, 2), (shared_tmp / "new", out, 1)])
    assert whole == ("synthetic", "synth", [3])
    assert more.startswith(f"--root {shared} holds another synthetic set (sequences 1, not 2)")
    assert new == (f"--root '{shared_tmp / 'new'}': folder '{shared_tmp}' is not writable (Permission denied); pass "
                   "a path you can write to")
    assert sorted(p.relative_to(shared) for p in shared.rglob("*")) == before


def read_synthetic(root: Path, out: Path, sequences: int) -> object:
    """dt bench's synthetic set read from root (kind, tag and each sequence's length), or why it was refused."""
    from droptrack.eval.bench_data import _read

    try:
        kind, tag, seqs = _read("synthetic", str(root), out, sequences, 3)
    except InputError as exc:
        return str(exc)
    return kind, tag, [len(s) for s in seqs]


def test_path_options_unreadable_to_the_user_are_one_line(tiny_ckpt, shared_tmp):
    """typer checks that an existing Path option is readable (always true for root): a user got a boxed usage error
    ('Invalid value for ARTIFACT: path ... is not readable'); the commands' own one-line errors now say it."""
    secret = shared_tmp / "secret.pt"
    shutil.copy(tiny_ckpt, secret)
    os.chmod(secret, 0o600)
    locked = shared_tmp / "locked_results"
    locked.mkdir(mode=0o700)
    out = shared_tmp / "analysis"
    out.mkdir()
    os.chown(out, user().pw_uid, user().pw_gid)
    doctor, analyze = dt_as_user(("doctor", secret), ("analyze", locked, "--dataset", "got10k", "--root",
                                                      shared_tmp / "data", "--output", out))
    line = one_line_error(doctor)
    assert line == (f"error: model '{secret}' is not readable by this user (Permission denied); fix its permissions "
                    "(e.g. chmod a+r) or pass a copy you can read")
    line = one_line_error(analyze)
    assert line.startswith(f"error: got10k root {shared_tmp / 'data'} (from the given root) does not exist"), line


def test_no_path_option_is_checked_for_readability_by_click():
    """Every Path option and argument leaves readability to the command (a one-line error), not to click's boxed
    usage error that only non-root users ever see."""
    from typer.main import get_command

    from droptrack.cli import app

    def commands(cmd):
        yield cmd
        for sub in getattr(cmd, "commands", {}).values():
            yield from commands(sub)

    paths = [(c.name, p.name, p.type_descriptor.parameter_info.readable) for c in commands(get_command(app))
             for p in c.params if "Path" in str(p.type_descriptor.annotation)]
    assert len(paths) >= 16 and [p for p in paths if p[2]] == []


def test_camera_node_closed_to_the_user_says_which_group(shared_tmp):
    """A /dev/videoN the user may not open (not in the 'video' group: the common case off root) was reported as
    'exists but could not be opened (busy or not a capture node)'; it now names the group to join."""
    import grp

    from droptrack.runtime.devices import device_state

    node = shared_tmp / "video0"
    node.write_bytes(b"")
    os.chmod(node, 0o660)
    group = grp.getgrgid(os.stat(node).st_gid).gr_name
    assert device_state(node) == "exists but could not be opened (busy or not a capture node)"   # root opens it
    closed, missing = as_user(each, device_state, [(node,), (shared_tmp / "video1",)])
    assert closed == (f"exists but this user may not open it (Permission denied): add the user to its group, e.g. "
                      f"sudo usermod -aG {group} $USER, then log in again")
    assert missing == "missing"


def test_xywh_refuses_a_file_it_may_not_rewrite_before_converting_any(shared_tmp):
    """`dt data xywh A B` with B in a folder the user may not write: A was converted, then B refused; every file is
    now checked before any is rewritten (as the help says)."""
    pw = user()
    mine, theirs = shared_tmp / "mine", shared_tmp / "theirs"
    mine.mkdir()
    theirs.mkdir()
    os.chown(mine, pw.pw_uid, pw.pw_gid)
    a, b = mine / "a.txt", theirs / "b.txt"
    for f in (a, b):
        f.write_text("10,20,110,220\n")
        os.chmod(f, 0o644)
    os.chown(a, pw.pw_uid, pw.pw_gid)
    (res,) = dt_as_user(("data", "xywh", a, b))
    line = one_line_error(res)
    assert f"{b} is read-only" in line and line.endswith("none of the 2 files was converted"), line
    assert a.read_text() == "10,20,110,220\n" and sorted(p.name for p in mine.iterdir()) == ["a.txt"]
