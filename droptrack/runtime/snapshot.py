"""`Tracker.restore`'s reading of a snapshot (`tracker.snapshot()`, `dt run --resume`'s journal): states, extension
memory and refreshed templates, every value checked before any of it is used. A damaged or foreign snapshot (another
model's, other settings', other init boxes') is one TrackerStateError and leaves the tracker as it was; before, NaN
or negative values were taken and failed frames later (a math domain error) or gave boxes the width of the frame."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from droptrack.errors import InputError, TrackerStateError
from droptrack.runtime.anchor import TargetAnchor, anchored
from droptrack.runtime.extensions import TargetMemory, TrackerExt
from droptrack.runtime.inputs import as_box

ASPECT_MAX = 1e4   # an init box's w / h lies within 1/ASPECT_MAX .. ASPECT_MAX (1 px by a 10,000 px frame)
AGAIN = "pass what snapshot() returned, to a tracker of the same model and settings started on the same boxes"


@dataclass
class Restored:
    """What `Tracker.restore` puts in place, all of it checked."""

    states: list[list[float]]
    memory: list[TargetMemory] | None   # None: the tracker has no extensions
    templates: Any                      # None: keep the tracker's
    version: int                        # template refreshes (0 without templates)


def numbers_of(values: Any, n: int, what: str) -> list[float]:
    """`n` finite numbers (not text, not True / False) as floats; a ValueError naming `what` otherwise."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__") or len(values) != n:
        raise ValueError(f"{what} is not {n} numbers")
    if any(isinstance(v, (bool, str, bytes)) or not isinstance(v, numbers.Real) for v in values):
        raise ValueError(f"{what} is not {n} numbers")
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} is not finite")
    return out


def count_of(value: Any, what: str) -> int:
    """A whole number >= 0 (a frame or refresh count); a ValueError naming `what` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{what} {value!r:.20} is not a whole number >= 0")
    return int(value)


def _state(value: Any, frame_hw: tuple[int, int] | None) -> list[float]:
    """One x, y, w, h state: finite, w and h > 0, overlapping the frame the targets were started in."""
    box = as_box(value)
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"state {box} has no area")
    if frame_hw is not None:
        H, W = frame_hw
        if box[0] >= W or box[1] >= H or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            raise ValueError(f"state {box} lies outside the {W}x{H} frame")
    return box


def memory_from_dict(d: Any, ext: TrackerExt, like: TargetMemory) -> TargetMemory:
    """One target's memory as `TargetMemory.to_dict` wrote it, checked against the tracker's settings `ext` and the
    same target's memory as initialised (`like`: its anchor's parts; its init box's aspect for a memory saved before
    ASPECT_PRIOR existed). Its own anchor and aspect win over `like`'s (a run resumed on other init boxes goes on
    with the journal's). A ValueError names what is wrong."""
    if not isinstance(d, Mapping):
        raise ValueError(f"it is a {type(d).__name__}, not a target memory")
    confident = numbers_of(d["confident"], 4, "confident")
    if confident[2] <= 0 or confident[3] <= 0:
        raise ValueError("confident box has no area")
    velocity = numbers_of(d["velocity"], 2, "velocity")
    since, low, refreshed = (count_of(d[k], k) for k in ("since", "low", "refreshed"))
    if not isinstance(d["wide"], bool) or (d["wide"] and ext.reacq_factor is None):
        raise ValueError(f"wide {d['wide']!r:.20} is not false" + (" or true" if ext.reacq_factor is not None else
                                                                   " (re-acquisition, REACQ_FACTOR, is off)"))
    aspect = like.aspect
    if ext.aspect_prior is not None and d.get("aspect") is not None:   # an init box's w / h
        aspect = numbers_of([d["aspect"]], 1, "aspect")[0]
        if not 1 / ASPECT_MAX <= aspect <= ASPECT_MAX:
            raise ValueError(f"aspect {aspect:.6g} is not the w / h of a box (1/{ASPECT_MAX:g} to {ASPECT_MAX:g})")
    saved = d.get("anchor")
    if anchored(ext) != (saved is not None):
        raise ValueError("it has no first-frame anchor, which this tracker's settings use" if saved is None else
                         "it has a first-frame anchor, which this tracker's settings do not use")
    anchor = TargetAnchor.from_dict(saved, like.anchor) if saved is not None else None
    peak = numbers_of([d.get("peak", 0.0)], 1, "peak")[0]   # absent: 0 (a journal from before SCALE_GATE)
    return TargetMemory(confident, tuple(velocity), since, low, d["wide"], refreshed, anchor=anchor,
                        aspect=aspect, peak=peak)


