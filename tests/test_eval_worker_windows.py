"""dt eval --workers N whose worker process is killed at the narrow moments of the worker protocol (kill -9, the OOM
killer): as it receives a sequence (before it could say it started it), and while it starts (every worker killed
while loading the tracker). The run ends with that sequence failed and the others' results given, or with a
one-line error; it never waits forever. The kills are made deterministic by hooks that run inside the worker at
the exact point (unpickling the task or the tracker's settings)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from droptrack.errors import DropTrackError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


class TwoArgs(DropTrackError):
    """An error whose pickle cannot rebuild it (Exception pickles its one message, __init__ wants two)."""

    def __init__(self, name: str, why: str):
        super().__init__(f"{name}: {why}")

HOOKS = '''
import multiprocessing
import os
import signal

import numpy as np

from droptrack.eval.workers import TrackerSpec


def _in_worker():
    return multiprocessing.current_process().name != "MainProcess"   # also while spawn unpickles


class Sequence:
    """A 4-frame sequence of noise; one named 'arrival' kills the worker process that receives it."""

    def __init__(self, name):
        self.name = name
        self.boxes = np.tile([8.0, 8.0, 16.0, 16.0], (4, 1))

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.name == "arrival" and _in_worker():
            os.kill(os.getpid(), signal.SIGKILL)

    def __len__(self):
        return len(self.boxes)

    def iter_frames(self):
        rng = np.random.default_rng(0)
        for _ in range(len(self)):
            yield (rng.random((48, 48, 3)) * 255).astype(np.uint8)


class DyingSpec(TrackerSpec):
    """Tracker settings whose arrival in a worker process kills it (as the OOM killer while the model loads)."""

    def __setstate__(self, state):
        self.__dict__.update(state)
        if _in_worker():
            os.kill(os.getpid(), signal.SIGKILL)
'''

PARENT = '''
import sys

from hooks import DyingSpec, Sequence
from droptrack.eval.workers import LoadedTrackers, TrackerSpec


def done(res, seq, exc):
    print(seq.name, "ok" if res is not None else type(exc).__name__, flush=True)


if __name__ == "__main__":
    cls = DyingSpec if sys.argv[1] == "dying" else TrackerSpec
    names = sys.argv[2].split(",")
    try:
        with LoadedTrackers(cls(None, None, "cpu", threads=1, baseline="kcf"), 2, len(names)) as trackers:
            trackers.run([Sequence(n) for n in names], lambda *a: None, done)
    except Exception as exc:
        print("error", type(exc).__name__, str(exc), flush=True)
    print("returned", flush=True)
'''


def _run(tmp_path: Path, spec: str, names: str) -> list[str]:
    (tmp_path / "hooks.py").write_text(HOOKS)
    (tmp_path / "parent.py").write_text(textwrap.dedent(PARENT))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), root]), "OMP_NUM_THREADS": "1"}
    try:
        out = subprocess.run([sys.executable, str(tmp_path / "parent.py"), spec, names], capture_output=True,
                             text=True, env=env, timeout=60).stdout
    except subprocess.TimeoutExpired:
        pytest.fail("the run waited forever after a worker was killed")
    return out.splitlines()


def test_a_worker_killed_as_it_receives_a_sequence_fails_that_sequence_only(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    lines = _run(tmp_path, "plain", "a,arrival,b,c")
    assert sorted(lines[:4]) == ["a ok", "arrival WorkerDied", "b ok", "c ok"]
    assert lines[4:] == ["returned"]


def test_workers_all_killed_while_starting_is_an_error_not_a_wait(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    lines = _run(tmp_path, "dying", "a,b")
    assert lines[-1] == "returned"
    assert lines[0].startswith("error WorkerDied")
    assert "--workers" in lines[0]


def test_an_error_whose_class_cannot_be_rebuilt_still_fails_only_its_sequence():
    """A worker's DropTrackError that pickles but cannot be unpickled (an __init__ with two arguments) made the
    parent's read of the message raise, stopping the whole run; it now arrives as a plain DropTrackError."""
    import multiprocessing as mp

    from droptrack.eval.workers import _send

    here, there = mp.Pipe()
    _send(there, "failed", TwoArgs("seq", "bad frame"))
    kind, exc = here.recv()
    assert kind == "failed" and isinstance(exc, DropTrackError) and str(exc) == "seq: bad frame"
