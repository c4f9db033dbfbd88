"""Opt-in tracker extensions (runtime/extensions.py): off = the official procedure bit for bit, the re-acquisition
crop switch on scripted scores, same boxes from torch and ONNX, template refresh. Scale search and the crop grid:
test_tracker_ext_scale.py; settings, the hand-computed size update and one-line errors: test_tracker_ext_settings.py."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from droptrack.config import meta_from_config
from droptrack.config import config_from_dict, config_to_dict, load_config
from droptrack.engine.base import Backend
from droptrack.engine.torch_backend import TorchBackend
from droptrack.geometry import clip_box, decode_box, hann2d, map_box_back, normalize, sample_target
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from droptrack.runtime.backends import tracker_ext
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.tracker import Tracker


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    return build_model(cfg).eval(), cfg


@pytest.fixture(scope="module")
def frames():
    """A textured square drifting right on noise: 8 RGB frames 160x120."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    patch = rng.integers(0, 255, (30, 24, 3), dtype=np.uint8)
    out = []
    for i in range(8):
        f = base.copy()
        f[40:70, 50 + 3 * i: 74 + 3 * i] = patch
        out.append(f)
    return out


def reference_track(model, cfg, frames, init, scales=(), penalty=1.0) -> list[list[float]]:
    """The spec's procedure (ostrack_spec.md 4.3-4.4) from the geometry reference functions and the model; with
    `scales`, scale search by hand: the spec's crop at SEARCH_FACTOR x s for s in (1, *scales), each through the
    model alone, the highest peak wins after multiplying the extra scales' by `penalty`."""
    t = cfg.TEST
    z, _ = sample_target(frames[0], init, t.TEMPLATE_FACTOR, t.TEMPLATE_SIZE)
    z = torch.from_numpy(normalize(z))
    state, boxes = list(init), [list(init)]
    window = hann2d(t.SEARCH_SIZE // cfg.MODEL.BACKBONE.STRIDE)
    for f in frames[1:]:
        best = None
        for k, s in enumerate((1.0, *scales)):
            x, rf = sample_target(f, state, t.SEARCH_FACTOR * s, t.SEARCH_SIZE)
            with torch.no_grad():
                out = model(z, torch.from_numpy(normalize(x)), ce_template_mask=model.template_index)
            box, peak = decode_box(window * out["score_map"].numpy(), out["size_map"].numpy(),
                                   out["offset_map"].numpy())
            scored = float(peak[0]) * (1.0 if k == 0 else penalty)
            if best is None or scored > best[0]:
                best = (scored, (box[0] * t.SEARCH_SIZE / rf).tolist(), rf)
        state = clip_box(map_box_back(best[1], state, t.SEARCH_SIZE, best[2]), *f.shape[:2], margin=10)
        boxes.append(state)
    return boxes


def run(tracker, frames, init) -> list[list[float]]:
    tracker.initialize(frames[0], init)
    return [list(init)] + [tracker.track(f)[0] for f in frames[1:]]


def test_keys_absent_or_official_values_give_the_official_boxes_bit_for_bit(tiny, frames):
    model, cfg = tiny
    init = [50.0, 40.0, 24.0, 30.0]
    expected = reference_track(model, cfg, frames, init)
    # the same values written out explicitly (extensions off: SIZE_LR / REACQ_FACTOR null) change nothing
    explicit = config_from_dict({**config_to_dict(cfg), "TEST": {**config_to_dict(cfg)["TEST"], "SIZE_LR": None,
                                 "REACQ_FACTOR": None, "REACQ_THRESHOLD": 0.3, "REACQ_CENTER": "last"}})
    for c in (cfg, explicit):
        backend = TorchBackend(model, c)
        assert backend.meta.tracker == ({} if c is cfg else {"REACQ_THRESHOLD": 0.3, "REACQ_CENTER": "last"})
        tracker = Tracker(backend)
        assert tracker.extensions is None
        assert run(tracker, frames, init) == expected


class ScriptedBackend(Backend):
    """Score maps whose windowed peak (centre cell, zero offset) is the next scripted score; size 0.25 x crop."""

    name = "scripted"

    def __init__(self, meta, scores):
        super().__init__(meta)
        self.scores = list(scores)
        self.feat = meta.feat_size
        self.cell = self.feat // 2
        self.window = hann2d(self.feat)[0, 0, self.cell, self.cell]

    def _infer(self, template, search):
        n, f = search.shape[0], self.feat
        score = np.zeros((n, 1, f, f), np.float32)
        score[:, 0, self.cell, self.cell] = np.float32(self.scores.pop(0)) / self.window   # one score or one each
        return {"score_map": score, "size_map": np.full((n, 2, f, f), 0.25, np.float32),
                "offset_map": np.zeros((n, 2, f, f), np.float32)}


def test_reacquisition_widens_the_crop_while_lost_and_returns_after_recovery(tiny):
    _, cfg = tiny
    meta = meta_from_config(cfg)
    scores = [0.9, 0.1, 0.1, 0.3, 0.6, 0.9]
    ext = TrackerExt(reacq_factor=6.0, reacq_frames=2, reacq_threshold=0.25, reacq_recover=0.5, reacq_center="last")
    tracker = Tracker(ScriptedBackend(meta, scores), ext)
    frame = np.zeros((240, 320, 3), np.uint8)
    tracker.initialize(frame, [140.0, 100.0, 40.0, 40.0])
    crop_sides, anchors = [], []
    for _ in scores:
        search, factors = tracker.preprocess(frame)
        crop_sides.append(round(meta.search_size / factors[0]))
        anchors.append(list(tracker._anchors[0]))
        tracker.postprocess(tracker.backend.infer(tracker.templates, search), factors, frame.shape[:2])

    def side(box, factor):   # the official crop side: ceil(sqrt(w h) * factor)
        return math.ceil(math.sqrt(box[2] * box[3]) * factor)

    # scores 0.9 (confident), 0.1, 0.1 (two under 0.25: lost), 0.3 (under recover: still wide), 0.6 (recovered)
    sf = meta.search_factor
    for k in (0, 1, 2, 5):           # normal crops: around the previous state with SEARCH_FACTOR
        assert crop_sides[k] == side(anchors[k], sf)
    confident = anchors[1]           # the state after the 0.9 frame
    assert anchors[3] == confident and anchors[4] == confident
    assert crop_sides[3] == crop_sides[4] == side(confident, 6.0) != side(confident, sf)
    assert tracker.extensions.memory[0].history == [False, False, False, True, True, False]


def test_torch_and_onnx_give_the_same_boxes_with_extensions_from_the_artifact(tiny, frames, tmp_path):
    """The TEST keys travel checkpoint -> ONNX metadata; both backends track alike with them on."""
    from droptrack.export.pipeline import export_onnx
    from droptrack.runtime.backends import load_backend

    model, cfg = tiny
    d = config_to_dict(cfg)
    d["TEST"].update(SIZE_LR=0.7, ASPECT_PENALTY=0.5, REACQ_FACTOR=6.0, REACQ_THRESHOLD=0.3, REACQ_RECOVER=0.31,
                     SCALE_SEARCH=[0.8], SCALE_PENALTY=0.97)
    on = config_from_dict(d, name=cfg.NAME)
    ckpt = tmp_path / "ext.pt"
    save_checkpoint(ckpt, model, on)
    res = export_onnx(model=model, cfg=on, output_dir=tmp_path)
    assert res.status == "ok"
    keys = {"SIZE_LR": 0.7, "ASPECT_PENALTY": 0.5, "REACQ_FACTOR": 6.0, "REACQ_THRESHOLD": 0.3,
            "REACQ_RECOVER": 0.31, "SCALE_SEARCH": [0.8], "SCALE_PENALTY": 0.97}
    init = [50.0, 40.0, 24.0, 30.0]
    boxes = {}
    for name in ("ext.pt", "model.onnx"):
        backend = load_backend(tmp_path / name)
        assert backend.meta.tracker == keys
        tracker = Tracker(backend)
        boxes[name] = run(tracker, frames, init)
        wide = tracker.extensions.memory[0].history
    np.testing.assert_allclose(boxes["ext.pt"], boxes["model.onnx"], rtol=0, atol=1e-3)
    assert boxes["ext.pt"] != reference_track(model, cfg, frames, init)   # the extensions did change the boxes
    # --official (all off) over the artifact's keys gives the reference boxes again
    off = Tracker(load_backend(tmp_path / "model.onnx"), tracker_ext(load_backend(ckpt), {"SIZE_LR": None,
                                                                                          "REACQ_FACTOR": None,
                                                                                          "SCALE_SEARCH": None}))
    np.testing.assert_allclose(run(off, frames, init), reference_track(model, cfg, frames, init), atol=1e-3)
    assert len(wide) == len(frames) - 1


def host_and_device(cfg, scores, ext: TrackerExt):
    """The host Tracker and a CPU DeviceTracker over the same scripted maps, both initialised on one random frame
    with the same two targets; and that frame."""
    from droptrack.runtime.device_tracker import DeviceTracker

    meta = meta_from_config(cfg)
    host = Tracker(ScriptedBackend(meta, scores), ext)
    dev = DeviceTracker(ScriptedBackend(meta, scores), device="cpu", ext=ext)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    inits = [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]]
    host.initialize_many(frame, inits)
    dev.initialize_many(frame, inits)
    return host, dev, frame


