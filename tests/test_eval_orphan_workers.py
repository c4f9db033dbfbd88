"""dt eval --workers N killed with SIGKILL (OOM killer, kill -9): its worker processes end too, rather than tracking
their sequences on for results nobody writes while the rerun competes with them for the CPU or GPU."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see processes")

SLOW = '''
import time
import numpy as np


class SlowSequence:
    """A sequence whose frames come one per 50 ms, for hours: a worker tracking it is busy until stopped."""

    def __init__(self, name):
        self.name = name
        self.boxes = np.tile([8.0, 8.0, 16.0, 16.0], (100000, 1))

    def __len__(self):
        return len(self.boxes)

    def iter_frames(self):
        rng = np.random.default_rng(0)
        for _ in range(len(self)):
            time.sleep(0.05)
            yield (rng.random((48, 48, 3)) * 255).astype(np.uint8)
'''

PARENT = '''
import multiprocessing
import sys

from slowseq import SlowSequence
from droptrack.eval.workers import LoadedTrackers, TrackerSpec

seen = set()


def progress(name, done, total):
    seen.add(name)
    if len(seen) == 2 and done > 1:
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        seen.add("printed")


if __name__ == "__main__":
    with LoadedTrackers(TrackerSpec(None, None, "cpu", threads=1, baseline="kcf"), 2, 2) as trackers:
        trackers.run([SlowSequence("a"), SlowSequence("b")], progress, lambda *a: None)
'''


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_end_with_a_killed_parent(tmp_path: Path) -> None:
    (tmp_path / "slowseq.py").write_text(SLOW)
    (tmp_path / "parent.py").write_text(textwrap.dedent(PARENT))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), root]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()   # both workers are tracking
        children = [int(p) for p in line.split()]
        assert children, "the parent printed no worker ids"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    workers = children
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in workers if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"worker processes {left} went on after their parent was killed"
