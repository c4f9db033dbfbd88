"""The tracker reproduces the official test-time procedure operation by operation."""

from __future__ import annotations

import numpy as np
import torch

from droptrack.config import load_config
from droptrack.engine.torch_backend import TorchBackend
from droptrack.geometry import clip_box, hann2d, map_box_back, sample_target
from droptrack.model import build_model
from droptrack.runtime.tracker import Tracker


def official_track(model, frames, init, cfg):
    """A transcription of the official `OSTrack.initialize/track` (torch pre/post-processing, bool CE mask)."""
    mean = torch.tensor(cfg.DATA.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cfg.DATA.STD).view(1, 3, 1, 1)

    def prep(arr):
        return ((torch.tensor(arr).float().permute((2, 0, 1)).unsqueeze(dim=0) / 255.0) - mean) / std

    t = cfg.TEST
    z_arr, _ = sample_target(frames[0], init, t.TEMPLATE_FACTOR, t.TEMPLATE_SIZE)
    z = prep(z_arr)
    window = torch.from_numpy(hann2d(t.SEARCH_SIZE // cfg.MODEL.BACKBONE.STRIDE))
    state, boxes = list(init), []
    H, W = frames[0].shape[:2]
    for frame in frames[1:]:
        x_arr, rf = sample_target(frame, state, t.SEARCH_FACTOR, t.SEARCH_SIZE)
        with torch.no_grad():
            out = model.forward(template=z, search=prep(x_arr), ce_template_mask=model.template_mask())
        response = window * out["score_map"]
        pred_boxes = model.box_head.cal_bbox(response, out["size_map"], out["offset_map"]).view(-1, 4)
        pred_box = (pred_boxes.mean(dim=0) * t.SEARCH_SIZE / rf).tolist()
        state = clip_box(map_box_back(pred_box, state, t.SEARCH_SIZE, rf), H, W, margin=10)
        boxes.append(state)
    return boxes


def test_tracker_equals_official_procedure_bitwise():
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(6)]
    init = [60.0, 40.0, 30.0, 20.0]
    tracker = Tracker(TorchBackend(model, cfg))
    tracker.initialize(frames[0], init)
    ours = [tracker.track(f)[0] for f in frames[1:]]
    assert ours == official_track(model, frames, init, cfg)


def test_batched_targets_equal_single_runs():
    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    inits = [[20.0, 30.0, 25.0, 20.0], [90.0, 50.0, 30.0, 35.0]]
    multi = Tracker(TorchBackend(model, cfg))
    multi.initialize_many(frames[0], inits)
    got = [[r.box for r in multi.track_many(f)] for f in frames[1:]]
    for k, init in enumerate(inits):
        single = Tracker(TorchBackend(model, cfg))
        single.initialize(frames[0], init)
        ref = [single.track(f)[0] for f in frames[1:]]
        assert np.allclose([g[k] for g in got], ref, atol=1e-4)
