"""What `dt serve` is asked for and what it tracks: options, targets, their box files, the errors it answers with."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from droptrack.errors import InputError, SourceError
from droptrack.paths import same_file, writes_in_place
from droptrack.runtime.checks import check_source_options, check_tracking_options, temp_path
from droptrack.runtime.loop import DEFAULT_LOST_THRESHOLD
from droptrack.runtime.outlock import TARGET_ID
from droptrack.runtime.reconnect import ReconnectPolicy
from droptrack.runtime.sinks import BoxFileSink, TargetState, numbered_path, part_path
from droptrack.runtime.textsinks import Keep

MAX_CONNECT_TIMEOUT_S = 86400.0   # a day; far larger values overflow the platform's wait


@dataclass
class ServeOptions:
    """What `dt serve` tracks with (the CLI help describes each)."""

    source: str
    artifact: str | None = None
    config: str | None = None
    device: str | None = None
    pre: str = "auto"
    save: str | None = None
    output: str | None = None
    jsonl: str | None = None
    lost_threshold: float = DEFAULT_LOST_THRESHOLD
    max_targets: int = 4
    max_frames: int | None = None
    pace: bool | None = None          # None: files and folders at their frame rate, live sources as they come
    connect_timeout: float = 30.0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    threads: int = 0                  # ONNX Runtime intra-op threads (0 = its default); torch/OpenCV: the caller
    ext: dict = field(default_factory=dict)   # tracker-extension overrides of the artifact's TEST keys (as dt run)
    every_frame: bool = False         # live sources: every frame in order (queued) instead of the newest one
    reconnect: int = 0                # live sources: reopen up to N times per drop (as dt run)
    reconnect_timeout: float | None = None
    overwrite: bool = False           # replace output files that already hold data (else refused, as dt run)
    trust_checkpoint: bool = False    # a legacy pickle checkpoint's foreign objects read as inert records (as dt run)

    def reconnect_policy(self) -> ReconnectPolicy:
        """How a live source that drops is reopened (checks --reconnect / --reconnect-timeout)."""
        return ReconnectPolicy(self.reconnect, self.reconnect_timeout)


MAX_TARGETS = 256


def check_serve_options(opts: ServeOptions) -> None:
    """dt serve's own numbers, then the checks dt run makes, in dt run's order (the same bad option gives the same
    one-line error in both); before a model is loaded or the source opened."""
    if not 1 <= opts.max_targets <= MAX_TARGETS:   # each target is a tracker state, a box file, a row on the page
        raise InputError(f"--max-targets {opts.max_targets} must be between 1 and {MAX_TARGETS}")
    if not 0 < opts.connect_timeout <= MAX_CONNECT_TIMEOUT_S:   # NaN too; inf overflowed the thread wait
        raise InputError(f"--connect-timeout {opts.connect_timeout} must be > 0 and <= {MAX_CONNECT_TIMEOUT_S:g} "
                         "seconds")
    output = opts.output
    # a folder (existing, or named with a trailing slash) is refused as one (its targets' files would land beside it)
    folder = bool(output) and (Path(output).is_dir() or output.endswith(("/", os.sep)))
    check_target_file_names(opts)
    check_source_options(opts.source, False, opts.reconnect, opts.reconnect_timeout, opts.every_frame)
    check_tracking_options(opts, [output] if folder else box_files_to_check(output) if output else [],
                           trust=opts.trust_checkpoint, earlier=[] if folder else earlier_box_files(output))


class SourceTimeout(SourceError):
    """The source delivered no first frame in time; its opener thread may still be blocked inside OpenCV."""


class CommandError(Exception):
    """A command the session refuses; `status` is the HTTP status the web API answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Target:
    """A live target: id (never reused), current box, last score and lost flag, the frame it started on, and
    whether re-acquisition's wide search is active (None where re-acquisition, --reacq-factor, is off)."""

    id: int
    box: list[float]
    score: float | None
    lost: bool
    since: int
    reacq: bool | None = None

    def state(self) -> TargetState:
        return TargetState(list(self.box), self.score, self.lost, self.id, self.reacq)

    def to_dict(self) -> dict:
        d = {"id": self.id, "box": [round(float(v), 3) for v in self.box], "score": self.score, "lost": self.lost,
             "since": self.since}
        if self.reacq is not None:   # only with re-acquisition on: the API of an official run is unchanged
            d["reacq"] = self.reacq
        return d


SERVE_FIX = "pause on a frame that shows it and draw the box again there (re-select)"


def drawn(target: Target, box: list[float], image, index: int) -> dict:
    """The answer to a drawn box (`Target.to_dict`), with a `warning` where the box lies on pixels of one colour
    (Megamind.avi opens on a black frame): dt run's FlatTargetWarning, logged as its 'warning: ...' line too."""
    import warnings

    from droptrack.errors import FlatTargetWarning
    from droptrack.runtime.checks import flat_target_note

    answer = target.to_dict()
    note = flat_target_note(image, [box], index, SERVE_FIX)
    if note:
        warnings.warn(f"target {target.id}: {note}", FlatTargetWarning, stacklevel=2)
        answer["warning"] = note
    return answer


def box_file(path: str | Path, target_id: int) -> Path:
    """`--output boxes.txt` -> boxes_<id>.txt: one official box file per target (targets come and go)."""
    return numbered_path(path, target_id)


