"""A training run's TensorBoard curves (OUTPUT/tb/events.out.tfevents.*), written by the thread that trains.

torch's SummaryWriter writes from a thread of its own: a disk that was full (or a size limit, a used-up quota) when
that thread wrote printed a traceback ('Exception in thread ...') and then stopped the run with an error naming no
file. Here every write is the caller's, so a full disk is the one 'no room left writing tb/events...' line (exit 2)
that a checkpoint's is, with the resume advice. The file is SummaryWriter's: its name pattern, TensorBoard's record
framing and protos, a scalar per value, and its purge step (a resumed run's curves hide the earlier run's points from
the epoch it resumes at)."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from droptrack.errors import OutputFull, full_error, full_message


def open_curves(folder: Path, purge_step: int | None) -> Curves | None:
    """The curves of this run in `folder` (a new events file), or None without tensorboard (optional)."""
    try:
        for name in ("tensorboard.compat.proto.event_pb2", "tensorboard.summary.writer.record_writer"):
            importlib.import_module(name)   # probed: Curves imports them where it writes
    except Exception:  # noqa: BLE001 - tensorboard is optional; a broken install draws no curves either
        return None
    return Curves(folder, purge_step)


class Curves:
    """One events file; each call's events are on disk when it returns (the file is opened for each write, so a
    write that failed leaves no buffered rest to fail again at exit)."""

    def __init__(self, folder: Path, purge_step: int | None) -> None:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        self.path = folder / f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.0"
        with self._room():
            folder.mkdir(parents=True, exist_ok=True)
        first = [Event(wall_time=time.time(), file_version="brain.Event:2")]
        if purge_step is not None:   # as SummaryWriter(purge_step=...): TensorBoard drops earlier points from here
            first += [Event(step=purge_step, file_version="brain.Event:2"),
                      Event(step=purge_step, session_log=SessionLog(status=SessionLog.START))]
        self._write(first)

    def add_scalars(self, values: dict[str, float], step: int) -> None:
        """One point per value at `step`, on disk when this returns."""
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        now = time.time()
        self._write(Event(wall_time=now, step=step, summary=Summary(value=[Summary.Value(tag=k,
                                                                                         simple_value=float(v))]))
                    for k, v in values.items())

    def _write(self, events: Iterable[Any]) -> None:
        from tensorboard.summary.writer.record_writer import RecordWriter

        buf = io.BytesIO()
        records = RecordWriter(buf)
        for event in events:
            records.write(event.SerializeToString())
        with self._room(), open(self.path, "ab") as f:
            f.write(buf.getvalue())

    @contextlib.contextmanager
    def _room(self) -> Iterator[None]:
        """A full disk in the block is OutputFull naming the events file: the checkpoints are whole, and how to go
        on from them."""
        try:
            yield
        except OSError as exc:
            why = full_error(exc)
            if why is None:
                raise
            from droptrack.train.hint import resume_hint

            raise OutputFull(full_message(why, self.path, kept="checkpoints written before are complete and kept; "
                                          + resume_hint(self.path.parent.parent))) from None
