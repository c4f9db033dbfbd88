"""`dt train --nproc N`: torchrun, whose failure report (a Python traceback and a summary table) is left out: each
failing rank writes its own one-line `error: ...` to a file in this launcher's folder (`errors.say_error`), which
prints each distinct line once the ranks are gone, rank 0's first (a bad input every rank meets was said N times;
an error one rank alone meets is still said), and the exit code is that rank's; a rank that torchrun's agent killed
after another failed, before it could say so itself, is said here (`agent_stopped_lines`).

Stopping: SIGINT or SIGTERM to `dt` is passed to the launcher process, whose torchrun agent passes it to the ranks
and waits for them (SIGKILL after its grace period); whatever rank the agent lost track of (a signal that arrives
while it is spawning them) is killed when the launcher returns, so no rank outlives it. SIGKILL of `dt` (no handler
runs) reaches the launcher as SIGTERM on Linux (PR_SET_PDEATHSIG, which the launcher sets at its start-up), which then
stops its ranks the same way. A stop is said once, by the launcher, after its ranks are gone (as one process says
it: the checkpoint to --resume from, or that none was written yet), also when it came while they were starting.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from droptrack.errors import RANK_ERRORS
from droptrack.signals import held_signals, hold_again, stop_error, take_held

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Set by the launcher for its ranks (read by droptrack.train.__main__, the CLI's stop handlers): they say nothing of
# a stop signal; the launcher says it once, after torchrun has stopped them (stopped_line)
LAUNCHED_ENV = "DROPTRACK_NPROC_LAUNCHER"
# Seconds torchrun gives the ranks to stop after passing a signal on, before SIGKILL (its default: 30). A rank
# blocked in a collective or in the rendezvous (waiting for a slower rank) cannot run its SIGINT handler at all.
GRACE_S = 10


def exit_code(code: int) -> int:
    """A process's exit code as a shell reports it (killed by signal S -> 128 + S)."""
    return 128 - code if code < 0 else code


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux /proc; [] where there is none)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc/self/stat").exists() else []:
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue                                   # exited while we looked
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.parent.name))
    return found


def kill_leftover_ranks() -> list[int]:
    """SIGKILL this launcher's child processes that are still alive (ranks torchrun lost track of); their pids."""
    pids = children(os.getpid())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return pids


def check_gpus(nproc: int, device: str) -> None:
    """Before `nproc` ranks start: a CUDA device is there for each (rank r trains on GPU r), else one TrainingError
    (each rank said it on its own line, or failed on a GPU index past the last)."""
    if device == "cpu":
        return
    import torch

    from droptrack.errors import TrainingError

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0 and device != "auto":   # auto without CUDA: gloo on the CPU
        raise TrainingError(f"--device {device} requested but CUDA is not available; use --device cpu")
    if 0 < count < nproc:
        raise TrainingError(f"--nproc {nproc}: each process trains on a GPU of its own and this machine has {count}; "
                            f"pass --nproc {count} (or --device cpu)")


def output_arg(args: list[str]) -> Path | None:
    """The --output / -o folder among `dt train` arguments, or None."""
    for i, a in enumerate(args):
        if a in ("--output", "-o") and i + 1 < len(args):
            return Path(args[i + 1])
        if a.startswith("--output="):
            return Path(a.split("=", 1)[1])
        if a.startswith("-o") and len(a) > 2 and not a.startswith("--"):
            return Path(a[2:])
    return None


def killed_rank_line(rank: int, pid: int, exitcode: int, args: list[str]) -> str:
    """The error line for a rank killed by signal -`exitcode` (the out-of-memory killer, kill -9), which printed
    nothing itself: which rank, by what, and how to go on from the run's newest checkpoint (control characters of
    the --output it names escaped, as in every error line)."""
    from droptrack.errors import one_line
    from droptrack.train.hint import resume_hint

    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    out = output_arg(args)
    then = resume_hint(out) if out is not None else "run the same command with --resume"
    return one_line(f"rank {rank} (pid {pid}) was killed by {name}, often the system's out-of-memory killer: lower "
                    f"--batch-size or --workers, then {then}")


