"""dt as an ordinary user: root (this machine, CI) bypasses file permissions, so these tests run the command in a
forked child that drops to an unprivileged user (skipped when not root or when no such user exists)."""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
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


def user() -> pwd.struct_passwd:
    """USER's account (the test is skipped when not root, or when there is no such user)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no user {USER}")


def as_user(fn: Callable[[], object]) -> object:
    """fn()'s result, computed in a forked child running as USER (modules it needs must be imported already)."""
    pw = user()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # child: never returns into pytest
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            payload = pickle.dumps(("ok", fn()))
        except ModuleNotFoundError as exc:   # a lazy import from a Python the user may not read (under /root)
            readable = os.access(os.path.dirname(os.__file__), os.R_OK | os.X_OK)
            payload = pickle.dumps(("raised" if readable else "skip", repr(exc)))
        except BaseException as exc:   # noqa: BLE001 - reported to the parent
            payload = pickle.dumps(("raised", repr(exc)))
        with os.fdopen(w, "wb") as f:
            f.write(payload)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
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


def dt_as_user(*args) -> SimpleNamespace:
    """`dt ARGS...` run as USER: its exit code and output (a traceback's exception appended)."""
    import fractions  # noqa: F401 - imported here: the child may not read root's Python (pyenv under /root)
    import zoneinfo  # noqa: F401
    import statistics  # noqa: F401
    import colorsys  # noqa: F401

    import droptrack.runtime.run  # noqa: F401

    def child() -> dict:
        result = cli(*args)
        if isinstance(result.exception, ModuleNotFoundError):
            raise result.exception
        return {"exit_code": result.exit_code,
                "output": result.output + (repr(result.exception) if result.exit_code == 1 else "")}

    return SimpleNamespace(**as_user(child))


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
    line = one_line_error(dt_as_user("run", locked / "clip.mp4", "--init", "10,10,20,20", "--device", "cpu"))
    assert f"'{locked / 'clip.mp4'}' (Permission denied)" in line


def test_unreadable_inputs_are_named_not_called_corrupt(video, tiny_ckpt, shared_tmp):
    """Another user's 0600 video, checkpoint or frame: each refused before work as 'not readable' (they were 'cannot
    decode it; convert it with ffmpeg', 'corrupt or not a PyTorch file' and a mid-run 'cv2.imread failed')."""
    import droptrack.export.options  # noqa: F401
    import droptrack.runtime.sinks  # noqa: F401

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
    for args, named in cases.items():
        line = one_line_error(dt_as_user(*args))
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
    line = one_line_error(dt_as_user("run", video, *init, "--output", sticky / "boxes.txt"))
    assert line == (f"error: --output '{sticky / 'boxes.txt'}' exists and belongs to another user in the sticky "
                    f"folder '{sticky}', where only its owner may replace it; pass another path")
    assert sorted(p.name for p in sticky.iterdir()) == ["boxes.txt"]
    line = one_line_error(dt_as_user("run", video, *init, "--output", own / "boxes.txt", "--overwrite"))
    assert line == (f"error: --output '{own / 'boxes.txt'}' is written as '{own / 'boxes.txt.part'}' until the run "
                    "ends, and that file is read-only; pass another path or make it writable")
    assert sorted(p.name for p in own.iterdir()) == ["boxes.txt.part"]
    assert (own / "boxes.txt.part").read_text() == "1,2,3,4\n"


def test_export_refuses_another_users_graph_before_work(tiny_ckpt, shared_tmp):
    """dt export -o a sticky folder holding another user's writable model.onnx exported, verified, wrote parity.json
    and then failed to rename its graph ('cannot access .../slim.onnx'); now refused before any work."""
    import droptrack.export.pipeline  # noqa: F401

    out = shared_tmp / "exports"
    out.mkdir()
    os.chmod(out, 0o1777)
    (out / "model.onnx").write_bytes(b"old")
    os.chmod(out / "model.onnx", 0o666)
    shutil.copy(tiny_ckpt, shared_tmp / "tiny.pt")
    line = one_line_error(dt_as_user("export", shared_tmp / "tiny.pt", "-o", out))
    assert line == (f"error: --output '{out}' holds 'model.onnx', which this export replaces, and it belongs to "
                    f"another user in the sticky folder '{out}', where only its owner may replace it; pass another path")
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx"] and (out / "model.onnx").read_bytes() == b"old"


