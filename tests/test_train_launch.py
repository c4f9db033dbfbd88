"""`dt train --nproc N`'s launcher process dies with the `dt` that started it (SIGKILL included), arranged by the
launcher itself at start-up rather than by a subprocess `preexec_fn` (Python run between fork and exec in `dt`, which
can deadlock once `dt` has threads). The whole `--nproc 2` run under SIGKILL: tests/test_train_audit.py; a whole
`python -m droptrack.train --nproc 2` run with spaces in its paths: tests/test_train_lock.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from droptrack.train import launch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
ROOT = Path(__file__).resolve().parents[1]
ARMED = "from droptrack.train.launch import die_with_parent; die_with_parent(); import os; "


def python(code: str) -> list[str]:
    """`python -c CODE` with this checkout importable."""
    return [sys.executable, "-c", code]


def env(**extra: str) -> dict[str, str]:
    """This environment with the checkout on PYTHONPATH, plus `extra`."""
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **extra}


def gone(pid: int, deadline_s: float) -> bool:
    """Whether process `pid` (not our child) has exited (or is a zombie) within `deadline_s` seconds."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            return True
        time.sleep(0.05)
    return False


def test_the_launcher_dies_with_the_process_that_started_it(tmp_path):
    """A middle process (as `dt`) starts a launcher with its pid in the environment and is SIGKILLed once the
    launcher is armed: the launcher gets SIGTERM (it would sleep for 10 minutes otherwise)."""
    log = tmp_path / "launcher.txt"
    child = python(ARMED + f"open({str(log)!r}, 'w').write(str(os.getpid())); import time; time.sleep(600)")
    middle = python("import os, subprocess, sys, time; "
                    f"subprocess.Popen({child!r}, env={{**os.environ, {launch.PARENT_ENV!r}: str(os.getpid())}}); "
                    "time.sleep(600)")
    proc = subprocess.Popen(middle, env=env())
    try:
        end = time.monotonic() + 120
        while not (log.is_file() and log.read_text()):
            assert proc.poll() is None and time.monotonic() < end
            time.sleep(0.05)
        pid = int(log.read_text())
        proc.kill()   # SIGKILL: no handler of the parent runs
        proc.wait()
        assert gone(pid, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if log.is_file() and log.read_text() and not gone(int(log.read_text()), 0):
            os.kill(int(log.read_text()), signal.SIGKILL)


def test_a_launcher_whose_parent_already_died_stops_at_once():
    """The parent died between starting the launcher and its prctl call (the launcher was reparented): SIGTERM now."""
    dead = subprocess.run(python("import os; print(os.getpid())"), capture_output=True, text=True).stdout.strip()
    res = subprocess.run(python(ARMED + "import time; time.sleep(600)"), env=env(**{launch.PARENT_ENV: dead}),
                         timeout=300)
    assert res.returncode == -signal.SIGTERM


def test_a_launcher_whose_parent_lives_runs_and_does_not_pass_the_pid_on():
    code = ARMED + f"print(os.environ.get({launch.PARENT_ENV!r}))"
    res = subprocess.run(python(code), env=env(**{launch.PARENT_ENV: str(os.getpid())}), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "None", res.stderr   # the ranks do not inherit it
    res = subprocess.run(python(code), env=env(), capture_output=True, text=True, timeout=300)   # unset: no-op
    assert res.returncode == 0 and res.stdout.strip() == "None", res.stderr


class Started(Exception):
    """Raised by the spy in place of starting the launcher."""


def test_run_launcher_passes_its_pid_and_no_preexec_fn(monkeypatch):
    """What run_launcher hands subprocess.Popen: no preexec_fn, and its own pid for the launcher to die with."""
    seen: list[tuple[list[str], dict]] = []

    def spy(cmd, **kwargs):
        seen.append((cmd, kwargs))
        raise Started

    before = {s: signal.getsignal(s) for s in launch.STOP_SIGNALS}
    monkeypatch.setattr(subprocess, "Popen", spy)
    with pytest.raises(Started):
        launch.run_launcher(2, ["-c", "cfg.yaml"])
    (cmd, kwargs), = seen
    assert cmd == [sys.executable, "-m", "droptrack.train.launch", "2", "-c", "cfg.yaml"]
    assert kwargs.get("preexec_fn") is None and kwargs["start_new_session"] is True
    assert kwargs["env"][launch.PARENT_ENV] == str(os.getpid())
    assert launch.PARENT_ENV not in os.environ   # dt's own environment is left alone
    assert {s: signal.getsignal(s) for s in launch.STOP_SIGNALS} == before


KILLED_RANK = """
import sys
import torch.distributed.run as run
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
def killed(_args):
    raise ChildFailedError("droptrack.train", {1: ProcessFailure(local_rank=1, pid=4321, exitcode=-9, error_file="")})
run.run = killed
from droptrack.train.launch import launch
sys.exit(launch(2, sys.argv[1:]))
"""


def test_a_rank_killed_by_a_signal_is_named_with_how_to_resume(tmp_path):
    """A rank killed by SIGKILL (the out-of-memory killer) prints nothing itself; the other rank only says that
    another one failed. The launcher names it, the likely cause and the checkpoint to resume from (an --output's
    control characters escaped: they reached the terminal raw; its other characters, '[b]' too, as they are)."""
    shown = "r[b]\\x1b[2J"
    out = tmp_path / "r[b]\x1b[2J"
    out.mkdir()
    (out / "last.pt").write_bytes(b"")
    proc = subprocess.run(python(KILLED_RANK) + ["-c", "tiny_ce_test", "--output", str(out)], env=env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 128 + signal.SIGKILL, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: rank 1 (pid 4321) was killed by SIGKILL, often the system's out-of-memory killer: lower --batch-size "
        f"or --workers, then run the same command with --resume to continue from {tmp_path}/{shown}/last.pt (saved at "
        "each epoch's end, at the iteration a stop signal or Ctrl-C ended, and every N iterations with --save-interval "
        "N)"
    ), proc.stderr


FAILED_RANKS = """
import sys
import torch.distributed.run as run
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
codes = [int(c) for c in sys.argv[1].split(",")]
def failed(_args):
    raise ChildFailedError("droptrack.train", {r: ProcessFailure(local_rank=r, pid=100 + r, exitcode=c, error_file="")
                                               for r, c in enumerate(codes)})
run.run = failed
from droptrack.train.launch import launch
sys.exit(launch(len(codes), ["-c", "tiny_ce_test"]))
"""
PEER = "error: rank {} stopped: another process of this run failed (its error is printed too)"


@pytest.mark.parametrize("codes, lines", [
    ("2,-15", [PEER.format(1)]),             # rank 1 computing when rank 0 failed: the agent's SIGTERM killed it
    ("2,2", []),                             # rank 1 reached its collective first and said so itself
    ("2,-15,2,-15", [PEER.format(1), PEER.format(3)])])
def test_a_rank_the_agent_stopped_after_another_failed_is_said_once(codes, lines):
    """Rank 0 failed (its own line, exit 2); torchrun's agent then sends SIGTERM to the ranks still running. A rank
    still computing died of it without a word (1 run in 6 of the disk-full --nproc 2 test on a loaded machine), where
    one already in its collective says the peer line itself: the launcher says it for the killed ones."""
    proc = subprocess.run(python(FAILED_RANKS) + [codes], env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == lines, proc.stderr


def test_a_rank_that_says_its_peer_failed_is_not_killed_before_it_has_said_it():
    """Once a rank has found its peer gone, the agent's SIGTERM waits until it has printed the line and exited 2:
    killed in between, the line would be lost, and said again by the launcher if it came after."""
    code = ("import os, signal, sys; from droptrack.train.stops import hold_agent_stop, peer_failed; "
            "hold_agent_stop(); exc = peer_failed(1); os.kill(os.getpid(), signal.SIGTERM); "
            "print('error:', exc, file=sys.stderr); sys.exit(2)")
    proc = subprocess.run(python(code), env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == PEER.format(1), proc.stderr


@pytest.mark.parametrize("gpus, device, line", [
    (1, "cuda", "error: --nproc 2: each process trains on a GPU of its own and this machine has 1; pass --nproc 1 (or "
                "--device cpu)"),
    (1, "auto", "error: --nproc 2: each process trains on a GPU of its own and this machine has 1; pass --nproc 1 (or "
                "--device cpu)"),
    (0, "cuda", "error: --device cuda requested but CUDA is not available; use --device cpu")])
def test_nproc_past_the_gpus_is_one_line_before_any_process_starts(tmp_path, monkeypatch, gpus, device, line):
    """Each rank takes GPU local_rank: with fewer GPUs the ranks failed one by one (a line each, or an invalid device
    ordinal); now dt says it once and starts nothing."""
    import torch
    from typer.testing import CliRunner

    from droptrack.cli import app

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    started = []
    monkeypatch.setattr(launch, "run_launcher", lambda *a: started.append(a) or 0)
    data = tmp_path / "data"
    data.mkdir()
    result = CliRunner().invoke(app, ["train", "-c", "tiny_ce_test", "-o", str(tmp_path / "run"), "--data", str(data),
                                      "--device", device, "--nproc", "2"])
    assert result.exit_code == 2 and result.output.strip() == line and not started, result.output


def test_ranks_get_the_parsed_options_not_a_recut_sys_argv(tmp_path, monkeypatch):
    """The ranks' arguments were sys.argv[2:] less --nproc: under `python -m droptrack.train` (or the Python API, or
    any other argv[0..1]) that cut off the first option. Now they are the parsed options: parsed again by `dt train`
    they give the same options, and paths with spaces, quotes and a leading '-' stay whole."""
    from dataclasses import asdict

    from typer.testing import CliRunner

    import droptrack.train.trainer as trainer
    from droptrack.cli import app

    data = tmp_path / "my data's \"set\""
    data.mkdir()
    out = tmp_path / "-out dir"
    started: list[list[str]] = []
    monkeypatch.setattr(launch, "run_launcher", lambda n, args: started.append(args) or 0)
    monkeypatch.setattr(sys, "argv", ["something", "else"])   # not what the ranks are built from
    cli = ["train", "-c", "tiny_ce_test", f"--output={out}", "--data", f"SYNTH={data}", "--epochs", "2",
           "--nproc", "2", "--resume", "--freeze-bn", "--amp", "bf16", "--device", "cpu", "--seed", "7"]
    assert CliRunner().invoke(app, cli).exit_code == 0 and len(started) == 1
    got: list = []
    monkeypatch.setattr(trainer, "train", lambda opts: got.append(opts) or out / "last.pt")
    assert CliRunner().invoke(app, ["train", *started[0]]).exit_code == 0
    expected = dict(config="tiny_ce_test", output=out, pretrained=None, data=[f"SYNTH={data}"], val_data=None,
                    epochs=2, batch_size=None, samples_per_epoch=None, workers=None, resume=True, save_every=1,
                    save_interval=None, keep_last=3, val_every=None, val_sequences=8, seed=7, amp="bf16",
                    device="cpu", max_iters=None, stop_after=None, freeze_bn=True, threads=None, nproc=1, quiet=False,
                    trust_checkpoint=False)
    assert asdict(got[0]) == expected


def test_nproc_takes_device_in_any_case_as_one_process_does(tmp_path, monkeypatch):
    """`--device CPU` trains in one process (any case and spacing); with --nproc 2 the GPU check read the flag as
    typed and refused it: "--device CPU requested but CUDA is not available"."""
    import torch
    from typer.testing import CliRunner

    from droptrack.cli import app

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    started: list[list[str]] = []
    monkeypatch.setattr(launch, "run_launcher", lambda n, args: started.append(args) or 0)
    data = tmp_path / "data"
    data.mkdir()
    result = CliRunner().invoke(app, ["train", "-c", "tiny_ce_test", "-o", str(tmp_path / "run"), "--data", str(data),
                                      "--device", " CPU", "--nproc", "2"])
    assert result.exit_code == 0 and len(started) == 1, result.output
    assert "--device=cpu" in started[0]


TEARDOWN_CHILD = """
import os, sys
import torch.distributed as dist
from droptrack.errors import DropTrackError
from droptrack.train.trainer import TrainOptions, train

# as under torchrun: the group exists before train runs (its store a file: a TCP port picked free before the
# child binds it could be taken meanwhile by another test process)
dist.init_process_group("gloo", init_method="file://" + sys.argv[2], rank=0, world_size=1)
try:
    train(TrainOptions(config="tiny_ce_test", output=sys.argv[1], data=["synth=" + sys.argv[1] + "_none"],
                       device="cpu", epochs=1, workers=0))
except DropTrackError as exc:
    print("failed:", exc, file=sys.stderr)
print("initialized after the failure:", dist.is_initialized())
"""


def test_a_rank_that_fails_tears_its_process_group_down(tmp_path):
    """A rank that failed left its gloo group to interpreter shutdown, which now and then aborted the process
    ('terminate called without an active exception', exit 134, about 1 exit in 8 in a two-process loop): CI saw
    --nproc 2 exit 134 instead of the failing rank's 2. The group is destroyed before the error leaves train()."""
    (tmp_path / "run_none").mkdir()
    p = subprocess.run([sys.executable, "-c", TEARDOWN_CHILD, str(tmp_path / "run"), str(tmp_path / "store")],
                       capture_output=True, text=True, timeout=120)
    assert "failed: " in p.stderr, p.stderr
    assert p.returncode == 0 and "initialized after the failure: False" in p.stdout, (p.stdout, p.stderr)


EXIT_CHILD = """
import atexit, runpy, sys
atexit.register(lambda: print("interpreter shutdown ran", flush=True))
sys.argv = ["droptrack.train", *sys.argv[1:]]
runpy.run_module("droptrack.train", run_name="__main__")
"""


@pytest.mark.parametrize("argv,code", [(["--help"], 0), (["--epochs", "1"], 2)])
def test_a_torchrun_rank_ends_without_interpreter_shutdown_with_its_output_and_exit_code(argv, code):
    """A rank whose run finished (exit 0) aborted at interpreter shutdown too (SIGABRT under torchrun: CI's
    two-process resume test): every rank under torchrun now ends with os._exit once its output is flushed, so no
    shutdown (atexit, gloo's teardown) runs, while its lines and its exit code are kept. One process alone is left
    to Python's normal exit."""
    env = {**os.environ, "WORLD_SIZE": "2", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", EXIT_CHILD, *argv], capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.returncode == code, p.stderr
    assert "interpreter shutdown ran" not in p.stdout
    assert ("Usage:" in p.stdout) if code == 0 else ("error: dt train: Missing option '--config'" in p.stderr), (
        p.stdout, p.stderr)
    alone = subprocess.run([sys.executable, "-c", EXIT_CHILD, *argv], capture_output=True, text=True, timeout=120,
                           env={**env, "WORLD_SIZE": "1"})
    assert alone.returncode == code and "interpreter shutdown ran" in alone.stdout


def test_a_bad_input_every_rank_meets_is_said_once(tmp_path):
    """`dt train --data EMPTY --nproc 2`: each rank printed the same 'no sequences' error (twice, or N times); the
    launcher now says each distinct line of its ranks once (not rank 0 alone: an error one rank meets is said too)."""
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "droptrack", "train", "-c", "tiny_ce_test", "--data",
                           str(tmp_path / "empty"), "-o", str(tmp_path / "run"), "--nproc", "2", "--epochs", "1",
                           "--batch-size", "2", "--samples-per-epoch", "4", "--workers", "0", "--device", "cpu"],
                          env=env(OMP_NUM_THREADS="1", TMPDIR=str(tmp_path)), capture_output=True, text=True,
                          timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"error: training dataset SYNTH: no sequences under '{tmp_path / 'empty'}'"), errors
    assert not list(tmp_path.glob("dt-train-errors-*"))   # the launcher's folder of rank lines: removed


SAYING_RANKS = """
import os, subprocess, sys
import torch.distributed.run as run
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
lines = sys.argv[1:]
SAY = "import sys; from droptrack.errors import say_error; say_error(sys.argv[1])"
def ranks(_args):   # each rank says its line as a rank's dt does, the last rank first
    for r in reversed(range(len(lines))):
        subprocess.run([sys.executable, "-c", SAY, lines[r]], env={**os.environ, "RANK": str(r)}, check=True)
    raise ChildFailedError("droptrack.train", {r: ProcessFailure(local_rank=r, pid=100 + r, exitcode=2, error_file="")
                                               for r in range(len(lines))})
run.run = ranks
from droptrack.train.launch import launch
sys.exit(launch(len(lines), ["-c", "tiny_ce_test"]))
"""


def test_each_distinct_rank_line_is_said_once_in_rank_order(tmp_path):
    """Ranks 0, 1 and 3 meet the same bad input, rank 2 an error of its own (its disk, its frames): each line once,
    rank 0's first whichever rank wrote first, and the one only rank 2 met is not lost."""
    lines = ["error: bad input", "error: bad input", "error: only rank 2 met this", "error: bad input"]
    proc = subprocess.run(python(SAYING_RANKS) + lines, env=env(TMPDIR=str(tmp_path)), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == ["error: bad input", "error: only rank 2 met this"], proc.stderr
    assert not list(tmp_path.glob("dt-train-errors-*"))
