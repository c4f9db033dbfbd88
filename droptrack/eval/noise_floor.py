"""The tracking loop's own noise floor for `dt bench`'s divergence gate (`--noise-floor PX`).

A reduced-precision row diverges from its reference (IoU < 0.5) where the two tracks part. Part of that is the loop:
the state feeds the next crop, so on an ambiguous frame any perturbation, however small, can send a track elsewhere.
This measures that part on the same frames: the reference itself, tracked again with N(0, PX) pixels added to each
coordinate of its state after every frame (no numeric change at all), against its own boxes. A row whose divergence
is near that number parts from the reference where any perturbation would; one far above it is the artifact's.
Reported beside the rows and in bench.json's reference entry; never gated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from droptrack.errors import DropTrackError, InputError, OutputFull

CPU_ONLY = "--noise-floor perturbs the host tracker's state; run the bench with --device cpu"
JITTER_SEED = 0   # every sequence starts the same jitter stream, wherever (and in which order) it is tracked


class JitteredTracker:
    """A host tracker whose state gets N(0, px) pixels on each coordinate after every tracked frame.

    The returned box is the tracker's own; the jittered state only moves the next frame's crop. Other attributes
    (ext, backend, close, ...) are the tracker's."""

    def __init__(self, tracker: Any, px: float, seed: int = JITTER_SEED):
        if not isinstance(getattr(tracker, "states", None), list) or hasattr(tracker, "states_t"):
            raise InputError(CPU_ONLY)
        self.tracker, self.px, self.seed = tracker, float(px), seed
        self.rng = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracker, name)

    def initialize(self, frame: Any, box: Any) -> Any:
        self.rng = np.random.default_rng(self.seed)
        return self.tracker.initialize(frame, box)

    def track(self, frame: Any) -> Any:
        out = self.tracker.track(frame)
        x, y, w, h = (v + self.px * self.rng.standard_normal() for v in self.tracker.states[0])
        self.tracker.states[0] = [x, y, max(w, 1.0), max(h, 1.0)]   # a large PX never makes a box empty
        return out


@dataclass
class NoiseFloor:
    """The reference against itself with `px` of state jitter: diverged share of `frames` (IoU < 0.5), and in how
    many of the sequences any frame diverged."""

    px: float
    divergence: float | None
    frames: int
    sequences_diverged: int
    sequences: int
    result_dir: str
    divergence_on_target: float | None = None   # among the frames where the reference is on the ground truth
    frames_on_target: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_noise_floor(px: float | None, device: str) -> None:
    """--noise-floor: a finite positive number of pixels, on the CPU (one line, before any work)."""
    if px is None:
        return
    if not 0 < px <= 10:
        raise InputError(f"--noise-floor {px} must be in (0, 10] pixels of state jitter per frame (e.g. 0.01)")
    if device != "cpu":
        raise InputError(CPU_ONLY)


def folder_name(ref_name: str, px: float) -> str:
    """Its results folder beside the rows': the reference's name and the jitter, so another PX never resumes it."""
    return f"{ref_name}_noise_{px:g}px"


def measure(ref: Any, seqs: list[Any], tag: str, opts: Any, truth: bool = False) -> NoiseFloor:
    """Track the reference again with the jitter (a `dt eval` pass into OUTPUT/results/<name>) and compare its
    boxes with the reference's as the rows' parity does (the result files' truncated pixels, init frame excluded;
    with `truth`, also among the frames where the reference is on the ground truth, as `parity`)."""
    from droptrack.eval.bench_rows import evaluate_row

    px = float(opts.noise_floor)
    name = folder_name(ref.name, px)
    result = evaluate_row(ref.artifact, seqs, name, tag, opts, wrap=lambda t: JitteredTracker(t, px))
    return compare(px, result.boxes, ref.boxes, seqs, str(result.output_dir), truth)


def compare(px: float, boxes: dict[str, np.ndarray], ref_boxes: dict[str, np.ndarray], seqs: list[Any],
            result_dir: str = "", truth: bool = False) -> NoiseFloor:
    """The jittered pass's boxes against the reference's, as `bench_reference.parity` compares a row's (truncated
    pixels, init frame excluded; with `truth`, also among the frames where the reference is on the ground truth)."""
    from droptrack.eval.bench_reference import DIVERGENCE_IOU, track_ious

    per, on = track_ious(boxes, ref_boxes, seqs, truth)
    hits = [int((iou < DIVERGENCE_IOU).sum()) for iou in per.values()]
    frames = sum(iou.size for iou in per.values())
    return NoiseFloor(px, sum(hits) / frames if frames else None, frames, sum(h > 0 for h in hits), len(seqs),
                      result_dir, float((on < DIVERGENCE_IOU).mean()) if on.size else None, int(on.size))


def note(ref: Any, floor: NoiseFloor, rows: list[Any]) -> str:
    """One line: the floor and each of the reference's rows' divergence beside it."""
    mine = [r for r in rows if r.reference is ref and r.parity is not None and r.parity.divergence is not None
            and ref.row is not r]
    beside = ", ".join(f"{r.name} {100 * r.parity.divergence:.1f} %" for r in mine)
    if floor.divergence is None:
        return f"noise floor of {ref.name}: no frame to compare"
    return (f"noise floor: {ref.name} itself with N(0, {floor.px:g}) px added to its state after every frame "
            f"diverges from its own boxes on {100 * floor.divergence:.1f} % of {floor.frames} frames "
            f"({floor.sequences_diverged} of {floor.sequences} sequences"
            + (f"; {100 * floor.divergence_on_target:.1f} % where the reference is on the target"
               if floor.divergence_on_target is not None else "") + ")"
            + (f"; the rows: {beside}" if beside else "")
            + ". A row near it parts from the reference where any perturbation would (the tracking loop); "
              "well above it, the artifact's numerics. Not gated")


def measure_all(refs: list[Any], rows: list[Any], seqs: list[Any], tag: str, opts: Any,
                truth: bool = False) -> list[str]:
    """Each tracked reference's floor (set on `ref.noise_floor`), and its note; a pass that fails is a note too
    (the rows' numbers stand without it), except a full disk, which stops the bench as for any row."""
    notes = []
    for ref in refs:
        if ref.boxes is None:   # the reference failed: its rows say so
            continue
        try:
            ref.noise_floor = measure(ref, seqs, tag, opts, truth)
        except OutputFull:
            raise
        except DropTrackError as exc:
            notes.append(f"noise floor of {ref.name} not measured: {exc}")
            continue
        notes.append(note(ref, ref.noise_floor, rows))
    return notes
