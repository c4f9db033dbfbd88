"""Validation during training: success AUC of the in-training model tracking held-out sequences."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from droptrack.config import Config


def track_sequence(tracker, seq) -> np.ndarray:
    """Boxes (N,4) of the OPE protocol: frame 0 = init GT, then one tracked box per frame."""
    boxes = [np.asarray(seq.boxes[0], dtype=np.float64)]
    tracker.initialize(seq.frame(0), seq.boxes[0])
    for i in range(1, len(seq)):
        box, _ = tracker.track(seq.frame(i))
        boxes.append(np.asarray(box, dtype=np.float64))
    return np.stack(boxes)


def validation_auc(model, cfg: Config, val_root: str | Path, max_sequences: int = 8) -> float:
    """Success AUC (OSTrack protocol, 0..1) of `model` on the first sequences of a GOT-10k-layout folder."""
    from droptrack.data import get_sequences
    from droptrack.engine.torch_backend import TorchBackend
    from droptrack.eval.metrics import ope_metrics
    from droptrack.runtime.tracker import Tracker

    seqs = get_sequences("synth", root=val_root)[:max_sequences]
    net = copy.deepcopy(model).cpu().eval()
    tracker = Tracker(TorchBackend(net, cfg))
    with torch.inference_mode():
        preds = [track_sequence(tracker, s) for s in seqs]
    res = ope_metrics(preds, [s.boxes for s in seqs], tag="generic")
    return float(res.auc) / (100.0 if res.auc > 1.0 else 1.0)
