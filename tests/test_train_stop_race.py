"""dt train sent SIGTERM to its whole process group (systemd, `kill -- -PGID`, a scheduler) as it reads a batch: the
training process's handler takes the signal (the iteration in progress is to be finished and saved), while the same
signal ends the DataLoader worker whose batch is being read, and the read fails with ConnectionResetError or EOFError
(the worker's end of the queue, or of the socket its shared tensors are handed over by, went away), or with
FileNotFoundError (that socket's file was already removed: the project's CI, 2026-12-04). That error left dt train
as a traceback, exit 1, instead of the stop and its resume hint, exit 143 (2 of 21 runs under load).

Real workers cannot be made to lose that race on cue: torch turns a failed read into its own 'DataLoader worker ...
exited unexpectedly' once it sees the worker gone, and the raw error shows only in the instant between the worker's
socket closing and its exit. So the epoch's batch source, an explicit argument of `train` (`batches_of`), stands in
for that loader: at a chosen batch it raises the signal in this process (handled before `raise_signal` returns, as
the group's signal reaches the training process first) and then the error the read meets."""

from __future__ import annotations

import multiprocessing.connection
import signal
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch
import yaml

from droptrack.signals import Stopped
from droptrack.train.loader import epoch_batches
from droptrack.train.trainer import TrainOptions, train
from helpers import one_epoch_options

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
ITERATIONS = 6   # one epoch: 12 samples, batch 2
FAILS_AT = 4     # the batch whose read fails


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def default_term(monkeypatch):
    """SIGTERM with its default action, as dt train is started (a test process can inherit it ignored), and no
    WORLD_SIZE (dt train in one process takes the signal itself)."""
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, before)


def opts(out: Path, synth: Path, config: Path, **kw) -> TrainOptions:
    return one_epoch_options(out, synth, config, ITERATIONS, **kw)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, synth, config) -> dict:
    return torch.load(train(opts(tmp_path_factory.mktemp("full") / "run", synth, config)), weights_only=True)


def read_fails_at(batch: int, error: BaseException, signum: int | None):
    """An epoch's batches (`epoch_batches`) whose read of `batch` (counted from 1) fails with `error`, right after
    `signum` reached this process, as when the signal that ended the worker reaches the whole group."""
    def batches_of(*args):
        for n, item in enumerate(epoch_batches(*args), start=1):
            if n == batch:
                if signum is not None:
                    signal.raise_signal(signum)
                raise error
            yield item
    return batches_of


def socket_gone(tmp_path: Path) -> FileNotFoundError:
    """What multiprocessing raises as the main process connects to a worker's socket that the worker's end removed
    (`resource_sharer`'s handover of a shared tensor's file descriptor), made by connecting to a path with none."""
    with pytest.raises(FileNotFoundError) as gone:
        multiprocessing.connection.Client(str(tmp_path / "pymp-gone" / "listener"), family="AF_UNIX")
    return gone.value


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), EOFError(), "socket"],
                         ids=["reset", "eof", "socket-gone"])
def test_a_batch_read_that_the_stop_signal_cut_short_is_that_stop_and_the_run_resumes_bit_exact(
        tmp_path, synth, config, uninterrupted, default_term, error):
    """The stop, with the iterations done saved in last.pt (no --save-interval: they were lost, the whole epoch so
    far), and --resume then ends with the weights and loss history of a run that was never stopped."""
    out = tmp_path / "run"
    error = socket_gone(tmp_path) if error == "socket" else error
    with pytest.raises(Stopped) as stop:
        train(opts(out, synth, config), batches_of=read_fails_at(FAILS_AT, error, signal.SIGTERM))
    assert stop.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL   # its handler is put back
    assert torch.load(out / "last.pt", weights_only=True)["iteration"] == FAILS_AT - 1   # every iteration done
    resumed = torch.load(train(opts(out, synth, config, resume=True)), weights_only=True)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in uninterrupted["history"]]
    assert resumed["net"].keys() == uninterrupted["net"].keys()
    assert all(torch.equal(resumed["net"][k], uninterrupted["net"][k]) for k in resumed["net"])


def test_a_broken_read_without_a_stop_signal_stays_that_error(tmp_path, synth, config, default_term):
    """A connection lost with no stop signal is no stop: it is not hidden behind one."""
    with pytest.raises(ConnectionResetError):
        train(opts(tmp_path / "run", synth, config),
              batches_of=read_fails_at(FAILS_AT, ConnectionResetError(104, "Connection reset by peer"), None))


def test_a_missing_file_of_its_own_with_a_stop_signal_is_still_that_error(tmp_path, synth, config, default_term):
    """Only multiprocessing's missing socket counts as a read the stop cut short: a FileNotFoundError raised
    elsewhere as the signal came (a file of the run's own) is left as it is, not hidden behind the stop."""
    try:
        open(tmp_path / "no-such-file")
    except FileNotFoundError as exc:
        own = exc
    with pytest.raises(FileNotFoundError) as seen:
        train(opts(tmp_path / "run", synth, config), batches_of=read_fails_at(FAILS_AT, own, signal.SIGTERM))
    assert seen.value is own