def check_host_device_and_resume(cfg, scores: list, ext: TrackerExt, resume_inits: list | None = None) -> Tracker:
    """The host Tracker and a CPU DeviceTracker (`host_and_device`) report the same boxes over the scripted maps,
    and a run resumed from the snapshot after the first frame (initialised on `resume_inits`, default the same
    targets, then restored) reports what an uninterrupted one does; returns the host tracker."""
    import json

    host, dev, frame = host_and_device(cfg, scores, ext)
    inits = [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]]
    snap = None
    for k in range(len(scores)):
        for a, b in zip(host.track_many(frame), dev.track_many(frame)):
            assert b.box == pytest.approx(a.box, abs=1e-6)
        if k == 0:
            snap = json.loads(json.dumps(host.snapshot()))
    resumed = Tracker(ScriptedBackend(meta_from_config(cfg), scores[1:]), ext)
    resumed.initialize_many(frame, resume_inits or inits)
    resumed.restore(snap)
    again = Tracker(ScriptedBackend(meta_from_config(cfg), scores), ext)
    again.initialize_many(frame, inits)
    again.track_many(frame)
    for _ in scores[1:]:
        for a, b in zip(again.track_many(frame), resumed.track_many(frame)):
            assert b.box == pytest.approx(a.box, abs=1e-9)
    return host


