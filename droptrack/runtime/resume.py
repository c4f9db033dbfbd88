"""`dt run --resume`: a killed or interrupted run over a video file or image folder continues where it stopped and
writes the boxes an uninterrupted run writes.

After every frame's lines are out, `NAME.resume.json` beside the first streamed output (--jsonl, else --output)
records the run's identity (source and model weights by content, `runtime.fingerprint`; init boxes, tracker
settings, outputs and the --jsonl / --output that name them), how many frames every output
holds and the tracker's state (exact floats; templates refreshed by TEMPLATE_REFRESH in `NAME.resume.<n>.npz`),
and the --save video while it is written (`video_leftover`: a kill's is removed when a resume completes the run).
`--resume` checks the identity, cuts every output back to that many lines (a kill can leave one frame more in
some), initialises on the first frame as before, restores the state, skips the frames already written and tracks
on (`runtime.resume_point`: the journal read back and checked, the outputs cut). The journal goes when the source
is finished.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import time
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Callable

import numpy as np

from droptrack.artifact import atomic_savez, atomic_write_text
from droptrack.errors import InputError
from droptrack.paths import same_file, writes_in_place
from droptrack.runtime import fingerprint, video_leftover
from droptrack.runtime.anchor import anchored
from droptrack.runtime.sinks import box_paths, part_path

FORMAT = 2   # 1: files identified by path, size and mtime (still resumed where they match)
START_OVER = "drop --resume and pass --overwrite to start over"


def streamed_outputs(jsonl: str | None, output: str | None, num_targets: int) -> list[Path]:
    """The files a run streams line by line (--jsonl first, then the box files); devices and stdout excluded."""
    paths = [Path(jsonl)] if jsonl and jsonl != "-" else []
    paths += box_paths(output, max(1, num_targets)) if output else []
    return [p for p in paths if not writes_in_place(p)]


def journal_path(outputs: list[Path]) -> Path | None:
    """`NAME.resume.json` of the first streamed output (None: nothing to resume)."""
    return outputs[0].with_name(outputs[0].name + ".resume.json") if outputs else None


def check_not_journal(jsonl: str | None, output: str | None, save: str | None, num_targets: int) -> None:
    """No output named as this run's journal (`NAME.resume.json`) or its saved templates (`NAME.resume.<n>.npz`):
    the run writes them while it goes and deletes them at its end, the output with them."""
    journal = journal_path(streamed_outputs(jsonl, output, num_targets))
    if journal is None or (output or "").endswith(("/", os.sep)):   # 'out/' is refused as a folder
        return
    named = [("--jsonl", jsonl)] if jsonl and jsonl != "-" else []
    named += [("--output", str(p)) for p in box_paths(output, max(1, num_targets))] if output else []
    named += [("--save", save)] if save else []
    stem = journal.name.removesuffix(".json")
    for label, path in named:
        p = Path(path)
        ours = p.name == journal.name or fnmatch.fnmatchcase(p.name, f"{glob_escape(stem)}.*.npz")
        if ours and same_file(p.parent, journal.parent):
            raise InputError(f"{label} '{path}' is where this run keeps its resume journal ({journal.name} beside "
                             f"the first --jsonl/--output file, deleted when the run ends); pass another output path")


def identity(opts: Any, boxes: list, tracker: Any, outputs: list[Path], compute: dict | None = None) -> dict:
    """What must be the same for a run to continue another: source and model (by content: `fingerprint`), init
    boxes, settings, outputs, and where it computes (`compute`: the device and --pre it used; another device's
    numbers differ in the last bits)."""
    locations = getattr(getattr(tracker, "backend", None), "external_data", None)   # an .onnx graph, parsed once
    ident = {"source": fingerprint.source_id(opts.source), "model": fingerprint.model_id(opts.artifact, locations),
             "config": fingerprint.config_id(opts.config), **_settings(opts, boxes, tracker, outputs)}
    return _json_safe({**ident, "compute": compute} if compute is not None else ident)


def legacy_identity(opts: Any, boxes: list, tracker: Any, outputs: list[Path]) -> dict:
    """This run's identity as a format-1 journal recorded it (files by path, size and mtime)."""
    settings = _settings(opts, boxes, tracker, outputs)
    del settings["streams"]
    return _json_safe({"source": fingerprint.stat_id(opts.source), "model": fingerprint.stat_id(opts.artifact),
            "config": fingerprint.stat_id(opts.config), **settings})


