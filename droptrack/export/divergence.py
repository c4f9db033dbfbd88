"""Tracking divergence of candidate graphs: boxes of a graph over sequences, the share of frames that diverge from a
reference, and the precision search's trial runner, whose journal lets an interrupted search resume.

A frame diverges when its box has IoU < 0.5 with the reference's (init frames excluded). Every trial's divergence
and the FP32 reference boxes are kept in `.auto_precision/` beside the exported graph, in files named by everything
the numbers depend on (`journal_key`): the FP32 graph, the recipe, the calibration pairs, the validation frames and
the quantizer's version. A changed input gives another name, so stale trials are never reused.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from droptrack.export.quantize import Calibration, Int8Recipe

DIVERGENCE_IOU = 0.5
Log = Callable[[str], None]


def track_boxes(path: Path, seqs: list, jitter_px: float = 0.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Boxes of an ONNX graph tracking every sequence from its first-frame box (ORT CPU, 1 thread).

    `jitter_px` > 0 adds N(0, jitter_px) pixels to each coordinate of the state after every frame: the same
    graph with a perturbation far below any precision's error, which measures how much of a divergence the
    tracking loop itself amplifies (the noise floor of `divergence`)."""
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.runtime.tracker import Tracker

    rng = np.random.default_rng(seed)
    out = {}
    with OrtBackend(path, threads=1) as backend:
        tracker = Tracker(backend)
        for s in seqs:
            boxes = [np.asarray(s.boxes[0], np.float64)]
            for i, frame in enumerate(s.iter_frames()):
                if i == 0:
                    tracker.initialize(frame, s.boxes[0])
                    continue
                boxes.append(np.asarray(tracker.track(frame)[0], np.float64))
                if jitter_px > 0:
                    tracker.states[0] = [v + jitter_px * rng.standard_normal() for v in tracker.states[0]]
            out[s.name] = np.stack(boxes)
    return out


