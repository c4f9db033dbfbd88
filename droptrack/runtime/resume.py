"""`dt run --resume`: a killed or interrupted run over a video file or image folder continues where it stopped and
writes the boxes an uninterrupted run writes.

After every frame's lines are out, `NAME.resume.json` beside the first streamed output (--jsonl, else --output)
records the run's identity (source and model weights by content, `runtime.fingerprint`; init boxes, tracker
settings, outputs and the --jsonl / --output that name them), how many frames every output
holds and the tracker's state (exact floats; templates refreshed by TEMPLATE_REFRESH in `NAME.resume.<n>.npz`).
`--resume` checks the identity, cuts every output back to that many lines (a kill can leave one frame more in
some), initialises on the first frame as before, restores the state, skips the frames already written and tracks
on. The journal goes when the source is finished.
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
from droptrack.runtime import fingerprint
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
    return {"init": [[float(v) for v in b] for b in boxes], "tracker": dataclasses.asdict(tracker.ext),
            "lost_threshold": opts.lost_threshold, "fps": opts.fps, "outputs": [str(p.resolve()) for p in outputs],
            "streams": {"--jsonl": _streamed(opts.jsonl if opts.jsonl != "-" else None),
                        "--output": _streamed(opts.output)},
            **({"start": opts.start} if getattr(opts, "start", 0) else {})}   # absent at 0: earlier journals match


def _streamed(path: str | None) -> str | None:
    """The absolute path of a streamed --jsonl / --output (None: not given, stdout or a device)."""
    return None if not path or writes_in_place(Path(path)) else str(Path(path).resolve())


def _json_safe(obj: dict) -> dict:
    """`obj` as the journal reads it back (tuples become lists), so that the two compare equal."""
    return json.loads(json.dumps(obj))


def _copy(templates: Any) -> Any:
    """A copy of the template batch where it lives (a torch tensor stays on its device: no sync per refresh)."""
    return templates.detach().clone() if hasattr(templates, "detach") else np.array(templates)


def _host(templates: Any) -> np.ndarray:
    """The template batch as a host array (to save it)."""
    return templates.cpu().numpy() if hasattr(templates, "cpu") else np.asarray(templates)


class Journal:
    """The journal of a run: `write` after every frame keeps the newest consistent state and puts it on disk at
    most every `every_s` seconds (a `kill -9` re-tracks at most that much); `flush` when the run stops; `finish`
    when the source is done (removed)."""

    def __init__(self, path: Path, ident: dict, tracker: Any, template_version: int | None = None,
                 every_s: float = 0.5, sizes: Callable[[], list[int]] | None = None):
        self.path, self.ident, self.tracker, self.every_s = path, ident, tracker, every_s
        self.sizes = sizes   # the bytes every output holds (in `outputs` order), checked by `cut_outputs`
        self.on_disk = template_version   # the refreshed templates' version the journal on disk names
        self.saved = {template_version} - {None}   # versions saved as .npz
        self.pending: dict | None = None
        self.held: tuple[int, Any] | None = None   # (version, copy) of templates refreshed since the last flush
        self.last = -math.inf

    def _templates_file(self, version: int) -> Path:
        return self.path.with_name(f"{self.path.name.removesuffix('.json')}.{version}.npz")

    def write(self, frames: int) -> None:
        """Every output holds `frames` lines (the init frame's included) and the tracker state is the one after
        them: keep it (refreshed templates as an in-memory copy), on disk if `every_s` has passed."""
        t = self.tracker
        version = t.template_version if t.ext.template_refresh is not None and t.template_version else None
        if version is not None and version not in self.saved and (self.held is None or self.held[0] != version):
            self.held = (version, _copy(t.templates))   # refreshed in place later: copied, saved at the flush
        self.pending = {"format": FORMAT, "identity": self.ident, "frames": frames, "template_version": version,
                        **t.snapshot(), "sizes": self.sizes() if self.sizes else None}
        if time.monotonic() - self.last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """Put the newest kept state on disk, with the templates it names (the run stops, or `every_s` passed):
        at most one JSON file and one .npz per `every_s`, however often the templates are refreshed."""
        if self.pending is None:
            return
        version = self.pending["template_version"]
        if version is not None and version not in self.saved:   # `held` is that version's copy (see `write`)
            atomic_savez(self._templates_file(version), {"templates": _host(self.held[1])})
            self.saved.add(version)
        self.held = None
        atomic_write_text(self.path, json.dumps(self.pending, separators=(",", ":")) + "\n")
        self.on_disk = version
        for v in self.saved - {self.on_disk}:   # templates no journal names any more
            self._templates_file(v).unlink(missing_ok=True)
        self.saved &= {self.on_disk}
        self.pending, self.last = None, time.monotonic()

    def settle(self) -> None:
        """The run stopped, an error included: the newest state on disk. A journal a full disk refuses stays at its
        last update, still true of the outputs (--resume cuts them back to it), and the run's own error or end is
        what is said, not this write's."""
        try:
            self.flush()
        except OSError:
            pass

    def finish(self) -> None:
        """The run is complete: nothing left to resume (a killed run's later templates go too)."""
        remove_journal(self.path)
        self.saved = set()


def _hold_data(outputs: list[str] | list[Path], unreadable: bool = True) -> bool:
    """Whether an output or its NAME.part holds data (`unreadable` where one cannot be read: by default True, as
    --overwrite may be needed)."""
    try:
        return any(p.is_file() and p.stat().st_size > 0 for o in outputs for p in (Path(o), part_path(Path(o))))
    except OSError:
        return unreadable


def unfinished(journal: Path | None, outputs: list[Path]) -> bool:
    """Whether the outputs hold an unfinished run (a journal, and data in an output or its NAME.part); False where
    the paths cannot be read (the output checks that follow say why)."""
    return journal is not None and is_journal(journal) and _hold_data(outputs, False)


def is_journal(path: Path) -> bool:
    """Whether `path` is a dt run journal of outputs named as ours (a journal is named after its first output, so a
    moved folder's still is): only such a file is trusted, removed or replaced, never a user's or another run's file
    that happens to bear the name."""
    try:
        if not path.is_file():   # a folder, a named pipe (reading it would wait for a writer)
            return False
        data = json.loads(path.read_text())
        outputs = data["identity"]["outputs"]
        return data["format"] in (1, FORMAT) and Path(outputs[0]).name + ".resume.json" == path.name
    except (OSError, ValueError, RecursionError, KeyError, TypeError, IndexError):
        return False


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


@dataclasses.dataclass
class ResumePoint:
    """Where a run continues: frames every output holds, the tracker state, refreshed templates (or None)."""

    frames: int
    snapshot: dict
    templates: np.ndarray | None
    template_version: int | None
    sizes: list[int] | None = None   # the bytes of those lines in every output


def load(path: Path | None, ident: dict, legacy: dict | None = None) -> ResumePoint:
    """The journal at `path`, checked against this run's identity, or a format-1 journal against `legacy` (the same
    run's `legacy_identity`): one-line errors naming what differs."""
    if path is None:
        raise InputError("--resume continues the --output / --jsonl files of a killed run; pass them as before")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        other = _journal_of(ident["outputs"])
        if other is not None:   # an output of this run is one of an interrupted run with other output options
            raise InputError(_outputs_differ(*other)) from None
        if not _hold_data(ident["outputs"]):   # no earlier run at all: a plain run writes them, no --overwrite
            raise InputError(f"--resume: there is no journal {path} and the outputs hold nothing yet, so there is "
                             "nothing to resume; drop --resume") from None
        raise InputError(f"--resume: there is no journal {path}, so no unfinished run writes these outputs (it "
                         f"finished, or was stopped before it recorded a frame); {START_OVER}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"--resume: the journal {path} cannot be read ({exc}); {START_OVER}") from None
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt not in (1, FORMAT) or not isinstance(data.get("identity"), dict) or (fmt == 1 and legacy is None):
        raise InputError(f"--resume: {path} is not a dt run journal of this version; {START_OVER}")
    _check_identity(path, data["identity"], ident if fmt == FORMAT else legacy)
    if fmt == 1 and data["identity"].get("model") is None:
        raise InputError(f"--resume: {path} was written by an earlier droptrack, which did not record the built-in "
                         "default model's weights (an upgrade may have changed them); rerun without --resume and "
                         "with --overwrite to start over")
    try:
        version = None if data.get("template_version") is None else int(data["template_version"])
        point = ResumePoint(int(data["frames"]), {"states": data["states"], "memory": data["memory"]}, None, version,
                            None if data.get("sizes") is None else [int(n) for n in data["sizes"]])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"--resume: the journal {path} is damaged ({type(exc).__name__}: {exc}); "
                         f"{START_OVER}") from None
    if version is not None:
        npz = Journal(path, ident, None)._templates_file(version)
        try:
            with np.load(npz, allow_pickle=False) as z:
                point.templates = z["templates"]
        except (OSError, ValueError, KeyError, MemoryError) as exc:   # MemoryError: a header claiming terabytes
            raise InputError(f"--resume: the refreshed templates {npz} cannot be read ({exc}); {START_OVER}") from None
    return point


def _check_identity(path: Path, recorded: dict, ident: dict) -> None:
    """A one-line error naming what differs between the killed run's identity and this run's (nothing: returns)."""
    model = recorded.get("model")
    if isinstance(model, dict) and "external_data" not in model and "external_data" in ident.get("model", {}):
        # an earlier droptrack's journal did not pin external data: the graph's own sha256 is all it can compare
        ident = {**ident, "model": {k: v for k, v in ident["model"].items() if k != "external_data"}}
    recorded, ident = {"start": 0, **recorded}, {"start": 0, **ident}   # --start is recorded when not 0
    then_compute, now_compute = recorded.get("compute"), ident.get("compute")
    if isinstance(then_compute, dict) and isinstance(now_compute, dict) and "threads" not in then_compute:
        ident["compute"] = {k: v for k, v in now_compute.items() if k != "threads"}   # not recorded by an earlier one
    differ = [k for k in ident if _by_content(k, recorded.get(k)) != _by_content(k, ident[k])
              and (k != "compute" or "compute" in recorded)]
    if "outputs" in differ or "streams" in differ:   # (an earlier droptrack's journal did not record `compute`)
        raise InputError(_outputs_differ(path, recorded))
    if differ == ["compute"] and isinstance(recorded["compute"], dict):
        counts = [c.get("threads") for c in (recorded["compute"], ident["compute"])]
        threads = None not in counts and counts[0] != counts[1]   # named when both ran on the CPU, with other counts
        then, now = (f"--device {c.get('device')} --pre {c.get('pre')}" + (
                     f" --threads {c.get('threads')}" if threads else "")
                     for c in (recorded["compute"], ident["compute"]))
        raise InputError(f"--resume: the killed run tracked with {then}, this one with {now}: their boxes would mix "
                         f"in one file; resume with {then}, or {START_OVER}")
    if "model" in differ and isinstance(recorded.get("model"), dict) and "sha256" in recorded["model"]:
        raise InputError(f"--resume: {_model_change(recorded['model'], ident['model'])}: its boxes and this model's "
                         "would mix in one file; pass the weights it used, or rerun without --resume and with "
                         "--overwrite to start over")
    if differ:
        content = "sha256" in str(ident.get("source"))   # format 2: files by content, else by size and mtime
        change = "its content changed" if content else "or its file changed"
        names = {"source": f"the source ({change})", "model": f"the model ({change})",
                 "config": f"--config ({change})", "init": "--init", "tracker": "the tracker settings",
                 "compute": "--device / --pre / --threads"}
        what = ", ".join(names.get(k, f"--{k.replace('_', '-')}") for k in differ)
        raise InputError(f"--resume: {what} differ from the killed run's ({path}); run its command again with "
                         f"--resume, or {START_OVER}")


def _by_content(key: str, value: Any) -> Any:
    """An identity entry as compared: the model by its bytes alone (the built-in weights passed as --model are the
    same model)."""
    if key == "model" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "builtin"}
    return value