def test_device_tracker_shares_the_extension_update(tiny):
    """Same scripted maps through the host Tracker and the DeviceTracker (CPU): same crops, states, switches."""
    scores = [[0.9, 0.2], [0.1, 0.2], [0.1, 0.9], [0.3, 0.9], [0.6, 0.1], [0.9, 0.1]]
    ext = TrackerExt(size_lr=0.6, aspect_penalty=1.0, reacq_factor=6.0, reacq_frames=2, reacq_center="motion",
                     template_refresh=0.8, template_refresh_every=2)
    host, dev, frame = host_and_device(tiny[1], scores, ext)
    first = host.templates.copy()
    for _ in scores:
        _, rh = host.preprocess(frame)
        _, rd = dev.preprocess(frame)
        assert rd.tolist() == pytest.approx(rh, abs=1e-12)
        for a, b in zip(host.track_many(frame), dev.track_many(frame)):
            assert b.box == pytest.approx(a.box, abs=1e-6) and b.score == pytest.approx(a.score, abs=1e-6)
    assert [m.history for m in host.extensions.memory] == [m.history for m in dev.extensions.memory]
    assert host.extensions.memory[0].history == [False, False, False, True, True, False]
    assert host.extensions.memory[1].history == [False, False, True, False, False, False]
    # refreshed templates (both targets were refreshed): the same crops
    assert all(not np.array_equal(a, b) for a, b in zip(first, host.templates))
    assert np.array_equal(np.asarray(dev.templates), host.templates)
    dev.remove_target(0)
    assert len(dev.extensions.memory) == 1 and tuple(dev.states_t.shape) == (1, 4)


