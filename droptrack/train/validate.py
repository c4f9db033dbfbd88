"""Validation during training: success AUC of the in-training model tracking held-out sequences."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from droptrack.config import Config
from droptrack.errors import DatasetError, InputError, TrainingError


def val_dataset(val_root: str | Path) -> str:
    """The dt eval dataset that reads --val-data as validation does: 'video' for a video file or a folder of videos
    with their boxes (clip.mp4 + clip.txt), else 'synth' (GOT-10k's layout: a root holding val/ gives val/, a split
    folder itself, list.txt or not)."""
    from droptrack.data.folder import holds_videos
    from droptrack.imagefiles import holds_sequences

    root = Path(val_root)
    videos = root.is_file() or (root.is_dir() and holds_videos(root) and not holds_sequences(root))
    return "video" if videos else "synth"


def val_sequences(val_root: str | Path, max_sequences: int = 8, note: list[str] | None = None) -> list:
    """The first annotated sequences of a GOT-10k-layout folder (a GOT-10k val split or a `dt data synth` set);
    checked before training, so a wrong folder fails now and not after the first epoch. With `note`, a line saying
    that the folder holds more than `max_sequences` is appended there (its AUC is then not dt eval's of the folder)."""
    from droptrack.data import get_sequences
    from droptrack.data.sequence import has_gt

    dataset = val_dataset(val_root)   # scans the folder: once
    seqs = [s for s in get_sequences(dataset, root=val_root) if has_gt(s)]
    if dataset == "synth":
        _check_got10k_scorable(seqs, val_root)
    if len(seqs) > max_sequences and note is not None:
        note.append(f"note: validation tracks the first {max_sequences} of the {len(seqs)} annotated sequences in "
                    f"--val-data '{val_root}' (dt eval scores them all)")
    seqs = seqs[:max_sequences]
    if not seqs:
        raise InputError(f"--val-data '{val_root}' has no annotated sequences; pass a GOT-10k-layout folder (list.txt, "
                         "<seq>/groundtruth.txt): a GOT-10k val split, one's own held-out footage or a `dt data synth "
                         "--split val` set, or videos with their boxes (clip.mp4 + clip.txt)")
    return seqs


def _spot(seq) -> Path | None:
    """A sequence's video, or its frames' folder, as read (None: neither)."""
    if seq.video is not None:
        return Path(seq.video)
    return Path(seq.frames[0]).parent if seq.frames is not None and len(seq.frames) else None


def trained_on_note(val: list, datasets: list[list], val_root: str | Path) -> str | None:
    """A warning when --val-data tracks sequences the run trains on (the same folders: --val-data the --data root):
    their AUC reads as a held-out score and is not one; None when none is shared. (Only training sequences named as
    a validation one's folder are resolved: a large training set costs no file system calls.)"""
    import os

    at = {os.path.realpath(p): seq.name for seq in val if (p := _spot(seq)) is not None}
    names = {Path(p).name for p in at}
    trained = {os.path.realpath(p) for d in datasets for seq in d
               if (p := _spot(seq)) is not None and p.name in names}
    shared = [name for p, name in at.items() if p in trained]
    if not shared:
        return None
    listed = ", ".join(shared[:3]) + (", ..." if len(shared) > 3 else "")
    return (f"warning: --val-data '{val_root}': {len(shared)} of the {len(val)} sequence(s) it tracks are trained on "
            f"({listed}), so its validation AUC is no held-out score; pass a folder of other sequences")


def _check_got10k_scorable(seqs: list, val_root: str | Path) -> None:
    """InputError for a sequence that `dt eval --dataset synth` refuses (it scores the GOT-10k toolkit's report too):
    a NaN box on a frame its cover.label says is in view, whose AO would be NaN; the suggested dt eval then failed."""
    from droptrack.eval.score_files import cover_labels, got10k_refusal

    for seq in seqs:
        cover = cover_labels(seq, "synth")
        why = got10k_refusal(seq, cover) if cover is not None else ""
        if why:
            raise InputError(f"--val-data '{val_root}': {why} (dt eval refuses that sequence)")


def validation_auc(model, cfg: Config, val_root: str | Path, max_sequences: int = 8,
                   left_out: list[str] | None = None) -> float:
    """Success AUC (OSTrack protocol, 0..1, as `dt eval` scores it) of `model` on the first sequences of a
    GOT-10k-layout folder. With `left_out`, a sequence with a frame that cannot be read (corrupt, missing) is left
    out and its error appended there, so one bad file does not end a long run after an epoch (the same ones every
    epoch: AUCs stay comparable);
    TrainingError when none is left."""
    from droptrack.engine.torch_backend import TorchBackend
    from droptrack.eval.metrics import ope_metrics
    from droptrack.eval.score_files import ope_visible
    from droptrack.eval.workers import track_sequence
    from droptrack.runtime.tracker import Tracker

    seqs = val_sequences(val_root, max_sequences)
    tracker = Tracker(TorchBackend(copy.deepcopy(model), cfg))
    preds, truths, visible = [], [], []
    with torch.inference_mode():
        for seq in seqs:
            try:
                preds.append(track_sequence(tracker, seq).boxes)
            except DatasetError as exc:
                if left_out is None:
                    raise
                left_out.append(f"{seq.name} ({exc})")
                continue
            truths.append(seq.boxes)
            visible.append(ope_visible(seq))
    if not preds:
        raise TrainingError(f"validation: no sequence of --val-data '{val_root}' could be read (the first: "
                            f"{(left_out or ['?'])[0]}); repair the files or pass another --val-data")
    # scored as `dt eval` scores them, so the AUC in train.log is the one it reports for this model and folder: its
    # dataset tag ('synth' or 'video'), the boxes as the result files hold them (whole pixels, truncated toward zero
    # as pytracking writes them) and the sequences' visibility flags (an absent or occluded target's frame: a miss)
    return float(ope_metrics([np.trunc(np.asarray(p, dtype=np.float64)) for p in preds], truths,
                             tag=val_dataset(val_root), visible=visible).auc)