def _model_change(then: dict, now: dict) -> str:
    """What changed about the model: its weights' sha256 then and now, and whether either is the built-in one."""
    shas = f"(sha256 {str(then.get('sha256'))[:12]}... then, {now['sha256'][:12]}... now)"
    if then.get("builtin") and now["builtin"]:
        return f"the built-in default model's weights changed since the killed run (droptrack upgraded?) {shas}"
    if then.get("builtin") != now["builtin"]:
        kinds = ("the built-in default model", "a --model file")
        return (f"the killed run tracked with {kinds[not then.get('builtin')]}, this one with "
                f"{kinds[not now['builtin']]} {shas}")
    if then.get("sha256") == now["sha256"]:   # the graph is the same: its external data files differ
        return (f"the --model graph's external data ({', '.join(now.get('external_data') or {})}) holds other "
                "weights than the killed run tracked with (replaced since?)")
    return f"the --model file holds other weights than the killed run tracked with (replaced since?) {shas}"


def _journal_of(outputs: list[str]) -> tuple[Path, dict] | None:
    """The journal (path, identity) of an unfinished run that wrote one of `outputs` (searched beside them)."""
    for folder in dict.fromkeys(Path(o).parent for o in outputs):
        for journal in sorted(folder.glob("*.resume.json")):
            try:
                recorded = json.loads(journal.read_text())["identity"]
                if set(recorded["outputs"]) & set(outputs):
                    return journal, recorded
            except (OSError, ValueError, KeyError, TypeError, RecursionError):   # not a journal of ours
                continue
    return None


