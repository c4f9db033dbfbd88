"""Tracker over any Backend: the official OSTrack/DropTrack test-time procedure (ostrack_spec.md section 4).

Pre/post-processing is numpy/OpenCV (shared by every backend; the crop and normalisation come from
`host_ops`, byte-identical to `geometry.sample_target` + `normalize`); several targets run in one batched call.
Opt-in extensions (size smoothing, re-acquisition, template refresh, scale search: `runtime.extensions`) change
the crops and the state update only when the artifact's TEST keys or the caller's overrides turn them on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from os import PathLike
from typing import Any

import numpy as np

from droptrack.engine.base import Backend, to_numpy
from droptrack.errors import InputError, TrackerStateError
from droptrack.geometry import clip_box, crop_view, decode_box, map_box_back, validate_init_box
from droptrack.runtime.backends import load_backend, tracker_ext, warn_unused_threads
from droptrack.runtime.anchor import gray_of
from droptrack.runtime.extensions import Extensions, TrackerExt
from droptrack.runtime.score_windows import score_window
from droptrack.runtime.host_ops import Cropper, Normalizer
from droptrack.runtime.inputs import (BoxesLike, BoxLike, as_box, as_boxes, as_frame, check_channels,
                                        check_decoded, check_frame_size, check_init_targets, check_lost_threshold,
                                        check_post_args, check_same_targets, joined_templates, no_boxes,
                                        repeated_templates, target_index)
from droptrack.runtime.snapshot import restored
from droptrack.runtime.track_result import LOST_THRESHOLD, TrackResult


class Tracker:
    """`initialize(frame, box)` once, then `track(frame)` per frame; template never updated (official).

    Frames: RGB uint8 (H, W, 3) arrays (also grayscale, RGBA, PIL images, torch tensors: `runtime.inputs`); boxes:
    x, y, w, h in pixels (top-left corner, width, height), never x1, y1, x2, y2. Boxes live in pixel coordinates:
    a frame of another size than the one they were started in is tracked at those coordinates (the box clipped into
    it), with a FrameSizeWarning.
    `ext`: the extension settings, a TrackerExt or a dict of TEST-style keys as `load_tracker` takes (None = the
    artifact's own TEST keys, `meta.tracker`; none = official).
    `channels`: 'bgr' when the arrays and tensors passed are BGR / BGRA (OpenCV's order; PIL images are RGB).
    `lost_threshold`: results whose score is under it have `lost=True` (0 disables; dt run's default 0.25).
    `init_checks`: dt run's checks of init boxes (`runtime.inputs.check_init_targets`; `load_tracker`'s trackers
    make them): under 1 px is an InputError, a box on one-colour pixels or one that reads as x1,y1,x2,y2 a warning."""

    def __init__(self, backend: Backend, ext: TrackerExt | Mapping | None = None, channels: str = "rgb",
                 lost_threshold: float = LOST_THRESHOLD, init_checks: bool = False):
        if not isinstance(backend, Backend):
            raise InputError(f"Tracker takes a loaded model backend, not a {type(backend).__name__}; for a model file "
                             "use load_tracker(path) (another tracker's model: Tracker(tracker.backend))")
        self.bgr = check_channels(channels)     # frames arrive in OpenCV's BGR order (flipped by a view)
        self.lost_threshold = check_lost_threshold(lost_threshold)
        self.init_checks = bool(init_checks)
        self.backend = backend
        self.meta = m = backend.meta
        self.normalizer = Normalizer(m.mean, m.std)
        self.cropper = Cropper()                # crop_resize with a reused canvas for padded windows
        self.templates: np.ndarray | None = None
        self.states: list[list[float]] = []
        if isinstance(ext, Mapping):            # the keys load_tracker(ext=...) takes
            ext = tracker_ext(backend, ext, api=True)
        elif ext is not None and not isinstance(ext, TrackerExt):
            raise InputError(f"ext is a {type(ext).__name__}; pass a dict of tracker-extension keys, e.g. "
                             "{'SIZE_LR': 0.6}, a TrackerExt, or None (the model's own)")
        self.ext = ext if ext is not None else TrackerExt.from_keys(getattr(m, "tracker", None) or {})
        self.window = score_window(m.feat_size, self.ext.window_power)   # official unless WINDOW_POWER
        self.extensions = Extensions(self.ext, m.search_factor) if self.ext.active else None
        self._anchors: list[list[float]] = []   # boxes the last search crops were centred on (extensions)
        self._windows: np.ndarray | None = None  # per-crop score windows of the last crops (GRID_WINDOW 'target')
        self._frame = None                      # the frame being tracked (template refresh)
        self._host = None                       # the same frame on the host (runtime/anchor.py reads it)
        self.template_version = 0               # counts template refreshes (dt run --resume saves them again)
        self._started = False                   # initialised once (removing every target leaves it started)
        self.frame_hw: tuple[int, int] | None = None   # the size of the frame the targets were started in
        self._closed = False                    # close(): the backend is released, frames are refused
        self._targets = 0                       # counts changes of the set of targets (initialize, add, remove)
        self._pre: tuple[tuple[int, int], int, int] | None = None   # the last preprocess's (H, W), crops, _targets
        self._check_open()                      # a model another tracker closed

    def close(self) -> None:
        """Forget the targets and release the backend (its ONNX Runtime session or TensorRT engine); calls with a
        frame afterwards are a TrackerStateError. A backend shared with other trackers is closed for them too."""
        self.templates, self.states, self._frame, self._closed = None, [], None, True
        if self.extensions is not None:
            self.extensions.reset([])
        self.backend.close()

    def __repr__(self) -> str:
        """The model, backend, procedure and state in one line (the default repr named only the memory address)."""
        state = "closed" if self._closed else f"{self.num_targets} target(s)"
        return (f"Tracker({self.meta.config_name}, {self.backend.name} {self.meta.precision}, {self.channels}, "
                f"{self.ext.describe()}, {state})")

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def frame_in(self, frame: np.ndarray) -> np.ndarray:
        """The caller's frame (in the tracker's `channels` order) as RGB uint8 (H,W,3) (`runtime.inputs.as_frame`);
        a TrackerStateError once closed."""
        self._check_open()
        return as_frame(frame, self.bgr)

    def _check_open(self) -> None:
        """A TrackerStateError once `close` released the backend, this tracker's or another's sharing it."""
        if self._closed or self.backend.released:
            by = "" if self._closed else " (its model was closed by another tracker sharing it)"
            raise TrackerStateError(f"the tracker is closed{by}; load another (load_tracker(...)) to track again")

    @property
    def channels(self) -> str:
        """The channel order of the arrays and tensors it takes, 'rgb' or 'bgr' (`channels=`, lower-cased)."""
        return "bgr" if self.bgr else "rgb"

    @property
    def num_targets(self) -> int:
        """How many targets are tracked (0 before `initialize` and once every one was removed)."""
        return len(self.states)

    def initialize(self, frame: np.ndarray, box: BoxLike) -> None:
        """Start tracking one target: `frame` RGB uint8 (H,W,3), `box` x,y,w,h in pixels; forgets earlier targets."""
        self.initialize_many(frame, [as_box(box)])

    def initialize_many(self, frame: np.ndarray, boxes: BoxesLike) -> None:
        """Start tracking several targets in one RGB uint8 (H,W,3) frame (a list or (N,4) array of x,y,w,h boxes in
        pixels), tracked together in one batch; forgets earlier targets."""
        m = self.meta
        frame = self.frame_in(frame)
        states = [validate_init_box(box, frame.shape[:2]) for box in as_boxes(boxes)]
        for state in states:   # a template window on the discarded last row / column only: InputError, as on device
            crop_view(frame, state, m.template_factor)
        if self.init_checks:
            check_init_targets(frame, states)
        templates = self._crops(frame, states, m.template_factor, m.template_size)[0]
        if self.extensions is not None:   # first: an anchor that fails leaves every target as it was (add_targets)
            self.extensions.reset(states, frame)
        self.templates, self.states, self.frame_hw = templates, states, frame.shape[:2]
        self._started, self.template_version, self._targets = True, 0, self._targets + 1   # none refreshed

    def add_targets(self, frame: np.ndarray, boxes: BoxesLike) -> None:
        """Start tracking more targets (x,y,w,h boxes in pixels) on RGB uint8 `frame`; the others keep their templates
        and states (live selection); no boxes ([] or a (0, 4) array): nothing changes."""
        if no_boxes(boxes):
            self.frame_in(frame)
            return
        old_templates, old_states = self.templates, self.states
        old_memory = self.extensions.memory if self.extensions is not None else []
        version, old_hw = self.template_version, self.frame_hw
        self.initialize_many(frame, boxes)
        if old_templates is not None and old_states:
            self.templates = joined_templates(old_templates, self.templates)
            self.states = old_states + self.states
            self._keep_running(old_memory, version, old_hw)

    def _keep_running(self, old_memory: list, version: int, old_hw: tuple[int, int] | None) -> None:
        """Put the running targets' extension memory, template refresh count and frame size back after add_targets'
        initialize_many: a frame of another size than theirs warns, and later frames are compared with theirs."""
        self.template_version = version
        self.frame_hw, new_hw = old_hw, self.frame_hw
        check_frame_size(old_hw, new_hw)
        if self.extensions is not None:
            self.extensions.memory = old_memory + self.extensions.memory

    def remove_target(self, index: int) -> None:
        """Stop tracking target `index` (0-based, in initialisation order; -1: the last); the others keep their
        states."""
        self._check_open()
        index = target_index(index, self.num_targets)
        keep = [i for i in range(self.num_targets) if i != index]
        self.states, self._targets = [self.states[i] for i in keep], self._targets + 1
        self.templates = self.templates[keep] if keep else None
        if self.extensions is not None:
            self.extensions.remove(index)

    def sync(self) -> None:
        """Wait for queued device work: a torch backend on CUDA returns before its forward has run (the host path
        itself queues none), so `track_timed`'s infer time would be the time to queue it, and its post time the
        rest."""
        device = str(self.backend.device)
        if self.backend.name == "torch" and device.startswith("cuda"):
            import torch   # loaded: the backend is torch's

            torch.cuda.synchronize(device)

    def track_timed(self, frame: np.ndarray) -> tuple[list[TrackResult], dict[str, float]]:
        """`track_many` plus the pre / infer / post times in ms (synced after each stage), for live stats."""
        t0 = time.perf_counter()
        frame = self.frame_in(frame)
        if not self._ready():
            return [], {"pre": 0.0, "infer": 0.0, "post": 0.0}
        search, aux = self._preprocess(frame)
        self.sync()
        t1 = time.perf_counter()
        out = self.infer(search)
        self.sync()
        t2 = time.perf_counter()
        results = self.postprocess(out, aux, frame.shape[:2])
        t3 = time.perf_counter()
        return results, {"pre": (t1 - t0) * 1e3, "infer": (t2 - t1) * 1e3, "post": (t3 - t2) * 1e3}

    def _crops(self, frame: np.ndarray, states, factor: float | list[float], size: int
               ) -> tuple[np.ndarray, list[float]]:
        """(N,3,size,size) float32 normalised crops around `states` (one factor, or one per box) and their resize
        factors."""
        out = np.empty((len(states), 3, size, size), dtype=np.float32)
        factors = []
        for i, state in enumerate(states):
            patch, rf = self.cropper(frame, state, factor[i] if isinstance(factor, list) else factor, size)
            self.normalizer(patch, out[i])
            factors.append(rf)
        return out, factors

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """Search crops around every previous state of the caller's `frame` (in the tracker's `channels` order):
        (N,3,X,X) float32 and the resize factors; a TrackerStateError before `initialize`."""
        frame = self.frame_in(frame)
        self._ready()
        return self._preprocess(frame)

    def _preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """`preprocess` of a frame already read by `frame_in` (RGB uint8 (H,W,3))."""
        self._pre_frame(frame)
        if self.extensions is None:
            return self._crops(frame, self.states, self.meta.search_factor, self.meta.search_size)
        self._anchors, factors = self.extensions.crops(self.states, frame.shape[:2])
        self._windows = self.extensions.windows(self.meta.feat_size)
        self._frame = self._host = frame
        return self._crops(frame, self._anchors, factors, self.meta.search_size)

    def _pre_frame(self, frame: np.ndarray) -> None:
        """Before a frame's search crops: a FrameSizeWarning for another size; its size and crop count noted."""
        check_frame_size(self.frame_hw, frame.shape[:2])
        self._pre = (tuple(frame.shape[:2]), self._crop_count(), self._targets)

    def _crop_count(self) -> int:
        """Search crops per frame: one per target, or the scale search's per target (`Extensions.crop_counts`)."""
        return sum(self.extensions.crop_counts()) if self.extensions else self.num_targets

    def postprocess(self, out: dict, factors: list[float], image_hw: tuple[int, int]) -> list[TrackResult]:
        """Hann window, argmax decode, map back with the unrounded origin, 10-px clip; updates the states."""
        out = check_post_args(out, factors, image_hw, self._pre, self._crop_count(), self._targets)
        score = to_numpy(out["score_map"])
        window = self.window if self._windows is None else self._windows
        boxes, peaks = decode_box(window * score, to_numpy(out["size_map"]), to_numpy(out["offset_map"]))
        check_decoded(boxes, peaks)
        return self.update_states(boxes, peaks, factors, image_hw)

    def update_states(self, boxes: np.ndarray, peaks: np.ndarray, factors: list[float],
                      image_hw: tuple[int, int]) -> list[TrackResult]:
        """Decoded (N,4) crop-unit boxes -> new states: official map-back + clip, or the extensions' update."""
        m = self.meta
        H, W = image_hw
        if self.extensions is not None:
            return self._update_extended(boxes, peaks, factors, image_hw)
        results = []
        for i, rf in enumerate(factors):
            pred = (boxes[i] * m.search_size / rf).tolist()
            self.states[i] = clip_box(map_box_back(pred, self.states[i], m.search_size, rf), H, W, margin=10)
            results.append(self.result(self.states[i], float(peaks[i])))
        return results

    def _update_extended(self, boxes: np.ndarray, peaks: np.ndarray, factors: list[float],
                         image_hw: tuple[int, int]) -> list[TrackResult]:
        """`update_states` with extensions: each target's winning crop (scale search), then the extensions' update."""
        ext = self.extensions
        results = []
        starts = ext.starts
        gray = gray_of(self._host) if any(m.anchor is not None for m in ext.memory) else None
        for i, c in enumerate(ext.select(peaks)):
            if self.ext.scale_fuse is None:
                mapped = self._mapped(boxes, factors, c)
            else:   # SCALE_FUSE: every crop of this target, mapped back, then their weighted mean
                crops = range(starts[i], starts[i] + ext.counts[i])
                mapped = ext.fuse([self._mapped(boxes, factors, j) for j in crops], peaks[crops.start:crops.stop],
                                  c - starts[i])
            wide, shown = ext.memory[i].wide, None   # wide: this frame's crop's (`crops`); the update may change it
            if ext.memory[i].anchor is not None:   # ANCHOR_* (runtime/anchor.py); ANCHOR_BOX 'report': shown only
                fixed = ext.memory[i].anchor.apply(gray, mapped, self.ext.anchor_ncc, self.ext.anchor_scale,
                                                   float(peaks[c]), self.ext.anchor_size, self.ext.anchor_gate)
                report = self.ext.anchor_box == "report"
                mapped, shown = (mapped, clip_box(fixed, *image_hw)) if report else (fixed, None)
            self.states[i] = ext.update(i, self.states[i], mapped, float(peaks[c]), image_hw)
            if ext.refresh(i, float(peaks[c])):
                self.refresh_template(i, self.states[i])
                self.template_version += 1
            results.append(self.result(ext.reported(i, self.states[i] if shown is None else shown, image_hw),
                                       float(peaks[c]), wide if self.ext.reacq_factor is not None else None))
        return results

    def _mapped(self, boxes: np.ndarray, factors: list[float], crop: int) -> list[float]:
        """Crop `crop`'s decoded box mapped back to the frame (the official map-back from its grid/anchor box)."""
        m = self.meta
        pred = (boxes[crop] * m.search_size / factors[crop]).tolist()
        return map_box_back(pred, self._anchors[crop], m.search_size, factors[crop])

    def result(self, box: list[float], score: float, reacq: bool | None = None) -> TrackResult:
        """One target's TrackResult, flagged lost when `score` is under `lost_threshold`."""
        return TrackResult(list(box), float(score), float(score) < self.lost_threshold, reacq)

    def reacq_flags(self) -> list[bool] | None:
        """Per target, whether re-acquisition searches wide now (`Extensions.wide`); None where it is off."""
        return self.extensions.wide() if self.ext.reacq_factor is not None else None

    def refresh_template(self, index: int, box: list[float]) -> None:
        """Crop target `index`'s template again around `box` in the frame being tracked (TEMPLATE_REFRESH)."""
        index, box = self._refresh_args(index, box)
        m = self.meta
        self.templates[index] = self._crops(self._frame, [box], m.template_factor, m.template_size)[0][0]

    def _refresh_args(self, index: int, box: BoxLike) -> tuple[int, list[float]]:
        """`refresh_template`'s target index and box, checked; a TrackerStateError when no frame is being tracked."""
        self._check_open()
        index, box = target_index(index, self.num_targets), as_box(box)
        if self._frame is None:
            raise TrackerStateError("refresh_template crops from the frame being tracked, which only a tracker with "
                                    "extensions keeps; call it after track() on one (e.g. ext={'TEMPLATE_REFRESH': "
                                    "0.5})")
        return index, box

    def snapshot(self) -> dict:
        """What tracking the next frame depends on besides the templates, JSON-safe: the states (exact floats)
        and the extensions' per-target memory (`dt run --resume`)."""
        self._check_open()
        memory = None if self.extensions is None else [m.to_dict() for m in self.extensions.memory]
        return {"states": [[float(v) for v in s] for s in self.states], "memory": memory,   # refreshes: restore
                **({"refreshes": self.template_version} if self.template_version else {})}   # needs templates

    def restore(self, snap: dict, templates: np.ndarray | None = None, template_version: int | None = None) -> None:
        """Continue from a `snapshot` (after `initialize_many` on the same first frame); `templates`: refreshed
        templates saved with it, `template_version` their count of refreshes (a journal names them until the next
        refresh). A snapshot without "memory" starts each target's extension memory afresh at its restored state;
        anything malformed or foreign (`runtime.snapshot`) is a TrackerStateError."""
        self._check_open()
        r = restored(self, snap, templates, template_version)
        self.states = r.states
        if self.extensions is not None:
            self.extensions.memory = r.memory
        if r.templates is not None:   # refreshed ones (TEMPLATE_REFRESH)
            self.template_version, self.templates = r.version, r.templates

    def _ready(self) -> bool:
        """Whether there are targets to track; TrackerStateError before the first `initialize`."""
        if not self._started:
            raise TrackerStateError("call initialize(frame, box) (or initialize_many) before track()")
        return self.num_targets > 0

    def track_many(self, frame: np.ndarray) -> list[TrackResult]:
        """Track every target in RGB uint8 (H,W,3) `frame` with one batched backend call: one TrackResult (box
        x,y,w,h in pixels, score) per target in initialisation order; [] once every target was removed."""
        frame = self.frame_in(frame)
        if not self._ready():
            return []
        search, factors = self._preprocess(frame)
        out = self.infer(search)
        return self.postprocess(out, factors, frame.shape[:2])

    def search_templates(self) -> np.ndarray | Any:
        """The templates of the last preprocess's crops, each target's once a crop (an InputError after add/remove)."""
        check_same_targets(self._pre, self._targets)
        return repeated_templates(self.templates, [1] if self.extensions is None else self.extensions.counts)

    def infer(self, search: np.ndarray | Any) -> dict:
        """One backend call on the search crops (`preprocess`'s), with `search_templates`."""
        self._check_open()
        if self.templates is None:
            self._ready()
            raise TrackerStateError("no target left to track (all were removed); call initialize(frame, box) again")
        return self.backend.infer(self.search_templates(), search)

    def track(self, frame: np.ndarray) -> tuple[list[float], float]:
        """Track the (first) target in RGB uint8 (H,W,3) `frame`: its box (x,y,w,h floats, pixels) and peak score."""
        results = self.track_many(frame)
        if not results:
            raise TrackerStateError("no target left to track (all were removed); call initialize(frame, box) again")
        return results[0].box, results[0].score


