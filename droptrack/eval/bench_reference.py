"""Parity of `dt bench` rows with their PyTorch FP32 reference: finding the reference, box IoU, delta AUC.

The reference of a checkpoint is itself; an ONNX graph or engine records the sha256 of the checkpoint it was
exported from (ArtifactMeta.checkpoint_sha256), looked up among the bench's checkpoints, next to the file (and in
its parent folder) and as the embedded default model; then a model.safetensors `dt export --safetensors` converted
from that checkpoint (its metadata names it: the same weights); `--reference` overrides all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.artifact import CHECKPOINT_SUFFIXES, sha256_file
from droptrack.errors import DropTrackError, InputError
from droptrack.eval.bench_gates import DeltaCI, paired_bootstrap_ci
from droptrack.geometry import box_iou
from droptrack.wording import counted

DIVERGENCE_IOU = 0.5


@dataclass
class Parity:
    """An artifact against its PyTorch reference on the same frames (init frames excluded)."""

    reference: str
    reference_sha256: str
    delta_auc_points: float | None
    mean_iou: float | None
    divergence: float | None
    frames: int
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)
    ci: DeltaCI | None = None            # paired bootstrap interval of delta_auc_points over sequences
    divergence_on_target: float | None = None   # among the frames where the reference is on the ground truth
    frames_on_target: int = 0                   # (IoU >= 0.5); None without ground truth


@dataclass
class Reference:
    """A PyTorch FP32 reference tracker: a checkpoint, run once (or the row that is this checkpoint)."""

    artifact: str
    sha256: str
    name: str = "reference"
    source_sha256: str = ""              # a dt export .safetensors: the checkpoint it was converted from
    row: Any = None                      # the BenchRow that is this checkpoint, if any
    result: Any = None
    boxes: dict[str, np.ndarray] | None = None
    accuracy: dict[str, float | None] = field(default_factory=dict)
    seq_auc: dict[str, float] = field(default_factory=dict)
    noise_floor: Any = None              # eval.noise_floor.NoiseFloor with --noise-floor


def exported_from(path: str | Path) -> str:
    """The sha256 of the checkpoint a `dt export --safetensors` file was converted from, as its metadata records it
    ('' for any other file, or one that records none); only the file's header is read."""
    import json

    if not str(path).lower().endswith(".safetensors"):
        return ""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            info = json.loads((f.metadata() or {}).get("meta", "{}"))
    except Exception:  # noqa: BLE001 - unreadable or not ours: it records nothing
        return ""
    sha = info.get("checkpoint_sha256") if isinstance(info, dict) else None
    return sha if isinstance(sha, str) else ""


def beside(row: Any) -> list[Path]:
    """The checkpoint files next to a row's artifact and in that folder's parent, where its checkpoint is looked for."""
    folder = Path(row.artifact).resolve().parent
    return [p for d in (folder, folder.parent) if d.is_dir() for p in sorted(d.iterdir())
            if p.is_file() and p.name.lower().endswith(CHECKPOINT_SUFFIXES)]


def find_checkpoint(sha: str, row: Any, rows: list[Any]) -> str | None:
    """A checkpoint with this sha256: among the rows, next to the artifact (and its parent), or the embedded one;
    else a .safetensors converted from it (`exported_from`) among the rows or next to the artifact."""
    for r in rows:
        if r.format == "torch" and r.sha256 == sha:
            return r.artifact
    candidates = beside(row)
    try:
        from droptrack.model.default import default_checkpoint

        candidates.append(default_checkpoint())
    except DropTrackError:
        pass
    found = next((str(p) for p in candidates if sha256_file(p) == sha), None)
    converted = [r.artifact for r in rows if r.format == "torch" and r.ok] + [str(p) for p in candidates]
    return found or next((p for p in converted if exported_from(p) == sha), None)


def checked_reference(path: str, opts: Any) -> Reference:
    """--reference: an existing PyTorch checkpoint that loads (one-line errors otherwise)."""
    from droptrack.eval.bench_options import check_reference_file
    from droptrack.runtime.tracker import load_backend

    p = Path(path)
    check_reference_file(path)
    log = logging.getLogger("droptrack")
    level = log.level
    log.setLevel(logging.ERROR)   # its notes (an official file's inferred config) come with the row's own load
    try:
        load_backend(path, opts.config, opts.device, trust=opts.trust_for(path)).close()
    except DropTrackError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"--reference {path} cannot be loaded: {first}") from None
    finally:
        log.setLevel(level)
    return Reference(str(p), sha256_file(p), source_sha256=exported_from(p))


