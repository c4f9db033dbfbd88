"""DeviceTracker: the official procedure with pre/post-processing on the backend's device (`device_ops`).

Same interface as `Tracker` (`initialize_many`, `preprocess`, `postprocess`, `track_many`). On CUDA a frame is
copied once into a pinned host buffer and uploaded with a non-blocking copy (`PinnedUploader`: two pinned
buffers, each reused only after the event recorded behind its last copy has completed); crop, resize and normalisation run
on the GPU into a preallocated input tensor that the engine reads in place (torch and TensorRT backends take
CUDA tensors; pre/post are queued on torch's current stream, and the TensorRT backend orders its own stream
after it with stream waits, so there is no host sync before the final copy); the Hann window,
argmax, decoding, map-back and clip stay on the GPU, and one (N,5) copy (box + score) comes back per frame.
On CPU the same code runs on CPU tensors (the frame is wrapped, not copied).
With tracker extensions on (`runtime.extensions`), the crops use the extensions' per-target centres and factors
on the device, and the decoded (N,4) boxes + scores come back for the host `Tracker.update_states` (the same
code as the host path); the new states go back up as one small (N,4) copy.
A crop window that ends left of or above the frame (only an init box's: tracked states are clipped into the frame)
is cropped on the host as the reference does (`host_ops.ends_before`): its template at init and its search crop on
the first frame after, each uploaded like the other small host rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from droptrack.engine.base import TORCH_IO_BACKENDS, Backend
from droptrack.geometry import sample_target, validate_init_box
from droptrack.runtime.device_ops import Normalizer, crop_resize, decode, map_back_clip
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.host_ops import crop_resize as host_crop
from droptrack.runtime.host_ops import ends_before
from droptrack.runtime.inputs import (BoxesLike, as_boxes, as_frame, check_decoded, check_init_targets,
                                      check_post_args, target_index)
from droptrack.runtime.track_result import LOST_THRESHOLD, TrackResult
from droptrack.runtime.tracker import Tracker


class PinnedUploader:
    """Host frames -> one device frame buffer through double-buffered pinned memory.

    A non-blocking copy reads its pinned source later, on the stream; the next `np.copyto` into that buffer
    must wait until it has. Each buffer has the event recorded after its last copy, and a buffer is rewritten
    only after that event completed (with two buffers the wait is almost always already over), so direct
    callers (`initialize_many` then `track_many` with no host sync between) never race the copy.
    """

    def __init__(self, device: torch.device, slots: int = 2, event=None, pin: bool = True):
        self.device = device
        self.slots = slots
        self._event = event or (lambda: torch.cuda.Event())
        self._pin = pin
        self._host: list[torch.Tensor] = []
        self._done: list = []
        self._frame: torch.Tensor | None = None
        self._next = 0

    @property
    def pinned(self) -> bool:
        """Whether the host buffers exist and are page-locked (needed for truly asynchronous copies)."""
        return bool(self._host) and all(h.is_pinned() for h in self._host)

    def __call__(self, frame: np.ndarray) -> torch.Tensor:
        """(H,W,3) uint8 -> the device frame buffer (filled by a copy queued on the current stream)."""
        if self._frame is None or tuple(self._frame.shape) != frame.shape:
            self._host = [torch.empty(frame.shape, dtype=torch.uint8, pin_memory=self._pin)
                          for _ in range(self.slots)]
            self._done = [None] * self.slots
            self._frame = torch.empty(frame.shape, dtype=torch.uint8, device=self.device)
        k = self._next
        self._next = (k + 1) % self.slots
        if self._done[k] is not None:
            self._done[k].synchronize()           # the copy that last read this buffer has finished
        np.copyto(self._host[k].numpy(), frame)
        self._frame.copy_(self._host[k], non_blocking=True)
        done = self._event()
        done.record()
        self._done[k] = done
        return self._frame


class DeviceTracker(Tracker):
    """Tracker whose states live on `device` as (N,4) float64 and whose pre/post never leave it."""

    def __init__(self, backend: Backend, device: str | None = None, quantize: bool = True,
                 ext: TrackerExt | Mapping | None = None, channels: str = "rgb",
                 lost_threshold: float = LOST_THRESHOLD, init_checks: bool = False):
        super().__init__(backend, ext, channels, lost_threshold, init_checks)
        self.device = torch.device(device or backend.device)
        self.quantize = quantize
        self.window_t = torch.from_numpy(self.window).to(self.device)   # the host tracker's window
        self._windows_t: torch.Tensor | None = None   # per-crop windows of the last crops (GRID_WINDOW 'target')
        self._norm_x = Normalizer(self.meta.mean, self.meta.std, self.device)
        self._norm_z = Normalizer(self.meta.mean, self.meta.std, self.device)
        self.states_t: torch.Tensor | None = None
        self._fresh = False   # the states are init boxes (no postprocess since): check for windows before the frame
        self._uploader = PinnedUploader(self.device) if self.device.type == "cuda" else None
        self._torch_io = backend.name in TORCH_IO_BACKENDS

    def upload(self, frame: np.ndarray) -> torch.Tensor:
        """(H,W,3) uint8 host frame -> tensor on the device (CPU: a view, CUDA: pinned + non-blocking copy, other
        devices: a plain copy there)."""
        frame = np.ascontiguousarray(as_frame(frame))
        if self._uploader is None:   # torch warns on read-only arrays (it never writes to this one): a copy
            return torch.from_numpy(frame if frame.flags.writeable else frame.copy()).to(self.device)
        with torch.cuda.device(self.device):
            return self._uploader(frame)

    def _to_backend(self, t: torch.Tensor):
        return t if self._torch_io else t.cpu().numpy()

    def _from_backend(self, x) -> torch.Tensor:
        return torch.as_tensor(x).to(self.device, non_blocking=True)

    def initialize_many(self, frame: np.ndarray, boxes: BoxesLike) -> None:
        """Validate the init boxes (x,y,w,h pixels; one-line errors), crop and normalise the templates on the device."""
        m = self.meta
        frame = self.frame_in(frame)
        states = [validate_init_box(b, frame.shape[:2]) for b in as_boxes(boxes)]
        for s in states:  # host check of the crop (empty crops, boxes only touching the discarded border)
            sample_target(frame, s, m.template_factor, 1)
        if self.init_checks:
            check_init_targets(frame, states)
        if self.extensions is not None:   # first: an anchor that fails leaves every target as it was (add_targets)
            self.extensions.reset(states, frame)
        self.states_t, self.frame_hw = torch.tensor(states, dtype=torch.float64, device=self.device), frame.shape[:2]
        crops, _ = crop_resize(self.upload(frame), self.states_t, m.template_factor, m.template_size,
                               self.quantize)
        self._host_crops(crops, frame, states, [m.template_factor] * len(states), m.template_size)
        self._fresh = True
        self.templates = self._to_backend(self._norm_z(crops, reuse=False))
        self.states = states
        self._started, self.template_version, self._targets = True, 0, self._targets + 1   # none refreshed

    def _keep_running(self, old_memory: list, version: int, old_hw: tuple[int, int] | None) -> None:
        """`Tracker._keep_running` after add_targets, the joined states (host rows) sent to the device too."""
        self.states_t = self._send(self.states)
        super()._keep_running(old_memory, version, old_hw)

    def close(self) -> None:
        """`Tracker.close`, the states on the device too."""
        self.states_t = None
        super().close()

    def restore(self, snap: dict, templates: np.ndarray | None = None, template_version: int | None = None) -> None:
        """`Tracker.restore`, with the states also on the device."""
        super().restore(snap, templates, template_version)
        self.states_t = torch.tensor(self.states, dtype=torch.float64, device=self.device)
        self._fresh = True   # a snapshot taken right after init holds the init boxes

    def remove_target(self, index: int) -> None:
        """Stop tracking target `index` (-1: the last); the others keep their states."""
        self._check_open()
        index = target_index(index, self.num_targets)
        super().remove_target(index)
        keep = [i for i in range(len(self.states_t)) if i != index]
        self.states_t = self.states_t[keep] if keep else None

    def _preprocess(self, frame: np.ndarray) -> tuple[object, torch.Tensor]:
        """Search crops of every target of an RGB uint8 frame, normalised into the preallocated input buffer; and
        resize factors (`preprocess` reads the caller's frame first)."""
        self._pre_frame(frame)
        m = self.meta
        boxes, factor = self.states_t, m.search_factor
        rows, factors = self.states, [m.search_factor] * len(self.states)   # the same windows, as host lists
        image = self.upload(frame)
        if self.extensions is not None:
            self._anchors, factors = self.extensions.crops(self.states, frame.shape[:2])
            windows = self.extensions.windows(m.feat_size)
            self._windows_t = None if windows is None else self._put(torch.from_numpy(windows))
            sent = self._send([list(a) + [f] for a, f in zip(self._anchors, factors)])
            boxes, factor = sent[:, :4], sent[:, 4]
            rows = self._anchors
            self._frame, self._host = image, frame
        crops, resize = crop_resize(image, boxes, factor, m.search_size, self.quantize)
        if self._fresh:   # tracked states lie in the frame: only the first search after init can need the host
            self._host_crops(crops, frame, rows, factors, m.search_size)
        return self._to_backend(self._norm_x(crops)), resize

    def postprocess(self, out: dict, factors: torch.Tensor, image_hw: tuple[int, int]) -> list[TrackResult]:
        """Window, decode, map back, clip on the device; one host copy of the boxes and scores."""
        out = check_post_args(out, factors, image_hw, self._pre, self._crop_count(), self._targets)
        score = self._from_backend(out["score_map"])
        window = self.window_t if self._windows_t is None else self._windows_t
        boxes, peaks = decode(window * score, self._from_backend(out["size_map"]),
                              self._from_backend(out["offset_map"]))
        host = torch.cat([boxes.double(), peaks.double()[:, None], factors.double()[:, None]], 1)
        if self.extensions is None:   # the official map-back and clip on the device, copied with the rest
            states_t = map_back_clip(boxes, self.states_t, factors, self.meta.search_size, image_hw)
            host = torch.cat([host, states_t], 1)
        host = host.cpu().numpy()
        check_decoded(host[:, :4], host[:, 4])   # before any state changes
        self._fresh = False
        if self.extensions is not None:   # the host update (same code as `Tracker`), states back to the device
            # boxes back in decode's float32 (the host Tracker's arithmetic); peaks are only ever read as floats
            results = self.update_states(host[:, :4].astype(np.float32), host[:, 4], host[:, 5].tolist(), image_hw)
            self.states_t = self._send(self.states)
            return results
        self.states_t, self.states = states_t, host[:, 6:10].tolist()
        return [self.result(row, score) for row, score in zip(self.states, host[:, 4].tolist())]

    def _host_crops(self, crops: torch.Tensor, frame: np.ndarray, boxes: list, factors: list[float], size: int
                    ) -> None:
        """Replace the crops whose window ends left of or above the frame by the host crop (the reference reads part
        of the frame through numpy's negative slice end there; the device crop's zero padding reads nothing)."""
        for i, (box, factor) in enumerate(zip(boxes, factors)):
            if ends_before(box, factor, frame.shape[:2]):
                patch, _ = host_crop(frame, box, factor, size)
                crops[i] = self._put(torch.from_numpy(patch)).permute(2, 0, 1)

    def _send(self, rows: list) -> torch.Tensor:
        """Host rows -> float64 tensor on the device without a host sync (`_put`)."""
        return self._put(torch.tensor(rows, dtype=torch.float64))

    def _put(self, t: torch.Tensor) -> torch.Tensor:
        """A host tensor -> the device without a host sync (pinned staging, non-blocking copy; the caching host
        allocator keeps the staging block until the copy has run)."""
        if self.device.type != "cuda":
            return t.to(self.device)
        return t.pin_memory().to(self.device, non_blocking=True)

    def refresh_template(self, index: int, box: list[float]) -> None:
        """Crop target `index`'s template again around `box` on the device (TEMPLATE_REFRESH)."""
        index, box = self._refresh_args(index, box)
        m = self.meta
        state = self._send([list(box)])   # a blocking upload would be a host sync in the frame loop
        crop, _ = crop_resize(self._frame, state, m.template_factor, m.template_size, self.quantize)
        self.templates[index] = self._to_backend(self._norm_z(crop, reuse=False))[0]

    def sync(self) -> None:
        """Wait for queued device work (for per-stage timing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