def load_tracker(artifact: str | PathLike | None = None, config: str | PathLike | None = None, device: str = "cpu",
                 threads: int = 0, ext: dict | None = None, channels: str = "rgb",
                 lost_threshold: float = LOST_THRESHOLD, trust: bool = False) -> Tracker:
    """Tracker for a checkpoint / ONNX / engine file (None = the embedded default model) on device 'cpu' or
    'cuda[:N]'; frames RGB uint8 (H,W,3) (channels='bgr': OpenCV's BGR as read), boxes x,y,w,h in pixels. `ext`
    overrides the artifact's tracker-extension keys (TEST-style, e.g. {'SIZE_LR': 0.6}; {'SIZE_LR': None} turns it
    off). Results whose score is under `lost_threshold` carry `lost=True` (0 disables). `trust`: a legacy pickle
    checkpoint's foreign objects read as inert records (`--trust-checkpoint`; nothing in the file runs). `threads`:
    ONNX Runtime's intra-op threads for an .onnx model (0 = its default); a torch or TensorRT model does not take
    them (a warning says so unless torch.set_num_threads(n) already set torch's process-wide count). Init boxes
    get dt run's checks (`init_checks`): under 1 px is an InputError; FlatTargetWarning for a box on pixels of one
    colour (a black or fading-in frame), CornerBoxWarning for one that reads as corners x1,y1,x2,y2."""
    check_channels(channels)
    check_lost_threshold(lost_threshold)
    backend = load_backend(artifact, config, device, threads, trust=trust)
    warn_unused_threads(threads, backend)
    return Tracker(backend, tracker_ext(backend, ext, api=True), channels, lost_threshold, init_checks=True)
