"""What `dt serve`'s commands and tracked frames do to the targets: the tracker and the target list (in the
tracker's order) change together. Run by the tracking thread under the session's lock (`Session`)."""

from __future__ import annotations

import dataclasses
import math

from droptrack.geometry import check_box_size, clip_box
from droptrack.runtime.sinks import TargetState
from droptrack.runtime.sources import Frame
from droptrack.runtime.track_result import TrackResult
from droptrack.serve.options import CommandError, Target
from droptrack.serve.outputs import Outputs


def find(targets: list[Target], target_id: int) -> int:
    """The list index of target `target_id`; CommandError 404 when there is none."""
    for i, t in enumerate(targets):
        if t.id == target_id:
            return i
    raise CommandError(404, f"no target {target_id}; GET /targets lists the live ones")


def check_size(box: list[float]) -> None:
    """A drawn box under 1 px wide or high: InputError (422), as `dt run --init` refuses it."""
    if len(box) == 4:   # another length: the tracker names it
        check_box_size(box, f"box {[float(v) for v in box]}", "draw a box of at least 1x1 px")


def reselect(tracker, targets: list[Target], target_id: int, box: list[float], frame: Frame) -> Target:
    """Target `target_id` started again from `box` on `frame` (its id stays): taken out of `targets`, last in the
    tracker; the caller puts it back at the end."""
    i = find(targets, target_id)
    check_size(box)
    tracker.add_targets(frame.image, [box])     # validates before changing anything
    tracker.remove_target(i)
    t = targets.pop(i)
    t.box, t.score, t.lost, t.since = reported_init(tracker, frame), None, False, frame.index
    return t


def reported_init(tracker, frame: Frame) -> list[float]:
    """The drawn box as reported on its frame: its part inside the frame, as `dt run --init` reports it (the tracker
    keeps the box as drawn); a box drawn past the edge was written whole."""
    H, W = frame.image.shape[:2]
    return clip_box([float(v) for v in tracker.states[-1]], H, W, margin=0)


def start(tracker, outputs: Outputs, count: int, max_targets: int, target_id: int, box: list[float],
          frame: Frame) -> Target:
    """A new target `target_id` from `box` on `frame`, last in the tracker, its --output box file (if any) in
    `outputs.box_sinks`; CommandError 409 with `count` targets already at --max-targets. A box the tracker refuses
    leaves no box file behind."""
    if count >= max_targets:
        raise CommandError(409, f"already {count} targets (--max-targets {max_targets}); remove one first")
    check_size(box)
    sink = outputs.open_box_file(target_id)
    try:
        tracker.add_targets(frame.image, [box])
    except BaseException:
        if sink is not None:
            sink.close()   # nothing written: nothing left behind
        raise
    t = Target(target_id, reported_init(tracker, frame), None, False, frame.index)
    if sink is not None:
        outputs.box_sinks[t.id] = sink
    return t


def remove(tracker, targets: list[Target], target_id: int) -> dict:
    """Stop tracking target `target_id`: out of the tracker and the list; its last answer."""
    i = find(targets, target_id)
    tracker.remove_target(i)
    return targets.pop(i).to_dict()


def tracked(targets: list[Target], results: list[TrackResult], lost_threshold: float) -> None:
    """The targets' boxes, scores, lost and re-acquisition flags from a tracked frame's results."""
    for t, r in zip(targets, results):
        t.box, t.score = list(r.box), float(r.score)
        t.lost = t.score < lost_threshold
        t.reacq = r.reacq


def unreadable(targets: list[Target]) -> list[TargetState]:
    """The targets' states on a frame that could not be decoded: no boxes (nan), no scores."""
    return [dataclasses.replace(t.state(), box=[math.nan] * 4, score=None, lost=False) for t in targets]