def divergence(boxes: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """Share of tracked frames (init excluded) whose box has IoU < 0.5 with the reference's."""
    from droptrack.geometry import box_iou

    ious = np.concatenate([box_iou(boxes[k][1:], reference[k][1:]) for k in reference])
    return float((ious < DIVERGENCE_IOU).mean()) if ious.size else 0.0


def divergence_on_target(boxes: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                         truth: dict[str, np.ndarray]) -> tuple[float, int]:
    """(divergence, frames) over only the frames where the reference is on the target (IoU >= 0.5 with the truth):
    frames where the reference has already lost the target are where a weak model flips on any perturbation."""
    from droptrack.geometry import box_iou

    div, on = [], []
    for k, ref in reference.items():
        n = len(ref) - 1
        div.append(box_iou(boxes[k][1:], ref[1:]) < DIVERGENCE_IOU)
        on.append(box_iou(ref[1:], np.asarray(truth[k], np.float64)[1:n + 1]) >= DIVERGENCE_IOU)
    d, o = np.concatenate(div), np.concatenate(on)
    return (float(d[o].mean()) if o.any() else 0.0), int(o.sum())


def _key(parts: list, arrays: list[np.ndarray] = ()) -> str:
    """16 hex digits of sha256 over JSON `parts` (plus ORT's and droptrack's versions) and raw `arrays`."""
    import hashlib
    import json

    import onnxruntime

    from droptrack import __version__

    h = hashlib.sha256(json.dumps([*parts, onnxruntime.__version__, __version__], default=str).encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def journal_key(fp32_sha: str, base: Int8Recipe, pairs: tuple, seqs: list, desc: str) -> str:
    """What a trial's divergence depends on: the FP32 graph, the recipe, the calibration pairs, the validation
    frames, the quantizer; names the search's journal."""
    from droptrack.export.quantize import ORT_SETTINGS, TRT_QDQ_OPTIONS

    settings = repr(ORT_SETTINGS) if base.target == "ort" else repr(ORT_SETTINGS) + repr(TRT_QDQ_OPTIONS)
    return _key([fp32_sha, base.target, base.method, base.weights_per_channel(), settings, desc,
                 [len(s) for s in seqs], DIVERGENCE_IOU] + ([list(base.keep_fp32)] if base.keep_fp32 else []),
                [a for p in pairs[0] for a in (p.template, p.search)])


def reference_key(fp32_sha: str, seqs: list, desc: str) -> str:
    """What the FP32 reference boxes depend on (not the recipe: every target's search shares them)."""
    return _key([fp32_sha, desc, [len(s) for s in seqs]])


class Evaluator:
    """Builds a recipe's graph in a temp folder and measures its divergence (memoised per kept set).

    Every measured divergence and the FP32 reference boxes are also kept in `journal_dir` (`.auto_precision/`
    beside the graph, named by `journal_key`), so an interrupted search resumes without repeating a trial."""

    def __init__(self, fp32: Path, base: Int8Recipe, pairs: tuple, seqs: list, tmp: Path, log: Log,
                 reference: dict[str, np.ndarray] | None = None, journal_dir: Path | None = None, desc: str = "",
                 on_trial: Callable[[int], None] | None = None, parity: Callable[[Path], list[str]] | None = None):
        from droptrack.export.quantize import preprocess

        self.fp32, self.base, self.pairs, self.seqs, self.tmp, self.log = fp32, base, pairs, seqs, tmp, log
        self.on_trial = on_trial or (lambda done: None)   # called with the trials done so far (measured or journaled)
        self.check = parity                               # a candidate graph's parity failures (None: not checked)
        self.checked: dict[tuple[str, ...], list[str]] = {}
        self.done: set[str] = set()
        self.measured = 0                                 # trials measured in this run (not read from the journal)
        self.pre = preprocess(fp32, tmp / "pre.onnx")
        self.calibrations = 0                             # calibrations run (one per search: `ranges`)
        self._ranges: Calibration | None = None
        self._calibrated = False
        self.journal, self.trials, ref_path = None, {}, None
        if journal_dir is not None:
            from droptrack.artifact import sha256_file

            sha = sha256_file(fp32)
            self.journal = journal_dir / f"trials_{base.target}_{journal_key(sha, base, pairs, seqs, desc)}.json"
            ref_path = journal_dir / f"reference_{reference_key(sha, seqs, desc)}.npz"
            self.trials = _read_journal(self.journal)
            if self.trials:
                log(f"  auto-precision ({base.target}): resuming, {len(self.trials)} trials already measured "
                    f"({self.journal.name})")
        self.reference = reference if reference is not None else self._reference(ref_path)
        self.paths: dict[tuple[str, ...], Path] = {}

    def _reference(self, path: Path | None) -> dict[str, np.ndarray]:
        """The FP32 graph's boxes on the validation set, read back from `path` when an earlier search saved them."""
        from droptrack.artifact import atomic_savez

        if path is not None and path.is_file():
            saved = _read_reference(path, {s.name for s in self.seqs})
            if saved is not None:
                return saved
        ref = track_boxes(self.fp32, self.seqs)
        if path is not None:
            atomic_savez(path, ref)
        return ref

    def _record(self, name: str, value: float) -> float:
        from droptrack.artifact import atomic_write_json

        self.trials[name] = value
        self.measured += 1
        if self.journal is not None:
            atomic_write_json(self.journal, {"trials": self.trials})
        return value

    def _tick(self, name: str) -> None:
        """Count a trial once, whether measured now or read from the journal (progress)."""
        if name not in self.done:
            self.done.add(name)
            self.on_trial(len(self.done))

    def path(self, kept: list[str]) -> Path:
        """The INT8 graph keeping `kept` in high precision (built once)."""
        from droptrack.export.onnx import read_metadata
        from droptrack.export.quantize import quantize_int8

        key = tuple(sorted(kept))
        if key not in self.paths:
            path = self.tmp / f"cand{len(self.paths)}.onnx"
            quantize_int8(self.fp32, path, read_metadata(self.fp32), self.pairs[0], self.pairs[1],
                          replace(self.base, keep=key), pre=self.pre, ranges=self.ranges())
            self.paths[key] = path
        return self.paths[key]

    def ranges(self) -> Calibration | None:
        """The base recipe's activation ranges on the calibration pairs, calibrated once for every trial and the
        graph written after the search (None: its target needs none, see `calibrated_ranges`)."""
        from droptrack.export.quantize import calibrated_ranges

        if not self._calibrated:
            self._ranges = calibrated_ranges(self.pre, self.pairs[0], self.base, self.tmp)
            self._calibrated, self.calibrations = True, self.calibrations + (self._ranges is not None)
        return self._ranges

    def graph(self, kept: list[str]) -> tuple[float, Path | None]:
        """(divergence, graph path or None when the journal already had it) of the recipe keeping `kept`."""
        key = tuple(sorted(kept))
        name = ",".join(key)
        if name not in self.trials:
            self._record(name, divergence(track_boxes(self.path(kept), self.seqs), self.reference))
        self._tick(name)
        return self.trials[name], self.paths.get(key)

    def parity(self, kept: list[str]) -> list[str]:
        """The parity-check failures of the graph keeping `kept` ([]: it passes, or no check was given); once each."""
        key = tuple(sorted(kept))
        if self.check is None:
            return []
        if key not in self.checked:
            self.checked[key] = list(self.check(self.path(kept)))
        return self.checked[key]

    def base_divergence(self) -> float:
        """Divergence of the graph every group falls back to: FP16 (TensorRT's base) or FP32 (ORT's, exactly 0)."""
        import onnx

        from droptrack.export.onnx import read_metadata, set_metadata
        from droptrack.export.quantize import to_trt_base

        if self.base.target != "trt":
            return 0.0
        if "<fp16 base>" in self.trials:
            self._tick("<fp16 base>")
            return self.trials["<fp16 base>"]
        model = to_trt_base(onnx.load(str(self.pre)))
        set_metadata(model, read_metadata(self.fp32))
        path = self.tmp / "base_fp16.onnx"
        onnx.save(model, str(path))
        d = self._record("<fp16 base>", divergence(track_boxes(path, self.seqs), self.reference))
        self._tick("<fp16 base>")
        return d


def _read_reference(path: Path, names: set[str]) -> dict[str, np.ndarray] | None:
    """Saved FP32 reference boxes (None when they are for other sequences, or the file is damaged, e.g. truncated
    by a full disk or a cut-off copy: they are tracked again, as an unreadable journal's trials are measured again)."""
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files} if set(z.files) == names else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        return None


def _read_journal(path: Path) -> dict[str, float]:
    """A search journal's trials ({} when missing or unreadable: those trials are measured again)."""
    import json

    try:
        trials = json.loads(path.read_text())["trials"]
        return {str(k): float(v) for k, v in trials.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
