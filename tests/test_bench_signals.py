"""`dt bench` stopped by SIGTERM (timeout, systemd, docker stop) says how to go on and exits 143, like Ctrl-C's 130,
instead of dying without a word (and leaving its .lock behind); dt eval's worker loop keeps the signal too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from droptrack.signals import Stopped
from droptrack.eval.workers import sigterm_as_interrupt

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import droptrack.eval.bench as bench
    from droptrack.cli import app

    def killed(opts):   # the bench is busy (timing, tracking, writing) when the signal comes
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit("still running after SIGTERM")

    bench.run_bench = killed
    sys.argv = ["dt", "bench", "--tracker", "csrt", "-o", sys.argv[1]]
    app()
""")


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("existed", [True, False])
def test_sigterm_during_a_bench_exits_143_with_the_resume_line(tmp_path, existed):
    """The line says where finished sequences are kept, or, where the bench stopped before its first file (its new
    --output folder removed again, as still empty), that nothing was saved: it said 'saved in OUT' of no folder."""
    out = tmp_path / "bench"
    if existed:
        out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    if existed:
        assert last == (f"stopped by SIGTERM: finished sequences are saved in {out}; run the same command with "
                        "--resume to continue")
    else:
        assert last == "stopped by SIGTERM before any sequence was saved: nothing saved; run the same command to start"
        assert not out.exists()


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")
def test_sigterm_in_the_eval_loop_is_an_interrupt_that_names_sigterm():
    with pytest.raises(KeyboardInterrupt) as info:
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
    assert getattr(info.value, "signum", None) == signal.SIGTERM


class _Seq:
    name = "s"
    boxes = np.array([[1.0, 1.0, 4.0, 4.0]] * 3)

    def __len__(self) -> int:
        return 3

    def iter_frames(self):
        for _ in range(3):
            yield np.zeros((8, 8, 3), np.uint8)


class _StoppedTracker:
    """Stands for the model when SIGTERM (raised as Stopped by dt bench's handler) arrives mid-frame."""

    states: list = []

    def initialize_many(self, image, boxes):
        raise Stopped(signal.SIGTERM)


def test_sigterm_while_timing_stays_sigterm():
    from droptrack.eval.bench_timing import _track

    with pytest.raises(KeyboardInterrupt) as info:
        _track(_StoppedTracker(), [_Seq()], 2, lambda n: None)
    assert getattr(info.value, "signum", None) == signal.SIGTERM
