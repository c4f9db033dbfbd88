"""The output locks of `dt run` and `dt serve`: a second writer of the same files is refused, whoever came first.

Each output NAME has an exclusive lock, `.NAME.lock` beside it, held with flock for the whole run (removed at the
end; the OS releases a killed process's, and the next run reuses and removes its file: droptrack.filelock). `dt serve
--output boxes.txt` writes `boxes_<id>.txt` for ids that grow as targets are drawn, so it also holds
`.boxes_<id>.txt.lock` exclusively for as long as it serves, and every writer of a file named like one of those
(`boxes_3.txt`: `dt run -o boxes_3.txt`, or `dt run -o boxes.txt` with several targets) holds the same file shared:
two dt runs onto different ids go on side by side, a dt run and a dt serve of that family never do.
"""

from __future__ import annotations

import contextlib
import re
from glob import escape as glob_escape
from pathlib import Path
from typing import Iterator

from droptrack import filelock
from droptrack.errors import InputError
from droptrack.runtime.sinks import numbered_path

TARGET_ID = re.compile(r"_(0|[1-9][0-9]*)(?=\.|$)")   # the _<id> numbered_path puts before the suffix


def lock_path(path: Path) -> Path:
    """The exclusive lock of one output file: `.NAME.lock` beside it."""
    return path.with_name(f".{path.name}.lock")


def targets_lock_path(output: Path) -> Path:
    """The lock of the per-target files NAME_<id>.EXT of a `dt serve --output NAME.EXT`."""
    return output.with_name(f".{output.stem}_<id>{output.suffix}.lock")


def serve_outputs_writing(path: Path) -> list[Path]:
    """The `dt serve --output` names whose per-target files (`numbered_path`) include `path`."""
    found = []
    for m in TARGET_ID.finditer(path.name):
        name = path.name[:m.start()] + path.name[m.end():]
        if name not in ("", ".", "..") and numbered_path(path.with_name(name), int(m.group(1))) == path:
            found.append(path.with_name(name))
    return found


def streamed_as(path: Path) -> list[Path]:
    """The outputs a run writes as `path` until it ends (`sinks.part_path`: NAME.part, `sinks.video_part_path`:
    NAME.part.EXT): writing `path` would replace a running writer's unfinished file."""
    name, stem = path.name, path.stem
    found = [path.with_name(name[:-len(".part")])] if name.endswith(".part") and name != ".part" else []
    if stem.endswith(".part") and stem != ".part" and path.suffix:
        found.append(path.with_name(stem[:-len(".part")] + path.suffix))
    return found


def writer_alive(path: str | Path) -> bool:
    """Whether a running `dt run` / `dt serve` holds `path`'s lock (`locked`), or a running dt serve may write it
    (a target's file of its --output), or `path` is a running writer's unfinished file (`streamed_as`); nothing is
    created or taken."""
    path = Path(path)
    return filelock.in_use(lock_path(path)) or any(
        filelock.in_use(targets_lock_path(o), shared=True) for o in serve_outputs_writing(path)) or any(
        writer_alive(o) for o in streamed_as(path))


def busy_message(target: Path) -> str:
    """The one-line refusal when another writer holds `target`'s lock."""
    return (f"another dt run or dt serve is writing {target}; wait for it to finish (or stop it), or pass other "
            "output paths")


def _targets_holder(output: Path, mine: set[Path]) -> Path:
    """A file of `output`'s per-target family that another running writer holds (locks not in `mine`; the family's
    pattern if none is seen)."""
    locks = output.parent.glob(glob_escape(f".{output.stem}_") + "*" + glob_escape(f"{output.suffix}.lock"))
    for lock in sorted(locks):
        path = output.with_name(lock.name[1:-len(".lock")])
        if lock not in mine and output in serve_outputs_writing(path) and filelock.in_use(lock):
            return path
    return output.with_name(f"{output.stem}_<id>{output.suffix}")


@contextlib.contextmanager
def locked(paths: list[Path], serving: list[Path] = ()) -> Iterator[None]:
    """Exclusive locks on the outputs of a run (`paths`) and on the per-target files of each `dt serve --output` in
    `serving`; shared locks on the per-target families `paths` belong to. A second `dt run` or `dt serve` onto the
    same files, --resume or not, is refused in one line (droptrack.filelock: the race with an ending run)."""
    held: list[tuple[Path, int, bool]] = []
    # a file that is another output's unfinished NAME.part takes that output's locks too (its writer's, if running)
    files = [(path, busy_message(path)) for path in paths] + [
        (owner, f"another dt run or dt serve is writing {owner}, as {path} until it ends; wait for it to finish (or "
                "stop it), or pass other output paths") for path in paths for owner in streamed_as(path)]
    try:
        for path, busy_msg in files:
            lock = lock_path(path)
            lock.parent.mkdir(parents=True, exist_ok=True)   # the outputs' folder is made when they are opened
            if any(lock == h[0] for h in held):
                continue
            held.append((lock, filelock.take(lock, busy_msg)[0], False))
            for output in serve_outputs_writing(path):
                lock = targets_lock_path(output)
                if output in serving or any(lock == h[0] for h in held):
                    continue
                busy = (f"a dt serve is writing {output.stem}_<id>{output.suffix} (a box file per target it tracks), "
                        f"{path} among them; wait for it to finish (or stop it), or pass other output paths")
                held.append((lock, filelock.take(lock, busy, shared=True)[0], True))
        for output in serving:   # after the files themselves: a second dt serve is told the file it shares
            lock = targets_lock_path(output)
            lock.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd, _ = filelock.take(lock, "")
            except InputError:
                raise InputError(busy_message(_targets_holder(output, {h[0] for h in held}))) from None
            held.append((lock, fd, False))
        yield
    finally:
        for lock, fd, shared in reversed(held):
            filelock.release(lock, fd, shared)