def _numbered(output: str, tail: str) -> dict[int, Path]:
    """The files NAME_<id><tail> beside `output` (NAME<suffix>) that box_file could have named, by id."""
    path = Path(output)
    head, tail = f"{path.stem}_", f"{path.suffix}{tail}"
    found = path.parent.glob(f"{glob.escape(head)}*{glob.escape(tail)}") if path.parent.is_dir() else []
    ids = {p: p.name[len(head): len(p.name) - len(tail)] for p in found}
    return {int(i): p for p, i in ids.items() if re.fullmatch(r"0|[1-9][0-9]*", i)}


def box_files_to_check(output: str) -> list[Path]:
    """The box files checked before serving: target 0's and every target's whose .part a killed dt serve left (ids
    are never reused, so any id may be written again; its .part holds that run's boxes and is never truncated)."""
    return [box_file(output, 0), *(box_file(output, i) for i in sorted(_numbered(output, ".part")) if i > 0)]


def earlier_box_files(output: str | None) -> list[Path]:
    """The --output files an earlier dt serve may have finished: every NAME_<id>.txt beside NAME.txt (each run numbers
    its targets from 0, so any of them would be written again)."""
    return sorted(_numbered(output, "").values()) if output else []


def locked_outputs(opts: ServeOptions) -> list[Path]:
    """The files locked while serving (as dt run locks its own), each once: --jsonl, --save, and for --output
    NAME_0.txt (the first file of dt serve and of a dt run with several targets); every other NAME_<id>.txt is
    covered by the per-target lock (`outlock.locked`'s `serving`). NAME.txt itself is not locked: dt serve never
    writes it, so a one-target `dt run -o NAME.txt` (which writes only NAME.txt and its journal) goes on beside it."""
    paths = [Path(opts.jsonl)] if opts.jsonl and opts.jsonl != "-" else []
    paths += [box_file(opts.output, 0)] if opts.output else []
    paths += [Path(opts.save)] if opts.save else []
    unique: list[Path] = []   # --jsonl named as --save: one lock, and the checks name the clash
    for p in paths:
        if not writes_in_place(p) and not any(same_file(p, q) for q in unique):
            unique.append(p)
    return unique


def check_target_file_names(opts: ServeOptions) -> None:
    """--jsonl / --save named like a box file (or its NAME.part) that --output gets when a target is drawn: refused
    before serving, not when that target's id comes up (a 409 then)."""
    if not opts.output or Path(opts.output).is_dir() or opts.output.endswith(("/", os.sep)):
        return
    out = Path(opts.output)
    for label, given in (("--jsonl", opts.jsonl if opts.jsonl != "-" else None), ("--save", opts.save)):
        for path in dict.fromkeys([Path(given), temp_path(label, given)] if given else []):
            found = _target_file(out, path)
            if found is not None:
                target_id, part = found
                what = f"target {target_id}'s box file of --output '{opts.output}'"
                what = f"where {what} is written until it is closed" if part else what
                how = "is" if path == Path(given) else f"is written as '{path}' while serving, and that is"
                raise InputError(f"{label} '{given}' {how} {what} (one file per target: {out.stem}_<id>{out.suffix}); "
                                 "give each output its own path")
    source = Path(os.path.expanduser(opts.source))
    inputs = [Path(os.path.expanduser(p)) for p in (opts.source, opts.artifact, opts.config) if p]
    inputs += sorted(source.iterdir()) if source.is_dir() and same_file(out.parent, source) else []   # its frames
    for given in inputs:
        found = _target_file(out, given) if os.path.lexists(given) else None
        if found is not None:
            target_id, part = found
            raise InputError(f"--output '{opts.output}' would write target {target_id}'s boxes "
                             f"{'into' if part else 'over'} the input '{given}' (one file per target: "
                             f"{out.stem}_<id>{out.suffix}); pass another --output path")


def _target_file(output: Path, path: Path) -> tuple[int, bool] | None:
    """Whether `path` is a box file of `output` (NAME_<id>.EXT, or its NAME_<id>.EXT.part): (its id, a .part)."""
    names = [(path, False)] + ([(path.with_name(path.name[:-len(".part")]), True)]
                               if path.name.endswith(".part") else [])
    for name, part in names:
        for m in TARGET_ID.finditer(name.name):
            if same_file(box_file(output, int(m.group(1))), name):
                return int(m.group(1)), part
    return None


def leftover_parts(output: str) -> set[str]:
    """The names of the NAME_<id>.txt.part files beside `output` now (a killed dt serve's; --overwrite replaces
    them when their target id is drawn again)."""
    return {p.name for p in _numbered(output, ".part").values()}


def open_box_file(output: str, target_id: int, replace: Collection[str] = (), keep: Keep = False) -> BoxFileSink:
    """A new target's --output file, opened before it starts: one that cannot be written refuses the target (507),
    a .part with boxes in it (another run's, written since dt serve started) is never truncated (409) unless its
    name is in `replace` (a killed run's, there when dt serve --overwrite started). `keep`: whether a full disk leaves
    it NAME.part (`Outputs.keep_earlier`; else its whole lines take NAME)."""
    path = box_file(output, target_id)
    part = part_path(path)
    if part.name not in replace and part.is_file() and part.stat().st_size > 0:
        raise CommandError(409, f"'{part}' holds the boxes of another run; rename it to keep it (or delete it), "
                                "then draw the box again")
    try:
        return BoxFileSink(path, 1, keep_when_full=keep)   # no --resume here: a full disk's lines take NAME
    except OSError as exc:
        raise CommandError(507, f"cannot write the box file '{path}' ({exc.strerror}); fix the --output folder "
                                "(space, permissions), then draw the box again") from None