def not_found(sha: str, row: Any) -> str:
    """Why no reference was found for a row: its metadata records only the checkpoint's sha256, and no file of that
    content is where it was looked for (moved, deleted or changed since the export); checkpoints found there are named,
    as none is it."""
    others = [p.name for p in beside(row)]
    shown = (f"; {', '.join(repr(n) for n in others[:2])}{f' and {len(others) - 2} more' if len(others) > 2 else ''} "
             f"there {'is' if len(others) == 1 else 'are'} not it (another sha256: changed since the export, or "
             "another model)") if others else ""
    return (f"cannot find the checkpoint {Path(row.artifact).name} was exported from (sha256 {sha[:12]}..., looked "
            "among the artifacts, next to the file, in its parent folder and at the embedded model): moved, deleted or "
            f"changed since the export{shown}; pass it as --reference CHECKPOINT")


def check_found(path: str, row: Any, opts: Any) -> None:
    """A reference found by sha256 that needs --trust-checkpoint, refused before any work (one line, exit 2): it
    failed every row compared with it only after the data was made and the rows tracked (exit 1)."""
    from droptrack.model.safe_pickle import UntrustedCheckpoint, check_trusted

    try:
        check_trusted(path, opts.trust_for(path))
    except UntrustedCheckpoint as exc:
        raise UntrustedCheckpoint(f"the reference of {Path(row.artifact).name} (the checkpoint it was exported from, "
                                  f"found by its sha256): {exc}") from None


def resolve_references(rows: list[Any], opts: Any, fixed: Reference | None = None) -> list[Reference]:
    """Attach each loaded row to its PyTorch FP32 reference; one-line error when one cannot be found. `fixed`: the
    --reference already loaded (checked_reference), else it is loaded here."""
    refs: dict[str, Reference] = {}
    if fixed is None and opts.reference:
        fixed = checked_reference(opts.reference, opts)
    for row in (r for r in rows if r.ok):
        if fixed is not None:
            ref = refs.setdefault(fixed.sha256, fixed)
        else:
            sha = row.checkpoint_sha256
            if not sha:
                raise InputError(f"{row.artifact} does not record the checkpoint it was exported from; pass "
                                 "--reference CHECKPOINT")
            path = find_checkpoint(sha, row, rows)
            if path is None:
                raise InputError(not_found(sha, row))
            if sha not in refs and not any(r.artifact == path for r in rows):   # loaded only as the reference
                check_found(path, row, opts)
            ref = refs.setdefault(sha, Reference(path, sha) if exported_from(path) != sha else
                                  Reference(path, sha256_file(path), source_sha256=sha))
        if ref.row is None and row.format == "torch" and row.sha256 == ref.sha256:
            ref.row = row
        row.reference = ref
    from droptrack.eval.bench_options import unique_name

    names = {r.name for r in rows}
    for i, ref in enumerate(refs.values()):
        if ref.row is not None:
            ref.name = ref.row.name
        else:
            base = "reference" if len(refs) == 1 else f"reference_{i}"
            ref.name = base if base not in names else unique_name(f"{base}_ref", names)
        names.add(ref.name)
    return list(refs.values())


def mismatch_notes(rows: list[Any]) -> list[str]:
    """One note per ONNX/engine row compared with a --reference other than the checkpoint its metadata names (or a
    .safetensors dt export converted from it): its ΔAUC and divergence then measure two different models, not the
    export."""
    notes = []
    for row in rows:
        ref, sha = row.reference, row.checkpoint_sha256
        if ref is not None and sha and row.format != "torch" and sha not in (ref.sha256, ref.source_sha256):
            notes.append(f"{row.name}: exported from another checkpoint (sha256 {sha[:12]}...) than the reference "
                         f"{Path(ref.artifact).name} (sha256 {ref.sha256[:12]}...): its ΔAUC and divergence compare "
                         "two models, not the export; pass the checkpoint it was exported from as --reference, or "
                         "drop --reference")
    return notes


