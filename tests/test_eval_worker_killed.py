"""dt eval --workers N whose worker process is killed (kill -9, the OOM killer): the run ends with that sequence
failed and the others' results given, rather than waiting forever for the lost sequence."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

SEQS = '''
import os
import signal

import numpy as np


class Sequence:
    """A 6-frame sequence of noise; `die` kills the process reading its third frame."""

    def __init__(self, name, die=False):
        self.name, self.die = name, die
        self.boxes = np.tile([8.0, 8.0, 16.0, 16.0], (6, 1))

    def __len__(self):
        return len(self.boxes)

    def iter_frames(self):
        rng = np.random.default_rng(0)
        for i in range(len(self)):
            if self.die and i == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            yield (rng.random((48, 48, 3)) * 255).astype(np.uint8)
'''

PARENT = '''
from seqs import Sequence
from droptrack.eval.workers import LoadedTrackers, TrackerSpec


def done(res, seq, exc):
    print(seq.name, "ok" if res is not None else type(exc).__name__, flush=True)


if __name__ == "__main__":
    with LoadedTrackers(TrackerSpec(None, None, "cpu", threads=1, baseline="kcf"), 2, 2) as trackers:
        trackers.run([Sequence("killed", die=True), Sequence("fine")], lambda *a: None, done)
    print("returned", flush=True)
'''


def test_a_killed_worker_fails_its_sequence_only(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    (tmp_path / "seqs.py").write_text(SEQS)
    (tmp_path / "parent.py").write_text(textwrap.dedent(PARENT))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), root]), "OMP_NUM_THREADS": "1"}
    try:
        out = subprocess.run([sys.executable, str(tmp_path / "parent.py")], capture_output=True, text=True, env=env,
                             timeout=60).stdout
    except subprocess.TimeoutExpired:
        pytest.fail("the run waited forever for the sequence of the killed worker")
    assert sorted(out.split("\n")[:2]) == ["fine ok", "killed WorkerDied"]
    assert out.split("\n")[2] == "returned"
