"""Validation during training: success AUC of the in-training model tracking held-out sequences."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from droptrack.config import Config


def validation_auc(model, cfg: Config, val_root: str | Path, max_sequences: int = 8) -> float:
    """Success AUC (OSTrack protocol, 0..1) of `model` on the first sequences of a GOT-10k-layout folder."""
    from droptrack.data import get_sequences
    from droptrack.engine.torch_backend import TorchBackend
    from droptrack.eval.metrics import ope_metrics
    from droptrack.eval.workers import track_sequence
    from droptrack.runtime.tracker import Tracker

    seqs = get_sequences("synth", root=val_root)[:max_sequences]
    tracker = Tracker(TorchBackend(copy.deepcopy(model), cfg))
    with torch.inference_mode():
        preds = [track_sequence(tracker, s).boxes for s in seqs]
    res = ope_metrics(preds, [s.boxes for s in seqs], tag="generic")
    return float(res.auc)