def _settings(opts: Any, boxes: list, tracker: Any, outputs: list[Path]) -> dict:
    """The init boxes, tracker settings and outputs of a run (the identity beyond its files)."""
    on = anchored(tracker.ext)
    quiet = (("anchor_box", "state"), ("aspect_prior", None), ("scale_gate", None))
    ext = {k: v for k, v in dataclasses.asdict(tracker.ext).items()   # anchor keys absent while off (and
           if (on or not k.startswith("anchor_"))                 # ANCHOR_BOX at 'state', later keys off):
           and (k, v) not in quiet}                               # earlier journals match, and stay short
    return {"init": [[float(v) for v in b] for b in boxes], "tracker": ext,
            "lost_threshold": opts.lost_threshold, "fps": opts.fps, "outputs": [str(p.resolve()) for p in outputs],
            "streams": {"--jsonl": _streamed(opts.jsonl if opts.jsonl != "-" else None),
                        "--output": _streamed(opts.output)},
            **({"start": opts.start} if getattr(opts, "start", 0) else {})}   # absent at 0: earlier journals match


def _streamed(path: str | None) -> str | None:
    """The absolute path of a streamed --jsonl / --output (None: not given, stdout or a device)."""
    return None if not path or writes_in_place(Path(path)) else os.path.realpath(path)   # a link loop: no error


def _json_safe(obj: dict) -> dict:
    """`obj` as the journal reads it back (tuples become lists), so that the two compare equal."""
    return json.loads(json.dumps(obj))


def _copy(templates: Any) -> Any:
    """A copy of the template batch where it lives (a torch tensor stays on its device: no sync per refresh)."""
    return templates.detach().clone() if hasattr(templates, "detach") else np.array(templates)


def _host(templates: Any) -> np.ndarray:
    """The template batch as a host array (to save it)."""
    return templates.cpu().numpy() if hasattr(templates, "cpu") else np.asarray(templates)


def templates_file(journal: Path, version: int) -> Path:
    """`NAME.resume.<version>.npz`: the refreshed templates a journal `NAME.resume.json` names."""
    return journal.with_name(f"{journal.name.removesuffix('.json')}.{version}.npz")


class Journal:
    """The journal of a run: `write` after every frame keeps the newest consistent state and puts it on disk at
    most every `every_s` seconds (a `kill -9` re-tracks at most that much); `flush` when the run stops; `finish`
    when the source is done (removed)."""

    def __init__(self, path: Path, ident: dict, tracker: Any, template_version: int | None = None,
                 every_s: float = 0.5, sizes: Callable[[], list[int]] | None = None, replaces: list | None = None,
                 save: Path | None = None, video: dict | None = None):
        self.path, self.ident, self.tracker, self.every_s = path, ident, tracker, every_s
        self.save = save   # this run's --save: named by file id while it is written (`video_leftover.record`)
        self.video = video   # the entry of that video, or of a killed run's that a resumed run carries until it ends
        self.replaces = [str(p) for p in replaces or []]   # --overwrite's files removed once complete (--resume too)
        self.sizes = sizes   # the bytes every output holds (in `outputs` order), checked by `cut_outputs`
        self.on_disk = template_version   # the refreshed templates' version the journal on disk names
        self.saved = {template_version} - {None}   # versions saved as .npz
        self.pending: dict | None = None
        self.written: dict | None = None   # the state on disk
        self.held: tuple[int, Any] | None = None   # (version, copy) of templates refreshed since the last flush
        self.last = -math.inf

    def write(self, frames: int) -> None:
        """Every output holds `frames` lines (the init frame's included) and the tracker state is the one after
        them: keep it (refreshed templates as an in-memory copy), on disk if `every_s` has passed."""
        t = self.tracker
        version = t.template_version if t.ext.template_refresh is not None and t.template_version else None
        if version is not None and version not in self.saved and (self.held is None or self.held[0] != version):
            self.held = (version, _copy(t.templates))   # refreshed in place later: copied, saved at the flush
        if self.save is not None and self.video is None:
            self.video = video_leftover.record(self.save)   # once the writer has made NAME.part.EXT
        self.pending = {"format": FORMAT, "identity": self.ident, "frames": frames, "template_version": version,
                        **t.snapshot(), "sizes": self.sizes() if self.sizes else None,
                        **({"replaces": self.replaces} if self.replaces else {}),
                        **({"video": self.video} if self.video else {})}
        if time.monotonic() - self.last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """Put the newest kept state on disk, with the templates it names (the run stops, or `every_s` passed):
        at most one JSON file and one .npz per `every_s`, however often the templates are refreshed."""
        if self.pending is None:
            return
        version = self.pending["template_version"]
        if version is not None and version not in self.saved:   # `held` is that version's copy (see `write`)
            atomic_savez(templates_file(self.path, version), {"templates": _host(self.held[1])})
            self.saved.add(version)
        self.held = None
        atomic_write_text(self.path, json.dumps(self.pending, separators=(",", ":")) + "\n")
        self.on_disk, self.written = version, self.pending
        for v in self.saved - {self.on_disk}:   # templates no journal names any more
            templates_file(self.path, v).unlink(missing_ok=True)
        self.saved &= {self.on_disk}
        self.pending, self.last = None, time.monotonic()

    def settle(self) -> None:
        """The run stopped, an error included: the newest state on disk. A journal a full disk refuses stays at its
        last update, still true of the outputs (--resume cuts them back to it), and the run's own error or end is
        what is said, not this write's. This run's --save video is closed by now (renamed onto its name, or kept and
        named): no longer a kill's leftover for a resume to remove."""
        if self.save is not None and self.video is not None:
            self.save = self.video = None
            last = self.pending or self.written
            self.pending = last and {k: v for k, v in last.items() if k != "video"}
        try:
            self.flush()
        except OSError:
            pass

    def finish(self) -> None:
        """The run is complete: nothing left to resume (a killed run's later templates go too)."""
        remove_journal(self.path)
        self.saved = set()