def test_template_refresh_only_on_confident_frames_and_at_most_every_n(tiny):
    _, cfg = tiny
    meta = meta_from_config(cfg)
    scores = [0.9, 0.9, 0.5, 0.9, 0.9, 0.9]
    ext = TrackerExt(template_refresh=0.8, template_refresh_every=2)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(len(scores) + 1)]
    tracker = Tracker(ScriptedBackend(meta, scores), ext)
    tracker.initialize(frames[0], [140.0, 100.0, 40.0, 40.0])
    templates = [tracker.templates.copy()]
    for f in frames[1:]:
        box, _ = tracker.track(f)
        templates.append(tracker.templates.copy())
        if not np.array_equal(templates[-1], templates[-2]):   # a refresh crops the frame around the new box
            expected, _ = tracker._crops(f, [box], meta.template_factor, meta.template_size)
            assert np.array_equal(templates[-1], expected)
    changed = [not np.array_equal(a, b) for a, b in zip(templates, templates[1:])]
    # frame 2: 2 frames since init, 0.9 -> refresh; frame 3: 0.5 < 0.8; frame 4: 2 since -> refresh; frame 6 too
    assert changed == [False, True, False, True, False, True]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_extensions_on_cuda_device_tracker_equal_the_cpu_device_tracker(tiny, frames):
    """CUDA crops/templates (torch I/O) with every extension on: the same states and switches as on the CPU."""
    from droptrack.runtime.device_tracker import DeviceTracker

    model, cfg = tiny
    meta = meta_from_config(cfg)
    scores = [[0.9, 0.2], [0.1, 0.2], [0.1, 0.9], [0.3, 0.9], [0.6, 0.1], [0.9, 0.1]]
    ext = TrackerExt(size_lr=0.6, aspect_penalty=1.0, reacq_factor=6.0, reacq_frames=2, template_refresh=0.8,
                     template_refresh_every=2)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    inits = [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]]
    runs = {}
    for device in ("cpu", "cuda"):
        tracker = DeviceTracker(ScriptedBackend(meta, [list(s) for s in scores]), device=device, ext=ext)
        tracker.initialize_many(frame, inits)
        runs[device] = ([[r.box for r in tracker.track_many(frame)] for _ in scores],
                        [m.history for m in tracker.extensions.memory], np.asarray(tracker.templates))
    np.testing.assert_allclose(runs["cuda"][0], runs["cpu"][0], atol=1e-6)
    assert runs["cuda"][1] == runs["cpu"][1]
    assert np.abs(runs["cuda"][2] - runs["cpu"][2]).max() <= 1 / 255 / 0.224 + 1e-6
    # a real model on CUDA (torch I/O: templates are CUDA tensors, refreshed in place) against the CPU
    real = TrackerExt(size_lr=0.8, template_refresh=0.0, template_refresh_every=2)
    out = {}
    for device in ("cpu", "cuda"):
        tracker = DeviceTracker(TorchBackend(copy.deepcopy(model), cfg, device=device), device=device, ext=real)
        tracker.initialize(frames[0], [50.0, 40.0, 24.0, 30.0])
        out[device] = [tracker.track(f)[0] for f in frames[1:4]]
    for a, b in zip(out["cpu"], out["cuda"]):
        assert np.allclose(a, b, atol=1.0)


def test_memory_history_stays_bounded_on_an_endless_run():
    """Every tracked frame appended a flag to TargetMemory.history: the default model (scale search) grew by one
    list entry per frame and target for as long as a camera ran. It keeps the last HISTORY frames now."""
    from droptrack.runtime.extensions import HISTORY, Extensions, TrackerExt

    ext = Extensions(TrackerExt(scale_search=(0.8,)), 4.0)
    ext.reset([[10.0, 10.0, 20.0, 20.0]])
    for i in range(5 * HISTORY + 7):
        ext.update(0, [10.0, 10.0, 20.0, 20.0], [10.0 + i % 3, 10.0, 20.0, 20.0], 0.9, (200, 200))
    h = ext.memory[0].history
    assert HISTORY <= len(h) <= 2 * HISTORY and h[-1] is False