def agent_stopped_lines(failures: dict, first: int) -> list[str]:
    """The line of each rank but `first` that torchrun's agent killed with SIGTERM once `first` had failed (exit -15:
    it was computing, not yet in the collective that would have told it; torchrun records it as a failure too):
    the line such a rank prints itself when it gets there first (`stops.peer_failed`, exit 2)."""
    from droptrack.errors import one_line
    from droptrack.train.stops import peer_failed

    return [one_line(peer_failed(rank)) for rank, failure in sorted(failures.items())
            if rank != first and failure.exitcode == -signal.SIGTERM]


def stopped_line(signum: int, args: list[str]) -> str:
    """What a stopped `dt train --nproc` says, as one process stopped does: what stopped it, and the checkpoint to
    --resume from, or that there is none yet and the same command starts again (control characters escaped)."""
    from droptrack.errors import printable
    from droptrack.train.hint import stop_line

    return printable(stop_line(signum, output_arg(args)))


def rank_errors_folder() -> str | None:
    """A new folder for the ranks' error lines, named to them in RANK_ERRORS; None where none can be made (a full
    disk: each rank then prints its own line)."""
    try:
        folder = tempfile.mkdtemp(prefix="dt-train-errors-")
    except OSError:
        return None
    os.environ[RANK_ERRORS] = folder
    return folder


def rank_error_lines(folder: str | None) -> list[str]:
    """The error lines the ranks wrote to `folder` (`errors.say_error`: a file per rank), rank 0's first; the folder
    is removed."""
    if folder is None:
        return []
    lines = []
    for path in sorted((p for p in Path(folder).glob("*.txt") if p.stem.isdigit()), key=lambda p: int(p.stem)):
        try:
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
    return lines