def holds_data(outputs: list[str] | list[Path], unreadable: bool = True) -> bool:
    """Whether an output or its NAME.part holds data (`unreadable` where one cannot be read: by default True, as
    --overwrite may be needed)."""
    try:
        return any(p.is_file() and p.stat().st_size > 0 for o in outputs for p in (Path(o), part_path(Path(o))))
    except OSError:
        return unreadable


def holds_earlier(outputs: list[Path]) -> bool:
    """Whether an output's final NAME holds data (an earlier run's result, which a cut run must not replace)."""
    try:
        return any(Path(o).is_file() and Path(o).stat().st_size > 0 for o in outputs)
    except OSError:
        return True


def unfinished(journal: Path | None, outputs: list[Path]) -> bool:
    """Whether the outputs hold an unfinished run (a journal, and data in an output or its NAME.part); False where
    the paths cannot be read (the output checks that follow say why)."""
    return journal is not None and is_journal(journal) and holds_data(outputs, False)


def journal_data(path: Path | None) -> dict | None:
    """The content of `path` if it is a dt run journal of outputs named as ours (a journal is named after its first
    output, so a moved folder's still is), else None: only such a file is trusted, removed or replaced, never a
    user's or another run's file that happens to bear the name."""
    try:
        if path is None or not path.is_file():   # a folder, a named pipe (reading it would wait for a writer)
            return None
        data = json.loads(path.read_text())
        outputs = data["identity"]["outputs"]
        ours = data["format"] in (1, FORMAT) and Path(outputs[0]).name + ".resume.json" == path.name
        return data if ours else None
    except (OSError, ValueError, RecursionError, KeyError, TypeError, IndexError):
        return None


def is_journal(path: Path) -> bool:
    """Whether `path` is one of our journals (`journal_data`)."""
    return journal_data(path) is not None


def check_journal_path(journal: Path | None) -> None:
    """A file at the journal's name that is not one of our journals is refused: the run would replace it while it
    goes and delete it at its end (another run's output, a user's file)."""
    if journal is not None and os.path.lexists(journal) and not is_journal(journal):
        raise InputError(f"{journal} is where this run keeps its resume journal, and it holds something else (not a "
                         "dt run journal of these outputs); move that file away, or pass other --output/--jsonl paths")


def remove_journal(path: Path | None) -> None:
    """Delete our journal (`is_journal`), then its saved templates and the temporary files of a journal write a kill
    interrupted (the journal first: a kill in between leaves no journal naming templates that are gone)."""
    if path is not None:
        if path.is_file() and is_journal(path):
            path.unlink(missing_ok=True)
        stem = path.name.removesuffix(".json")
        for pattern in (f"{glob_escape(stem)}.*.npz", f".{glob_escape(stem)}.json.*.tmp",
                        f".{glob_escape(stem)}.*.npz.*.tmp"):
            for p in path.parent.glob(pattern):
                version = p.name[len(stem) + 1 + p.name.startswith("."):].split(".")[0]
                if version.isdigit() or pattern.endswith(".json.*.tmp"):   # templates are `NAME.resume.<n>.npz`
                    p.unlink(missing_ok=True)