def _memory(saved: Any, tracker: Any, states: list[list[float]]) -> list[TargetMemory] | None:
    """The extensions' memory of a snapshot: checked (`memory_from_dict`), or, where it has none, each target's
    afresh at its restored state with its anchor and aspect as initialised; None without extensions."""
    ext = tracker.extensions
    if ext is None:
        return None
    if saved is None:
        return [TargetMemory(list(st), anchor=m.anchor, aspect=m.aspect) for st, m in zip(states, ext.memory)]
    if not isinstance(saved, list) or len(saved) != len(states):
        raise TrackerStateError(f"snapshot memory is not {len(states)} target memories; {AGAIN} (or drop its "
                                "'memory' entry to start afresh)")
    out = []
    for i, (d, like) in enumerate(zip(saved, ext.memory)):
        try:
            out.append(memory_from_dict(d, tracker.ext, like))
        except KeyError as exc:
            raise TrackerStateError(f"snapshot memory of target {i} lacks {exc}; {AGAIN}") from None
        except (TypeError, ValueError) as exc:
            raise TrackerStateError(f"snapshot memory of target {i}: {str(exc)[:120]}; {AGAIN}") from None
    return out


def _templates(snap: dict, templates: Any, version: Any, current: Any) -> tuple[Any, int]:
    """Refreshed templates saved with a snapshot and their count of refreshes, checked."""
    refreshes = snap.get("refreshes", 0)
    try:
        refreshes = count_of(refreshes, "refreshes")
        version = count_of(version, "template_version") if version is not None else refreshes
    except ValueError as exc:
        raise TrackerStateError(f"{exc}; {AGAIN}") from None
    if templates is None:
        if refreshes:   # TEMPLATE_REFRESH re-cropped them: the JSON does not hold them
            raise TrackerStateError(f"snapshot taken after {refreshes} template refreshes; pass the templates "
                                    "saved with it: restore(snap, templates=a copy of tracker.templates then)")
        return None, 0
    want, got = None if current is None else tuple(current.shape), getattr(templates, "shape", None)
    if got is None or tuple(got) != want:
        raise TrackerStateError(f"templates of shape {type(templates).__name__ if got is None else tuple(got)}"
                                f" for templates of shape {want}; pass the array saved with the snapshot, or None")
    host = templates.detach().cpu().numpy() if hasattr(templates, "detach") else np.asarray(templates)
    if not np.isfinite(host).all():
        raise TrackerStateError("templates hold NaN or infinite values; pass the array saved with the snapshot")
    if hasattr(current, "detach"):   # a DeviceTracker's: a tensor on its device, of its dtype
        import torch

        return torch.from_numpy(np.array(host)).to(current.device, current.dtype), version
    return host.astype(current.dtype), version


def restored(tracker: Any, snap: Any, templates: Any = None, template_version: Any = None) -> Restored:
    """`tracker.restore`'s arguments read and checked: a Restored, or one TrackerStateError."""
    if not isinstance(snap, Mapping) or not isinstance(snap.get("states"), list):
        raise TrackerStateError("snapshot is not a dict from tracker.snapshot(); pass what snapshot() returned")
    count = tracker.num_targets
    if len(snap["states"]) != count:
        raise TrackerStateError(f"snapshot of {len(snap['states'])} targets for {count} tracked; "
                                "initialize_many with the snapshot's init boxes first")
    try:
        states = [_state(s, tracker.frame_hw) for s in snap["states"]]
    except (InputError, ValueError) as exc:
        why = str(exc) if not isinstance(exc, InputError) else "states are not four finite numbers x, y, w, h each"
        raise TrackerStateError(f"snapshot {why[:120]}; {AGAIN}") from None
    memory = _memory(snap.get("memory"), tracker, states)
    kept, version = _templates(snap, templates, template_version, tracker.templates)
    return Restored(states, memory, kept, version)
