"""Where `dt run --resume` continues (`runtime.resume` writes the journal): the journal read back and checked
against this run's identity, with one-line errors naming what differs, and every output cut back to the lines the
journal says were written."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.errors import InputError
from droptrack.runtime import video_leftover
from droptrack.runtime.resume import FORMAT, START_OVER, holds_data, templates_file
from droptrack.runtime.sinks import part_path


@dataclasses.dataclass
class ResumePoint:
    """Where a run continues: frames every output holds, the tracker state, refreshed templates (or None)."""

    frames: int
    snapshot: dict
    templates: np.ndarray | None
    template_version: int | None
    sizes: list[int] | None = None   # the bytes of those lines in every output
    replaces: list[str] = dataclasses.field(default_factory=list)   # --overwrite: `earlier_runs.earlier_targets`
    video: dict | None = None   # the killed run's unfinished --save video (`video_leftover`; None: none recorded)


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
            _check_target_count(*other, ident)   # or other --init boxes: NAME.txt for NAME_<k>.txt
            raise InputError(_outputs_differ(*other)) from None
        if not holds_data(ident["outputs"]):   # no earlier run at all: a plain run writes them, no --overwrite
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
                            None if data.get("sizes") is None else [int(n) for n in data["sizes"]],
                            [str(p) for p in data.get("replaces") or []], video_leftover.checked(data.get("video")))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"--resume: the journal {path} is damaged ({type(exc).__name__}: {exc}); "
                         f"{START_OVER}") from None
    if version is not None:
        npz = templates_file(path, version)
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
    if isinstance(then_compute, dict) and isinstance(now_compute, dict):   # not recorded by an earlier one
        ident["compute"] = {k: v for k, v in now_compute.items() if k not in ("threads", "engine") or k in then_compute}
    differ = [k for k in ident if _by_content(k, recorded.get(k)) != _by_content(k, ident[k])
              and (k != "compute" or "compute" in recorded)]
    if "outputs" in differ or "streams" in differ:   # (an earlier droptrack's journal did not record `compute`)
        _check_target_count(path, recorded, ident)   # another number of --init boxes: other NAME_<k> outputs
        raise InputError(_outputs_differ(path, recorded))
    if differ == ["compute"] and isinstance(recorded["compute"], dict):
        _check_engine(recorded["compute"], ident["compute"])
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
        was_given = {k: _option_was(k, recorded.get(k)) for k in differ}
        then_ext, now_ext = recorded.get("tracker"), ident.get("tracker")
        if "tracker" in differ and isinstance(then_ext, dict) and isinstance(now_ext, dict):
            options, was_given["tracker"] = _ext_options(then_ext, now_ext)
            names["tracker"] = f"the tracker settings ({options})"
        what = ", ".join(names.get(k, f"--{k.replace('_', '-')}") for k in differ)
        was = " ".join(w for w in was_given.values() if w)
        verb = "differs" if len(differ) == 1 and differ != ["tracker"] else "differ"   # 'the settings differ'
        raise InputError(f"--resume: {what} {verb} from the killed run's "
                         f"({path}{': it ran with ' + was if was else ''}); run its command again with --resume, or "
                         f"{START_OVER}")


ENGINES = {"onnxruntime": "ONNX Runtime", "torch": "PyTorch", "tensorrt": "TensorRT"}


def _check_engine(then: dict, now: dict) -> None:
    """The one-line error for a --resume whose model runs in another engine than the killed run's (the built-in
    model: the shipped ONNX Runtime graph, or its checkpoint in PyTorch where onnxruntime is missing or a --model
    path names the checkpoint): the same weights give boxes that differ in the last bits."""
    engines = [c.get("engine") for c in (then, now)]
    if None in engines or engines[0] == engines[1]:
        return
    then_name, now_name = (ENGINES.get(str(e), str(e)) for e in engines)
    if engines[0] == "torch":
        from droptrack.model.default import default_checkpoint

        fix = f"resume with PyTorch as the killed run did (--model {default_checkpoint()} for the built-in model)"
    else:
        fix = (f"resume with {then_name} as the killed run did (the built-in model takes it with onnxruntime "
               "installed, no --model and no --config; `dt doctor` says what it takes here)")
    raise InputError(f"--resume: the killed run tracked with {then_name}, this one with {now_name}: their boxes "
                     f"differ in the last bits and would mix in one file; {fix}, or {START_OVER}")


def _ext_options(then: dict, now: dict) -> tuple[str, str]:
    """The `dt run` options of the tracker settings that differ between the killed run's journal and this run (a key
    the journal does not hold was off), and how the killed run gave them: ('--scale-search, --crop-grid',
    '--scale-search 0.8 --crop-grid off')."""
    from droptrack.runtime.extensions import KEYS, option_args

    changed = {key: then.get(field) for key, (field, _) in KEYS.items() if then.get(field) != now.get(field)}
    return ", ".join(KEYS[k][1] for k in changed), " ".join(option_args(changed))


def _option_was(key: str, value: Any) -> str | None:
    """How the killed run gave an option its journal records (`--init 1,2,3,4 --init ...`, `--start 20`, ...), for
    the refusal of a --resume with another one; None for the other entries (files are named by content)."""
    if key == "init" and isinstance(value, list):
        return " ".join("--init " + ",".join(_given(v) for v in box) for box in value)
    if key == "start":   # recorded only when not 0
        return f"--start {value or 0}"
    if key in ("lost_threshold", "fps"):
        return f"--{key.replace('_', '-')} {_given(value)}" if isinstance(value, (int, float)) else "no --fps"
    return None


def _given(v: float) -> str:
    """A recorded number as it is typed to match it exactly (367.2345, not :g's 367.235, which is another box)."""
    text = repr(float(v))
    return text.removesuffix(".0")


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
    """The journal (path, identity) of an unfinished run that wrote one of `outputs` (searched beside them), or
    their NAME / NAME_<k> kin (a run of another number of targets onto the same --output)."""
    kin = {_unnumbered(o) for o in outputs}
    for folder in dict.fromkeys(Path(o).parent for o in outputs):
        for journal in sorted(folder.glob("*.resume.json")):
            try:
                recorded = json.loads(journal.read_text())["identity"]
                if set(recorded["outputs"]) & set(outputs) or {_unnumbered(r) for r in recorded["outputs"]} & kin:
                    return journal, recorded
            except (OSError, ValueError, KeyError, TypeError, RecursionError):   # not a journal of ours
                continue
    return None


def _check_target_count(journal: Path, recorded: dict, ident: dict) -> None:
    """The one-line error for a --resume with another number of --init boxes than the killed run's (its box files
    are other NAME_<k>.txt: it was told to pass the output options it had passed, or that there was no journal)."""
    inits = recorded.get("init")
    if isinstance(inits, list) and len(inits) != len(ident.get("init") or []):
        raise InputError(f"--resume: --init differs from the killed run's ({journal}: it ran with "
                         f"{_option_was('init', inits)}); run its command again with --resume, or {START_OVER}")


def _unnumbered(path: str) -> str:
    """NAME.txt for NAME_<k>.txt (a target's box file of a run of several), else the path as it is."""
    p = Path(path)
    return str(p.with_name(re.sub(r"_\d+$", "", p.stem) + p.suffix))


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