def take_signals_in_a_thread() -> None:
    """Block the stop signals in this (main) thread, and take them in a thread that only waits: Python still runs
    their handlers (torchrun's) in the main thread, and the ranks torchrun starts from it inherit them blocked (a
    SIGINT that torchrun passes on while a rank's interpreter starts aborted it with a 'Fatal Python error'
    traceback); a rank takes them once it can (droptrack.train.__main__)."""
    import threading

    if not hasattr(signal, "pthread_sigmask"):   # Windows: no signal masks
        return

    def wait() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        threading.Event().wait()

    threading.Thread(target=wait, name="stop-signals", daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def raise_stop(signum: int, _frame) -> None:
    """The launcher's SIGTERM handler until torchrun puts in its own: Stopped, said by `launch` as SIGINT is."""
    raise stop_error(signum)


def launch(nproc: int, args: list[str]) -> int:
    """Run `python -m droptrack.train ARGS` in `nproc` processes; the exit code of the first rank that failed
    (128 + S when stopped by signal S, said in one line here once the ranks are gone); the ranks' error lines and
    this launcher's are said then, each distinct one once."""
    logging.disable(logging.ERROR)   # this launcher's torchrun log lines ("failed (exitcode: 2)"); not the ranks'
    os.environ.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", str(GRACE_S))   # read by torchrun (older torch: 30 s)
    os.environ[LAUNCHED_ENV] = "1"
    stopped = 0
    folder = rank_errors_folder()
    said: list[str] = []   # this launcher's own lines (a rank killed by a signal, or by the agent)
    try:
        # run_launcher started this process with the stop signals blocked (one sent while its interpreter started
        # aborted it with a 'Fatal Python error' traceback): one held since comes in now, as KeyboardInterrupt (SIGTERM:
        # Stopped; its default action ended the launcher without a word, exit 143, until torchrun's handler was in)
        signal.signal(signal.SIGTERM, raise_stop)
        take_signals_in_a_thread()
        from torch.distributed.elastic.multiprocessing.api import SignalException
        from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
        from torch.distributed.run import parse_args, run

        try:
            run(parse_args(["--standalone", f"--nproc_per_node={nproc}", "-m", "droptrack.train", *args]))
        except ChildFailedError as exc:
            rank, failure = exc.get_first_failure()
            if failure.exitcode < 0:   # killed from outside: the rank could not say why itself
                said.append(killed_rank_line(rank, failure.pid, failure.exitcode, args))
            said += agent_stopped_lines(exc.failures, rank)
            return exit_code(failure.exitcode)
        except SignalException as exc:            # torchrun has stopped the ranks it knew of
            stopped = int(exc.sigval)
            return 128 + stopped
        return 0
    except KeyboardInterrupt as exc:             # SIGINT or SIGTERM before torchrun took them over (importing torch)
        stopped = getattr(exc, "signum", signal.SIGINT)
        return 128 + stopped
    finally:
        for s in STOP_SIGNALS:                   # a second signal now would only interrupt the clean-up below
            signal.signal(s, signal.SIG_IGN)
        kill_leftover_ranks()
        for line in dict.fromkeys([*rank_error_lines(folder), *said]):   # every rank is gone: all are written
            print(line, file=sys.stderr, flush=True)
        if stopped:   # said once every rank is gone: the checkpoint a rank saved as it stopped is on disk
            print(stopped_line(stopped, args), file=sys.stderr, flush=True)


PR_SET_PDEATHSIG = 1   # linux/prctl.h
PARENT_ENV = "DROPTRACK_LAUNCHER_PARENT"   # run_launcher's pid, for the launcher to die with


def die_with_parent() -> None:
    """At the launcher's start-up: get SIGTERM when the process that started it (its pid in PARENT_ENV) dies, even by
    SIGKILL (Linux prctl PR_SET_PDEATHSIG; a no-op where prctl is missing or the variable is unset). A parent that
    died before the prctl call is not waited for: SIGTERM now (the parent pid is checked after setting it)."""
    import ctypes

    parent = os.environ.pop(PARENT_ENV, "")   # the ranks do not inherit it
    if not parent.isdigit():
        return
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):   # not Linux, or no libc symbol
        return
    if prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0 and os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


def run_launcher(nproc: int, args: list[str]) -> int:
    """`launch` in a child process of its own session; SIGINT or SIGTERM here is passed on to it and waited for,
    so torchrun stops its ranks (killing it outright left them running). Signals that arrive before the child
    exists are passed on as soon as it does."""
    child: list[subprocess.Popen] = []
    pending: list[int] = []

    def forward(signum: int, _frame) -> None:
        if child:
            child[0].send_signal(signum)
        else:
            pending.append(signum)

    held = held_signals()   # ignored (a `&` job of a script) and held for dt train by the CLI: taken too
    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS
                if signal.getsignal(s) is not signal.SIG_IGN or s in held}   # else ignored (the Python API): stays
    try:
        take_held(held)   # a held one is forwarded once the child runs
        # SIGKILL of dt (no handler runs) still stops the launcher, which stops its ranks: the launcher arranges
        # that itself at start-up (die_with_parent; no preexec_fn, which is unsafe in a process with threads)
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        # the child inherits the signal mask: the stop signals blocked while its interpreter starts (a SIGINT then
        # aborted it with a traceback), taken by `launch`; here they wait until the child is there to get them
        masks = previous if hasattr(signal, "pthread_sigmask") else {}   # Windows: no signal masks
        if masks:
            signal.pthread_sigmask(signal.SIG_BLOCK, masks)
        try:
            child.append(subprocess.Popen([sys.executable, "-m", "droptrack.train.launch", str(nproc), *args],
                                          env=env, start_new_session=True))   # a terminal's Ctrl-C: once, from here
        finally:
            if masks:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, masks)
        for s in pending:
            child[0].send_signal(s)
        return exit_code(child[0].wait())
    finally:
        hold_again(held)
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    die_with_parent()   # first: before torch is imported
    sys.exit(launch(int(sys.argv[1]), sys.argv[2:]))
