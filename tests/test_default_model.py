"""The embedded default model: ships inside the package, loads without a config, and actually tracks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.data.synth import generate_synth
from droptrack.data import get_sequences
from droptrack.eval.metrics import ope_metrics
from droptrack.model.checkpoint import load_tracking_checkpoint, read_meta
from droptrack.geometry import box_iou
from droptrack.model.default import default_checkpoint
from droptrack.runtime.tracker import load_tracker
from droptrack.eval.workers import track_sequence


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """Held-out synthetic sequences: val-split photos (never seen in training) and an unused seed."""
    root = generate_synth(tmp_path_factory.mktemp("heldout") / "s", sequences=4, frames=40, seed=123, split="val")
    return get_sequences("synth", root=root)


def test_default_checkpoint_is_small_and_self_describing():
    path = default_checkpoint()
    assert path.stat().st_size <= 20 * 1024 * 1024
    obj = torch.load(path, weights_only=True)
    assert obj["net"]["backbone.blocks.0.attn.qkv.weight"].dtype == torch.float32  # the exact trained weights
    meta = read_meta(path)
    assert (meta.template_size, meta.search_size, meta.arch, meta.ce) == (80, 160, "droptrack", True)
    model, cfg = load_tracking_checkpoint(path)
    assert cfg.NAME == "droptrack_tiny_synth" and model.variant == "droptrack"


def test_default_model_tracks_heldout_synthetic_sequences(heldout):
    torch.set_num_threads(1)
    tracker = load_tracker(None)
    preds = [track_sequence(tracker, s).boxes for s in heldout]
    res = ope_metrics(preds, [s.boxes for s in heldout], tag="generic")
    assert res.auc > 0.45, f"AUC {res.auc:.3f}"
    # the target is followed: most frames overlap the ground truth
    assert res.success_curve[10] > 0.5


def test_default_model_follows_a_moving_target_and_flags_it_with_its_score(heldout):
    seq = heldout[0]
    tracker = load_tracker(None)
    tracker.initialize(seq.frame(0), seq.boxes[0])
    scores, ious = [], []
    for i in range(1, len(seq)):
        box, score = tracker.track(seq.frame(i))
        scores.append(score)
        if seq.boxes[i][2] > 0:
            ious.append(box_iou(box, seq.boxes[i])[0])
    assert np.median(ious) > 0.5 and 0.0 < np.median(scores) <= 1.0