def test_dataset_frame_the_user_cannot_read(shared_tmp):
    """dt eval / bench on a dataset with another user's 0600 frame said 'cannot be decoded (corrupt or not an image);
    re-download it'; it now says the frame is not readable and how to fix the permissions."""
    from droptrack.data.sequence import read_rgb
    from droptrack.errors import DatasetError

    frame = shared_tmp / "00000001.jpg"
    cv2.imwrite(str(frame), np.zeros((8, 8, 3), np.uint8))
    os.chmod(frame, 0o600)

    def read() -> str:
        try:
            read_rgb(frame)
        except DatasetError as exc:
            return str(exc)
        return "read"

    assert read() == "read"   # root reads it
    assert as_user(read) == (f"frame {frame} is not readable by this user (Permission denied); fix the dataset's "
                             "permissions, e.g. chmod -R a+rX ROOT")


def test_output_under_a_folder_the_user_cannot_enter_names_the_option(video, shared_tmp):
    """--output LOCKED/x (LOCKED: a folder the user may not enter) was a PermissionError from pathlib; the line now
    names the option, for file outputs (dt run), folder outputs (dt data synth) and dt train's own check."""
    import droptrack.data.synth  # noqa: F401
    import droptrack.train.options  # noqa: F401

    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o700)
    cases = {("run", video, "--init", "10,10,20,20", "--output", locked / "boxes.txt"): ("--output", "boxes.txt"),
             ("data", "synth", locked / "set"): ("OUT", "set"),
             ("train", "-c", "droptrack_tiny_synth", "-o", locked / "train"): ("--output", "train")}
    for args, (label, name) in cases.items():
        line = one_line_error(dt_as_user(*args))
        assert line == (f"error: {label} '{locked / name}': a folder above it is closed to this user (Permission "
                        "denied); pass a path you can write to"), args
    assert list(locked.iterdir()) == []


def test_bench_reads_a_complete_synthetic_set_it_may_not_write(shared_tmp):
    """dt bench --data synthetic --root SHARED, where SHARED holds the very set (made by another user, read-only):
    refused as 'not writable' though nothing is written; it is now read as it is. A set that must be made there
    still needs a writable folder."""
    from droptrack.data.synth import ensure_synth
    from droptrack.eval.bench_data import SYNTH_SEED, SYNTH_SIZE, _read

    shared = shared_tmp / "shared_synth"
    ensure_synth(shared, 1, 3, SYNTH_SEED, SYNTH_SIZE, split="val")
    before = sorted(p.relative_to(shared) for p in shared.rglob("*"))

    def read(sequences: int, root: Path = shared) -> object:
        try:
            kind, tag, seqs = _read("synthetic", str(root), shared_tmp / "out", sequences, 3)
        except InputError as exc:
            return str(exc)
        return kind, tag, [len(s) for s in seqs]

    assert as_user(lambda: read(1)) == ("synthetic", "synth", [3])
    assert as_user(lambda: read(2)).startswith(f"--root {shared} holds another synthetic set (sequences 1, not 2)")
    assert as_user(lambda: read(1, shared_tmp / "new")) == (f"--root '{shared_tmp / 'new'}': folder '{shared_tmp}' "
                                                           "is not writable (Permission denied); pass a path you "
                                                           "can write to")
    assert sorted(p.relative_to(shared) for p in shared.rglob("*")) == before


def test_path_options_unreadable_to_the_user_are_one_line(tiny_ckpt, shared_tmp):
    """typer checks that an existing Path option is readable (always true for root): a user got a boxed usage error
    ('Invalid value for ARTIFACT: path ... is not readable'); the commands' own one-line errors now say it."""
    import droptrack.cli.deploy  # noqa: F401
    import droptrack.engine.doctor  # noqa: F401

    secret = shared_tmp / "secret.pt"
    shutil.copy(tiny_ckpt, secret)
    os.chmod(secret, 0o600)
    line = one_line_error(dt_as_user("doctor", secret))
    assert line == (f"error: model '{secret}' is not readable by this user (Permission denied); fix its permissions "
                    "(e.g. chmod a+r) or pass a copy you can read")
    locked = shared_tmp / "locked_results"
    locked.mkdir(mode=0o700)
    out = shared_tmp / "analysis"
    out.mkdir()
    os.chown(out, user().pw_uid, user().pw_gid)
    line = one_line_error(dt_as_user("analyze", locked, "--dataset", "got10k", "--root", shared_tmp / "data",
                                     "--output", out))
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

    from droptrack.runtime.sources import device_state

    node = shared_tmp / "video0"
    node.write_bytes(b"")
    os.chmod(node, 0o660)
    group = grp.getgrgid(os.stat(node).st_gid).gr_name
    assert device_state(node) == "exists but could not be opened (busy or not a capture node)"   # root opens it
    assert as_user(lambda: device_state(node)) == (
        f"exists but this user may not open it (Permission denied): add the user to its group, e.g. sudo usermod "
        f"-aG {group} $USER, then log in again")
    assert as_user(lambda: device_state(shared_tmp / "video1")) == "missing"