def track_ious(boxes: dict[str, np.ndarray], ref_boxes: dict[str, np.ndarray], seqs: list[Any],
               truth: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per sequence, the IoU of each tracked frame's box with the reference's (init frame excluded), both truncated
    to whole pixels as the result files hold them; with `truth` (the sequences' boxes are ground truth), also the
    IoUs of the frames where the reference is on the target (IoU >= 0.5 with the ground truth), pooled."""
    per, on_target = {}, []
    for s in seqs:
        ref = np.trunc(ref_boxes[s.name][1:])
        iou = box_iou(np.trunc(boxes[s.name][1:]), ref)
        per[s.name] = iou
        if truth:
            gt = np.asarray(s.boxes, np.float64)[1:len(ref) + 1]
            on = np.nan_to_num(box_iou(ref[:len(gt)], gt), nan=0.0) >= DIVERGENCE_IOU
            on_target.append(iou[:len(gt)][on])
    return per, (np.concatenate(on_target) if on_target else np.zeros(0))


def parity(row: Any, ref: Reference, seqs: list[Any], truth: bool = False) -> Parity:
    """Delta AUC (points) with its paired bootstrap interval, mean IoU and divergence (IoU < 0.5) of a row's boxes
    against its reference's, both as the result files hold them (whole pixels, truncated as pytracking writes
    them): a resumed sequence's boxes are read back from those files, so the numbers do not depend on where an
    interrupted bench stopped. With `truth` (the sequences' boxes are ground truth, not the reference's), also the
    divergence among the frames where the reference is on the target: where it has lost the target too, two lost
    tracks part on any perturbation, and that is the loop, not the artifact."""
    per_seq, on = track_ious(row.boxes, ref.boxes, seqs, truth)
    per = {name: {"mean_iou": float(iou.mean()) if iou.size else None,
                  "divergence": float((iou < DIVERGENCE_IOU).mean()) if iou.size else None,
                  "frames": int(iou.size)} for name, iou in per_seq.items()}
    ious = np.concatenate(list(per_seq.values())) if per_seq else np.zeros(0)
    a, b = row.accuracy.get("auc"), ref.accuracy.get("auc")
    delta = 100.0 * (a - b) if a is not None and b is not None else None
    names = [s.name for s in seqs if s.name in row.seq_auc and s.name in ref.seq_auc]
    ci = None
    if names:
        ci = paired_bootstrap_ci(100.0 * np.array([row.seq_auc[n] for n in names]),
                                 100.0 * np.array([ref.seq_auc[n] for n in names]))
        for n in names:
            per[n]["delta_auc_points"] = 100.0 * (row.seq_auc[n] - ref.seq_auc[n])
    return Parity(ref.artifact, ref.sha256, delta, float(ious.mean()) if ious.size else None,
                  float((ious < DIVERGENCE_IOU).mean()) if ious.size else None, int(ious.size), per, ci,
                  float((on < DIVERGENCE_IOU).mean()) if on.size else None, int(on.size))


def _in_effect(ext: Any) -> dict[str, Any]:
    """The settings of a TrackerExt that act: each switched-on extension's keys (a threshold of an extension that
    is off changes nothing tracked: the anchor's keys without ANCHOR_SCALE or ANCHOR_NCC, GRID_WINDOW without
    CROP_GRID, e.g. a model's anchor turned off by --official)."""
    from droptrack.runtime.anchor import anchored
    from droptrack.runtime.ext_overrides import DEPENDS_ON, KEYS

    def acts(key: str) -> bool:
        switch = DEPENDS_ON.get(key, key)
        return anchored(ext) if key.startswith("ANCHOR_") else getattr(ext, switch.lower()) is not None

    return {k: getattr(ext, a) for k, (a, _) in KEYS.items() if acts(k)}


def check_settings(rows: list[Any], refs: list[Reference], opts: Any) -> None:
    """A row that tracks with other extension settings than its reference (its own TEST keys, e.g. an ONNX graph
    exported with another --config, the bench's options over both) is refused before any work, in one line: every
    frame where the settings act diverges, so its gates failed after the whole bench had run, measuring the
    settings, not the export."""
    from droptrack.runtime.ext_overrides import merge_overrides
    from droptrack.runtime.start_notes import artifact_meta

    own: dict[str, Any] = {}
    for ref in refs:
        try:
            meta = ref.row.meta if ref.row is not None else artifact_meta(ref.artifact, opts.config_for(ref.artifact),
                                                                         opts.trust_for(ref.artifact))
        except DropTrackError:   # loading it says what is wrong, in its rows
            continue
        own[ref.artifact] = merge_overrides(meta.tracker or {}, opts.ext)
    clash = []
    for row in rows:
        ref = row.reference
        if row.ok and row.meta is not None and ref is not None and ref.row is not row and ref.artifact in own:
            mine = merge_overrides(row.meta.tracker or {}, opts.ext)
            if _in_effect(mine) != _in_effect(own[ref.artifact]):
                clash.append((row, mine.describe(), own[ref.artifact]))
    if not clash:
        return
    row, mine, ref_ext = clash[0]
    more = f" (and {counted(len(clash) - 1, 'other row')})" if len(clash) > 1 else ""
    raise InputError(f"row {row.name} ({row.artifact}) tracks with '{mine}' but its reference "
                     f"{row.reference.artifact} with '{ref_ext.describe()}'{more}: ΔAUC and "
                     "divergence would measure the settings, not the export; pass the --config it was exported with "
                     "(the checkpoints' TEST keys), or --official or the same extension options for every row")
