"""Training's own side of stopping: StepHold (a stop signal waits for the iteration or checkpoint in progress), the
Ctrl-C behind a failed checkpoint write, and how a rank tells a dead DataLoader worker or a departed peer from its own
failure. The signal vocabulary the other
commands share too (Stopped, stop_error, stop_signals) is `droptrack.signals`."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Iterator

from droptrack.errors import TrainingError
from droptrack.signals import stop_error


class StepHold:
    """While `holding` (training, but not validation), the first stop signal is kept in `pending` instead of raised,
    so the run can finish and save the iteration or checkpoint write in progress and then stop (`stop_if_asked`); a
    second one stops at once."""

    NOTE = "\nstopping once this iteration is done and saved; {again} stops at once\n"   # again: the signal's name

    def __init__(self) -> None:
        self.holding = False
        self.pending: int | None = None

    def take(self, signum: int) -> bool:
        """Whether the signal is held (the first while holding; it says so on stderr), else it is to be raised."""
        if not self.holding or self.pending is not None:
            return False
        self.pending = signum
        try:
            os.write(2, self.NOTE.format(again=again(signum)).encode())
        except OSError:
            pass
        return True

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold stop signals within the block (the epochs); after it they are raised at once again."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Within `held`, a block (validation: minutes) that a stop signal ends at once; a held one ends it first."""
        self.stop_if_asked()
        was, self.holding = self.holding, False
        try:
            yield
        finally:
            self.holding = was

    def stop_if_asked(self) -> None:
        """Raise the held signal's stop (after the caller saved its checkpoint), if one came."""
        if self.pending is not None:
            raise stop_error(self.pending)


def again(signum: int) -> str:
    """How a user sends `signum` once more: Ctrl-C for SIGINT, else its name (the note after a SIGTERM said
    'the same signal again (Ctrl-C)', which sends another signal)."""
    if signum == signal.SIGINT:
        return "Ctrl-C again"
    try:
        return f"{signal.Signals(signum).name} again"
    except ValueError:
        return "the same signal again"


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C / Stopped that `exc` was raised while handling (torch.save's writer fails as it closes), if any."""
    seen = exc.__context__
    while seen is not None and not isinstance(seen, KeyboardInterrupt):
        seen = seen.__context__
    return seen


def worker_died(exc: RuntimeError) -> bool:
    """Whether torch raised `exc` because a DataLoader worker process was killed (the kernel's out-of-memory killer,
    kill -9) or exited without a word (a crash in a decoder)."""
    return str(exc).lstrip().startswith("DataLoader worker (pid")


def batch_cut_off(exc: BaseException) -> bool:
    """Whether `exc` broke off a batch on its way from a DataLoader worker: the pipe closed (EOFError, a connection
    error), or the worker's socket for the batch's shared memory was gone as it ended (FileNotFoundError, raised in
    multiprocessing itself, not by a file of our own)."""
    if isinstance(exc, (ConnectionError, EOFError)):
        return True
    if not isinstance(exc, FileNotFoundError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"multiprocessing{os.sep}" in tb.tb_frame.f_code.co_filename


def peer_gone(exc: RuntimeError) -> bool:
    """Whether a collective failed because another rank went away (gloo: connection closed or reset; NCCL: the
    communicator was aborted) rather than for a reason of this rank's own."""
    import torch

    text = str(exc)
    return isinstance(exc, getattr(torch.distributed, "DistBackendError", ())) or any(
        s in text for s in ("Connection closed by peer", "Connection reset by peer", "NCCL communicator was aborted"))


def peer_failed(rank: int) -> TrainingError:
    """The one line of a rank whose collective failed because another rank failed: that rank prints the reason."""
    return TrainingError(f"rank {rank} stopped: another process of this run failed (its error is printed too)")


def hold_agent_stop() -> None:
    """Block SIGTERM until this rank exits, once it has found its peer gone: torchrun's agent sends SIGTERM to the
    ranks still running once one has failed, and killed by it the rank would exit without its `peer_failed` line
    (-15, said by the launcher instead: `launch.agent_stopped_lines`); blocked, it prints the line and exits 2, so
    the line is said exactly once."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def teardown(failed: bool) -> None:
    """Destroy this rank's process group, if any: after a run, and after a failure under gloo, whose group left to
    interpreter shutdown now and then aborts the process (exit 134 instead of its error's 2). Not after a failure
    under NCCL, whose destroy can wait forever for a rank that has crashed (NVIDIA's advice there is an abort)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and (not failed or dist.get_backend() == "gloo"):
        dist.destroy_process_group()
