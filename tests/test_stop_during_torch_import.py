"""A Ctrl-C (or SIGTERM, as dt's handlers raise it) while torch starts: Python raised its KeyboardInterrupt in code
torch's C++ start calls back, and `dt eval` aborted ('terminate called', exit 134) in 5 of 190 stops under load.
The stop is now deferred to the end of torch's import (`signals.import_torch`). Each test sends the signal from an
import hook at the moment torch's import begins, so the moment is exact, not a race."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from droptrack.data import generate_synth
from droptrack.signals import Stopped, deferred

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")

# installed in a fresh interpreter (torch not yet imported): sends SIGNUM to the process as torch's import begins,
# and says at exit whether torch had finished importing then
HOOK = textwrap.dedent("""
    import atexit, os, signal, sys

    signal.signal(signal.SIGINT, signal.default_int_handler)   # as a terminal starts it: a suite run in the
                                                                # background (nohup, &) passes SIGINT down ignored

    class StopAtTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                os.kill(os.getpid(), SIGNUM)
            return None

    sys.meta_path.insert(0, StopAtTorch())
    atexit.register(lambda: sys.stderr.write("torch imported: %s\\n" % hasattr(sys.modules.get("torch"), "Tensor")))
""")


def _python(code: str, signum: int, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    script = HOOK.replace("SIGNUM", str(int(signum))) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env,
                          cwd=cwd)


def test_deferred_runs_the_handler_after_the_block():
    seen = []
    before = signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(Stopped(s)))
    try:
        with pytest.raises(Stopped):
            with deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                seen.append("block went on")   # not raised inside
        assert seen == ["block went on"]
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_import_torch_takes_the_stop_after_torch_started(tmp_path, signum):
    res = _python("""
        from droptrack.signals import Stopped, import_torch, stop_signals
        try:
            with stop_signals():   # SIGTERM raises Stopped, as in dt's commands
                import_torch()
        except KeyboardInterrupt as exc:
            print("stopped:", type(exc).__name__)
    """, signum, tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == f"stopped: {'KeyboardInterrupt' if signum == signal.SIGINT else 'Stopped'}"
    assert "torch imported: True" in res.stderr, res.stderr[-2000:]


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_dt_eval_stopped_while_torch_starts(tmp_path, signum, code, said):
    """dt eval with the default model imports torch after its handlers are in: the stop gives its line, after
    torch started (the import ran to its end), and nothing is saved."""
    root = generate_synth(tmp_path / "set", 1, 4, seed=0, size=(96, 64), split="val")
    res = _python(f"""
        import sys
        from droptrack.__main__ import main
        sys.argv = ["dt", "eval", "--dataset", "synth", "--root", {str(root)!r}, "--output", "out", "--threads", "1"]
        main()
    """, signum, tmp_path)
    assert res.returncode == code, res.stderr[-2000:]
    lines = [line for line in res.stderr.splitlines() if line and not line.startswith("torch imported")]
    assert lines == [f"{said} before any sequence was tracked: nothing saved; run the same command to start"], lines
    assert "torch imported: True" in res.stderr
    assert "Traceback" not in res.stderr and "terminate" not in res.stderr
