"""`dt bench` verdicts: ΔAUC with a paired bootstrap confidence interval over sequences, divergence and FPS gates.

ΔAUC (artifact - reference, AUC points) is the mean of per-sequence AUC differences, because the OPE AUC is the
unweighted mean of per-sequence AUCs. Its 95 % interval resamples sequences with replacement (both trackers keep
the same sequences: paired), 10 000 times, percentile method. An artifact fails when:
  max_auc_drop    the interval's lower end is below -gate (default per precision, DEFAULT_MAX_AUC_DROP): a drop
                  larger than the gate cannot be ruled out at 95 %;
  max_divergence  the share of tracked frames whose box has IoU < 0.5 with the reference's is above the limit
                  (DEFAULT_MAX_DIVERGENCE; FP16 1 %, INT8 3 %);
  min_fps         end-to-end FPS below --min-fps (only when given).
When the interval is wider than the gate and straddles -gate, the set is too small to prove the gate either way:
`ci_note` says so and how many sequences would lift its lower end to the gate at the same mean (the width shrinks
as 1/sqrt(n)), or that the mean itself is beyond the gate. When one sequence alone holds as many diverged frames as
the limit allows and the others stay within it, `divergence_note` says that one flip decides it. When the rate is
over the limit only because of frames the reference has lost as well, `on_target_note` says so.
This module imports nothing from bench.py, bench_report.py or bench_view.py (they import it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_MAX_AUC_DROP = {"fp32": 0.1, "fp16": 0.5, "int8": 1.0}      # AUC points (x100)
DEFAULT_MAX_DIVERGENCE = {"fp32": 0.01, "fp16": 0.01, "int8": 0.03}  # share of tracked frames
BOOTSTRAP_SAMPLES = 10000
CI_LEVEL = 0.95


@dataclass
class Gate:
    """One pass/fail check of a row (`passed` None: the metric was not measured)."""

    name: str                  # 'max_auc_drop' (AUC points) | 'max_divergence' (fraction) | 'min_fps'
    threshold: float
    value: float | None        # max_auc_drop: -(CI lower end), the largest drop the interval allows
    passed: bool | None
    explicit: bool             # given on the command line (else a per-precision default)


@dataclass
class DeltaCI:
    """Paired ΔAUC over sequences (points): mean and its bootstrap interval."""

    delta: float
    low: float
    high: float
    sequences: int
    samples: int = BOOTSTRAP_SAMPLES
    level: float = CI_LEVEL
    seed: int = 0   # numpy default_rng's: a rerun on the same scores gives the same interval

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, Any]:
        return {"delta": self.delta, "low": self.low, "high": self.high, "sequences": self.sequences,
                "samples": self.samples, "level": self.level, "seed": self.seed,
                "method": "paired bootstrap over sequences, percentile (numpy default_rng(seed))"}


def paired_bootstrap_ci(values: np.ndarray, reference: np.ndarray, samples: int = BOOTSTRAP_SAMPLES,
                        level: float = CI_LEVEL, seed: int = 0) -> DeltaCI:
    """Mean of values - reference (paired per sequence) and its percentile bootstrap interval."""
    a, b = np.asarray(values, np.float64), np.asarray(reference, np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired scores must be two equal-length 1-D arrays, got {a.shape} and {b.shape}")
    d = a - b
    idx = np.random.default_rng(seed).integers(0, d.size, size=(samples, d.size))
    means = d[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    mean = float(d.mean())
    # a constant difference has no spread: report it exactly (the resampled means differ only by rounding)
    if np.ptp(d) == 0:
        low = high = mean
    return DeltaCI(mean, float(min(low, mean)), float(max(high, mean)), int(d.size), samples, level, seed)


def sequences_for(ci: DeltaCI, gate: float) -> int | None:
    """Sequences that would bring the interval's lower end up to -gate at the same mean ΔAUC (its spread below the
    mean shrinks as 1/sqrt(n)); None when the mean itself is a drop beyond the gate (no number of sequences would
    show the drop within it). Not the half-width brought down to the gate: an interval [-0.24, +12.98] around
    +4.88 clears a 0.1-point gate with about 7 sequences, not 17 462."""
    if -ci.low <= gate:
        return ci.sequences
    room = ci.delta + gate   # a 0-point gate with a mean at or below 0: no count (the note said 'about 2 sequences')
    if room <= 0:
        return None
    return int(math.ceil(ci.sequences * ((ci.delta - ci.low) / room) ** 2))


MORE_SEQUENCES = "--data with a dataset, or a larger --sequences"   # how to bench more; bench_data.more_sequences


def ci_note(name: str, ci: DeltaCI | None, gate: float, more: str = MORE_SEQUENCES) -> str | None:
    """A line when the set is too small for the interval to be narrower than the gate and the interval straddles
    -gate, else None: when the whole interval lies below -gate the set shows a drop beyond the gate, and when its
    lower end is at or above -gate it shows the drop is within the gate (the gate passes, however wide the interval);
    more sequences would change neither. `more`: how to bench more sequences, for the data this bench ran on."""
    if ci is not None and ci.sequences == 1:   # resampling one sequence gives it back: no spread, whatever it is
        return (f"{name}: ΔAUC {ci.delta:+.2f} points comes from 1 sequence, so its interval is that one value and "
                f"the {gate:.2f}-point AUC gate judges one sequence, not the artifact; bench 20 or more sequences "
                f"({more}) before trusting it")
    if ci is None or ci.half_width <= gate or ci.high < -gate or -ci.low <= gate + 1e-9:   # 1e-9: as row_gates
        return None
    head = (f"{name}: the ΔAUC interval [{ci.low:+.2f}, {ci.high:+.2f}] (±{ci.half_width:.2f} points over "
            f"{ci.sequences} sequences) is wider than the {gate:.2f}-point gate")
    n = sequences_for(ci, gate)
    if n is None:
        return (f"{head}, and its mean ΔAUC {ci.delta:+.2f} is at or beyond the gate (-{gate:.2f}): this set is too "
                "small to tell, but more sequences would narrow the interval around that mean, and none would lift its "
                f"lower end to -{gate:.2f}")
    return (f"{head}: this set is too small to show the drop is within the gate; at its mean ΔAUC "
            f"({ci.delta:+.2f}) about {n} sequences would lift the interval's lower end to -{gate:.2f}")


def step_note(name: str, per_sequence: dict[str, dict], ci: DeltaCI | None, gate: float) -> str | None:
    """A line when the AUC gate failed while one frame crossing one IoU threshold moves the shortest sequence's AUC
    by more than the gate (40 frames: 100 / (40 x 21) = 0.12 points, FP32's gate 0.10): a one-pixel difference on one
    frame of a small set failed an exact graph, without a word; else None."""
    from droptrack.eval.metrics import SUCCESS_THRESHOLDS

    frames = [v["frames"] for v in per_sequence.values() if isinstance(v.get("frames"), int) and v["frames"] > 0]
    if ci is None or not frames or -ci.low <= gate + 1e-9:
        return None
    step = 100 / (min(frames) * len(SUCCESS_THRESHOLDS))
    if step <= gate:
        return None
    need = math.ceil(100 / (gate * len(SUCCESS_THRESHOLDS)))
    return (f"{name}: one frame whose IoU crosses one of the {len(SUCCESS_THRESHOLDS)} thresholds moves the AUC of "
            f"a sequence of {min(frames)} tracked frames by {step:.2f} points, more than the {gate:.2f}-point gate, so "
            f"on sequences this short one frame a pixel off can fail it; bench sequences of {need}+ tracked frames "
            "(--frames) or more sequences before reading it as a drop")


def divergence_spread(per_sequence: dict[str, dict]) -> tuple[int, int, float]:
    """(sequences with a diverged frame, sequences, the largest share of all frames one sequence's diverged frames
    make): how few sequences carry the diverged-frame rate."""
    seqs = [v for v in per_sequence.values() if v.get("divergence") is not None]
    frames = sum(v.get("frames", 1) for v in seqs) or 1
    hit = [v["divergence"] * v.get("frames", 1) / frames for v in seqs if v["divergence"] > 0]
    return len(hit), len(seqs), max(hit, default=0.0)


def divergence_note(name: str, per_sequence: dict[str, dict], limit: float, more: str = MORE_SEQUENCES) -> str | None:
    """A line when one sequence alone moves the diverged-frame rate by at least the limit and the others stay within
    it (so the verdict rests on whether that one sequence flips: a set of other sequences could pass or fail by
    chance), else None; the rate comes from divergence_spread's frame weights. `more`: as ci_note's."""
    k, n, top = divergence_spread(per_sequence)
    seqs = [v for v in per_sequence.values() if v.get("divergence") is not None]
    frames = sum(v.get("frames", 1) for v in seqs) or 1
    rate = sum(v["divergence"] * v.get("frames", 1) for v in seqs) / frames
    if k == 0 or top < limit or rate - top > limit:   # without it the gate fails all the same: it decides nothing
        return None
    return (f"{name}: the diverged frames come from {k} of {n} sequences, and the largest alone is {top:.1%} of all "
            f"frames (the limit is {limit:.1%}): one sequence that flips decides this gate; judge it on more "
            f"sequences ({more}) before trusting it")


def on_target_note(name: str, parity: Any, limit: float) -> str | None:
    """A line when the diverged-frame rate is over the limit but within it on the frames where the reference is on
    the target (ground truth IoU >= 0.5): the gate failed on frames the reference tracks wrongly as well, where two
    lost tracks part on any perturbation (the loop's noise, benchmarks/README.md, Precision), else None."""
    div, on = parity.divergence, parity.divergence_on_target
    if div is None or on is None or div <= limit or on > limit:
        return None
    return (f"{name}: {div:.1%} of frames diverged, but {on:.1%} of the {parity.frames_on_target} frames where the "
            f"reference is on the target (IoU >= 0.5 with the ground truth): the rest are frames the reference has "
            f"lost too, where two lost tracks part on any small difference")


def row_gates(precision: str, ci: DeltaCI | None, divergence: float | None, fps: float | None,
              max_auc_drop: float | None = None, max_divergence: float | None = None,
              min_fps: float | None = None) -> list[Gate]:
    """The gates of one row (explicit thresholds override the per-precision defaults)."""
    thr = max_auc_drop if max_auc_drop is not None else DEFAULT_MAX_AUC_DROP.get(precision, 0.1)
    drop = None if ci is None else 0.0 - ci.low   # not -ci.low: an interval from 0 gave -0.0 ('-0.00' points)
    out = [Gate("max_auc_drop", thr, drop, None if drop is None else drop <= thr + 1e-9, max_auc_drop is not None)]
    lim = max_divergence if max_divergence is not None else DEFAULT_MAX_DIVERGENCE.get(precision, 0.01)
    out.append(Gate("max_divergence", lim, divergence, None if divergence is None else divergence <= lim + 1e-12,
                    max_divergence is not None))
    if min_fps is not None:
        out.append(Gate("min_fps", min_fps, fps, None if fps is None else fps >= min_fps, True))
    return out


def gate_text(g: Gate) -> str:
    """'AUC drop up to 1.52 > 1.00 points (95% CI)' / 'diverged 4.1% > 3.0%' / 'FPS 12.3 < 30'; a gate that could
    not be checked reads 'AUC drop n/a (not checked; limit 1.00 points)', not as a failure ('n/a > 1.00')."""
    if g.name == "max_auc_drop":
        what, value, limit, tail = "AUC drop", g.value is not None and f"up to {round(g.value, 2) + 0.0:.2f}", \
            f"{g.threshold:.2f} points", " (95% CI)"   # + 0.0: a drop within +-0.005 reads 0.00, not -0.00
    elif g.name == "max_divergence":
        what, value, limit, tail = "diverged", g.value is not None and f"{g.value:.1%}", f"{g.threshold:.1%}", ""
    else:
        what, value, limit, tail = "FPS", g.value is not None and f"{g.value:.1f}", f"{g.threshold:g}", ""
    if not value or g.passed is None:
        return f"{what} n/a (not checked; limit {limit})"
    sign = (">=" if g.passed else "<") if g.name == "min_fps" else ("<=" if g.passed else ">")
    return f"{what} {value} {sign} {limit}{tail}"