def _outputs_differ(journal: Path, recorded: dict) -> str:
    """The one-line error for a --resume whose --jsonl / --output are not those of the run it would continue."""
    wrote = " and ".join(str(p) for p in recorded.get("outputs") or [])
    streams = recorded.get("streams")
    given = " ".join(f"{k} {v}" for k, v in streams.items() if v) if isinstance(streams, dict) else ""
    how = f"exactly {given}" if given else "the --jsonl / --output it had"
    return (f"--resume: the interrupted run wrote {wrote} (journal {journal}), not the outputs given now; resume "
            f"with the same output options ({how}), or {START_OVER}")


def cut_outputs(outputs: list[Path], frames: int, sizes: list[int] | None = None) -> int:
    """Every output back to its first `frames` lines, as NAME.part (where the run streams on): a killed run's
    NAME.part, or the NAME an interrupted run renamed it to; those lines must be `sizes` bytes (the journal's: not
    edited since). All are checked before any is changed. Returns the most whole lines an output held: more than
    `frames` where the journal fell behind (a kill between its updates, a full disk that refused them)."""
    cuts, held = [], frames
    for k, out in enumerate(outputs):
        part = part_path(out)
        src = part if part.is_file() and part.stat().st_size else out if out.is_file() else None
        if src is None:
            raise InputError(f"--resume: neither {part} nor {out} holds the killed run's lines; {START_OVER}")
        data = src.read_bytes()
        end, lines = 0, 0
        while lines < frames:
            nl = data.find(b"\n", end)
            if nl < 0:
                raise InputError(f"--resume: {src} holds {lines} whole lines, fewer than the {frames} frames its "
                                 f"journal says were written (edited or replaced?); {START_OVER}")
            end, lines = nl + 1, lines + 1
        if sizes is not None and len(sizes) == len(outputs) and end != sizes[k]:
            raise InputError(f"--resume: the first {frames} lines of {src} are {end} bytes, not the {sizes[k]} the "
                             f"killed run wrote (edited since?); {START_OVER}")
        cuts.append((src, part, end))
        held = max(held, frames + data.count(b"\n", end))
    for src, part, end in cuts:
        if src != part:
            part.unlink(missing_ok=True)   # an empty one a later attempt left
            os.replace(src, part)
        os.truncate(part, end)
    return held
