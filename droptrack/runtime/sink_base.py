"""What every sink is (`Sink`, fed `TargetState`s per frame) and where its files are named: one per target
(`box_paths`), and the NAME.part files written until a run ends (`part_path`, `video_part_path`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from droptrack.errors import OutputFull
from droptrack.paths import writes_in_place
from droptrack.runtime.source_base import Frame


@dataclass
class TargetState:
    """One target in one frame: box x,y,w,h (image pixels), score (None on its init frame), lost flag, the
    target's id where targets come and go (dt serve; None in dt run, where the index is the identity), and whether
    re-acquisition's wide search is active on this frame (`TrackResult.reacq`; None where re-acquisition is off)."""

    box: list[float]
    score: float | None
    lost: bool
    id: int | None = None
    reacq: bool | None = None


class Sink:
    """Receives every frame with its target states."""

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        """Make the file whole and durable before any output is moved onto its name (`close` does it too where it
        was not called): every output of a run is synced before the first is renamed, so a disk found full only
        now (fsync on NFS or with delayed allocation, a video's index) leaves them all unfinished (raises
        OutputFull), none of them a cut file on an earlier result's name."""

    def close(self) -> None:
        """Flush and release; called once, also after errors or Ctrl-C."""

    def keep_unfinished(self) -> None:
        """The run stops on a full disk (any of its outputs, its journal): `close` leaves the file where it was
        written (NAME.part, NAME.part.EXT) and an earlier result at NAME as it was, as the sink whose write found no
        room does; `unfinished` names it after `close`."""

    def unfinished(self) -> list[tuple[Path, Path]]:
        """(temporary name, final name) of every file `close` left unfinished (none by default)."""
        return []

    def clashes(self) -> list[Path]:
        """Final names another program wrote while this sink wrote them (`close` kept NAME.part; none by default)."""
        return []


def call_each(calls: Iterable[Callable[[], None]]) -> list[Exception]:
    """Call each one, also after another raised (every output synced or closed before a failure is reported):
    what they raised, in order."""
    errors = []
    for call in calls:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the others first, then the caller reports
            errors.append(exc)
    return errors


def sync_each(sinks: Iterable[Sink]) -> list[Exception]:
    """`Sink.sync` every sink (`call_each`; a sink of the Python API's may have only write and close)."""
    return call_each(getattr(s, "sync", lambda: None) for s in sinks)


def close_sinks(sinks: Iterable[Sink], keep: Callable[[], object]) -> list[Exception]:
    """Sync every sink, then close each one, also after another failed (dt run and dt serve): a full disk found at
    a sync or a close calls `keep` first, so the outputs not yet renamed stay unfinished (`Sink.keep_unfinished`), never
    a cut file on an earlier result's name; what failed, a full disk (OutputFull) first."""
    sinks = list(sinks)
    errors = sync_each(sinks)   # every one synced before any is renamed
    full = any(isinstance(e, OutputFull) for e in errors)
    if full:
        keep()
    for s in sinks:
        try:
            s.close()
        except Exception as exc:  # noqa: BLE001 - close the others first, then the caller reports
            errors.append(exc)
            if isinstance(exc, OutputFull) and not full:   # found only now: those after it stay unfinished too
                full = True
                keep()
    return sorted(errors, key=lambda e: not isinstance(e, OutputFull))


def numbered_path(path: str | Path, k: int) -> Path:
    """`boxes.txt` -> `boxes_<k>.txt`: target k's file where there are several (dt run) or they come and go
    (dt serve, where k is the target's id)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_{k}{path.suffix}")


def box_paths(path: str | Path, num_targets: int) -> list[Path]:
    """`boxes.txt` for one target; `boxes_0.txt`, `boxes_1.txt`, ... (in --init order) for several."""
    if num_targets == 1:
        return [Path(path)]
    return [numbered_path(path, k) for k in range(num_targets)]


def part_path(path: str | Path) -> Path:
    """Where a streamed file is written until the run ends (renamed onto `path` at close); `path` itself for a
    device such as /dev/null (renaming a file onto it would replace the device)."""
    path = Path(path)
    return path if writes_in_place(path) else path.with_name(path.name + ".part")


def video_part_path(path: str | Path) -> Path:
    """Where --save writes until the run ends: NAME.part.EXT (the container suffix stays last for OpenCV); `path`
    itself for a device, as `part_path`."""
    path = Path(path)
    return path if writes_in_place(path) else path.with_name(f"{path.stem}.part{path.suffix}")
