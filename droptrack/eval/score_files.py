"""Read one sequence's result files from a tracker folder and score it under the chosen toolkit's rules.

Where a result file's row count differs from the ground truth, each toolkit has its own rule, applied here and
stated in the note (or error) that `dt analyze` prints:
* more rows: OSTrack/pytracking and the TrackingNet devkit ignore the extra ones (LaSOT monkey-17);
* fewer rows: OSTrack/pytracking pad with zero boxes, which score as misses (IoU 0, centre far off), except on
  LaSOT (tag 'lasot'), where they refuse the file; the TrackingNet devkit reads the missing rows as NaN, which pass
  no threshold and lower the coverage;
* the GOT-10k toolkit asserts one row per frame either way;
* except: a file with one row per image from image 1 of a sequence whose frames start later (OTB Tiger1: 354 rows, as
  the GOT-10k and OTB toolkits write it, for pytracking's 349 frames from image 6) drops those first rows, so that
  each box meets its own image's ground truth (cutting the last rows would pair every box with the image 5 later).
A missing result file is an error (the sequence is left out, as pytracking's skip_missing_seq does), except under the
TrackingNet devkit, which scores it as an all-zero submission: every frame after the first a miss, coverage lowered.
"""

from __future__ import annotations

import glob

from pathlib import Path
from typing import Any

import numpy as np

from droptrack.errors import DatasetError, InputError
from droptrack.eval import metrics as M
from droptrack.eval.results import find_result, find_times, read_result, read_times
from droptrack.wording import counted

TOOLKITS = {"ostrack-ope": "OSTrack's analysis", "pytracking-ope": "pytracking's analysis",
            "got10k-toolkit": "the GOT-10k toolkit", "trackingnet-devkit": "the TrackingNet devkit"}
# A benchmark's own scoring, and the datasets it fits: GOT-10k's (and synth's, a set in its layout), TrackingNet's, and
# one's own footage, which has no toolkit; the OPE analyses fit every dataset
OWN_SCORES = {"got10k-toolkit": ("GOT-10k's AO and SR", ("got10k", "synth", "folder", "video")),
              "trackingnet-devkit": ("TrackingNet's success, precision and coverage",
                                     ("trackingnet", "folder", "video"))}


def check_protocol(protocol: str | None, tag: str, dataset: str) -> None:
    """A --protocol that scores another benchmark (the GOT-10k toolkit's AO on OTB, LaSOT, UAV123, ...) is refused
    in one line naming the dataset's own: its numbers would be no benchmark's (the GOT-10k toolkit's own OTB and LaSOT
    experiments report the OPE success and precision), and OTB without images failed on a missing frame."""
    if protocol not in OWN_SCORES or tag in OWN_SCORES[protocol][1]:
        return
    from droptrack.eval.metrics import protocol_for_tag

    own = protocol_for_tag(tag)
    other = " or ".join(p for p in ("ostrack-ope", "pytracking-ope") if p != own)
    raise InputError(f"--protocol {protocol} computes {OWN_SCORES[protocol][0]} ({TOOLKITS[protocol]}), not "
                     f"{dataset}'s scores; drop --protocol for {dataset}'s own {own} ({TOOLKITS[own]}), or pass "
                     f"--protocol {other}")


def has_gt(seq: Any) -> bool:
    """Ground truth after the first frame (test splits of GOT-10k and TrackingNet publish only the init box)."""
    boxes = np.asarray(seq.boxes, dtype=np.float64)
    return len(boxes) > 1 and bool(np.isfinite(boxes[1:]).all(axis=1).any())


def row_count_note(path: Path, rows: int, n: int, protocol: str, tag: str) -> str | None:
    """How the toolkit treats `rows` result rows for `n` frames: None (equal), a note (scored), or InputError."""
    if rows == n:
        return None
    toolkit = TOOLKITS[protocol]
    refused = protocol == "got10k-toolkit" or (rows < n and protocol.endswith("-ope") and tag == "lasot")
    if refused:
        why = "requires one row per frame" if protocol == "got10k-toolkit" else "refuses a short LaSOT result"
        raise InputError(f"{path}: {counted(rows, 'row')} for a sequence of {counted(n, 'frame')} ({toolkit} "
                         f"{why}); the tracker stopped early or ran on another sequence; re-run it on this sequence")
    if rows > n:
        extra = "the last row is" if rows - n == 1 else f"the last {rows - n} are"
        return f"{path}: {counted(rows, 'row')} for {counted(n, 'frame')}; {extra} ignored, as {toolkit} does"
    how = ("NaN rows: they pass no threshold and lower the coverage" if protocol == "trackingnet-devkit"
           else "zero boxes: IoU 0, centre far off")
    missing = "the missing frame is scored as a miss" if n - rows == 1 else \
        f"the missing {n - rows} frames are scored as misses"
    return f"{path}: {counted(rows, 'row')} for {counted(n, 'frame')}; {missing} ({how}), as {toolkit} does"


def images_before_note(path: Path, rows: int, seq: Any) -> str | None:
    """A result with one row per image from the folder's first where the benchmark's frames start later (OTB Tiger1:
    354 rows, as the GOT-10k and OTB toolkits track it from image 1, for OSTrack/pytracking's 349 from image 6;
    David from image 1 for its 471 from image 300) starts that many rows early: the note on dropping them, or None
    for any other file. OSTrack's analysis cuts the last rows instead, pairing every box with a later image's truth."""
    before, n = int(getattr(seq, "images_before", 0) or 0), len(seq.boxes)
    if not before or rows != n + before:
        return None
    return (f"{path}: {counted(rows, 'row')} for {counted(n, 'frame')}, one per image from image 1, and "
            f"{seq.name}'s frames start at image {before + 1}; its first {before} rows are dropped so that each box is "
            f"scored against its own image (the tracker started {before} images earlier; OSTrack's analysis would "
            f"cut the last {before}, misaligning every box)")


def _read_times(result_file: Path, seq: str, dataset: str | None) -> np.ndarray | str | None:
    """The sequence's times, None without a time file, or why a damaged one could not be read (it costs the FPS
    of this sequence, not its scores)."""
    times_file = find_times(result_file, seq, dataset)
    try:
        return read_times(times_file) if times_file is not None else None
    except InputError as exc:
        return str(exc)


def score_sequence(result_dir: Path, seq: Any, protocol: str,
                   tag: str) -> tuple[Any, np.ndarray | str | None, str | None]:
    """Read one sequence's result file(s) and score it; returns (per-sequence object, times or why the time file
    could not be read, a note on how the file was read or None)."""
    if not has_gt(seq):
        why = "it has one frame" if len(seq.boxes) < 2 else "a test split publishes only the first box"
        raise DatasetError(f"{seq.name} has no ground truth after the first frame ({why}); it cannot be scored here")
    dataset = getattr(seq, "dataset", None)
    files = find_result(result_dir, seq.name, dataset)
    if not files and protocol == "trackingnet-devkit":   # the devkit scores a missing file, it does not skip it
        return M.trackingnet_sequence(None, seq.boxes, seq.name), None, (
            f"no result file for {seq.name} in {result_dir}; scored as an all-zero submission (every frame after "
            "the first a miss, coverage lowered), as the TrackingNet devkit does")
    if not files:
        raise InputError(f"no result file for {seq.name} in {result_dir} (looked for {seq.name}.txt and "
                         f"{seq.name}/{seq.name}_001.txt); run the tracker on this sequence")
    _check_not_annotation(files, seq)
    n = len(seq.boxes)
    times = _read_times(files[0], seq.name, dataset)
    chosen = choice_note(files, protocol)
    if protocol == "got10k-toolkit":   # a NaN box is scored as the toolkit scores it (got10k_sequence)
        reps = [read_result(f, extra_rows=True, allow_nan=True) for f in files]
        notes = [images_before_note(f, len(r), seq) for f, r in zip(files, reps)]
        cut = [len(r) - n if o else 0 for r, o in zip(reps, notes)]
        reps = [r[c:] for r, c in zip(reps, cut)]
        for f, r in zip(files, reps):
            row_count_note(f, len(r), n, protocol, tag)
            _check_corners(f, r, seq.boxes)
        cover = cover_labels(seq, tag)
        scored = M.got10k_sequence(reps, seq.boxes, cover, getattr(seq, "image_size", None), seq.name)
        nan = M.nan_box_frame(reps, cover)
        if nan is not None:
            rep, frame = nan
            notes.append(f"{files[rep - 1]}:{frame + 1 + cut[rep - 1]}: NaN box on frame {frame}, which the GOT-10k "
                         "toolkit scores: its IoU is NaN, which makes this sequence's AO and the overall AO NaN (null "
                         "in report.json) and fails every SR threshold, as the toolkit does")
        return scored, times, "; ".join(o for o in [chosen, *notes] if o) or None
    # the devkit scores a NaN row as a miss; OSTrack/pytracking refuse it
    pred = read_result(files[0], allow_nan=protocol == "trackingnet-devkit")
    note = images_before_note(files[0], len(pred), seq)
    cut = len(pred) - n if note is not None else 0
    pred = pred[cut:]
    negative = np.flatnonzero((pred[:, 2:] < 0.0).any(1))
    if len(negative) and protocol != "trackingnet-devkit":   # named by file and line, as a NaN box is
        raise InputError(f"{files[0]}:{negative[0] + 1 + cut}: negative width/height in the box (OSTrack/pytracking "
                         "reject such results); fix the tracker output and re-run this sequence")
    note = "; ".join(o for o in (chosen, note or row_count_note(files[0], len(pred), n, protocol, tag)) if o) or None
    _check_corners(files[0], pred, seq.boxes)
    if protocol == "trackingnet-devkit":
        return M.trackingnet_sequence(pred, seq.boxes, seq.name), times, note
    validity = "pytracking" if protocol == "pytracking-ope" else "ostrack"
    return M.ope_sequence(pred, seq.boxes, tag, ope_visible(seq), seq.name, validity), times, note


def choice_note(files: list[Path], protocol: str) -> str | None:
    """A note where a sequence's result files were not all read: one-pass protocols score the first of several
    GOT-10k repetitions, and a `<seq>.txt` wins over a `<seq>/` folder of repetitions beside it (both went unsaid)."""
    if len(files) > 1 and protocol != "got10k-toolkit":
        return (f"{files[0]} scored, the first of {len(files)} repetitions: {protocol} scores one run (the others are "
                "left out; --protocol got10k-toolkit pools them)")
    name = files[0].stem
    beside = sorted((files[0].parent / name).glob(f"{glob.escape(name)}_[0-9]*.txt")) if len(files) == 1 else []
    if beside and files[0].name == f"{name}.txt":
        return (f"{files[0]} scored; the {counted(len(beside), 'repetition file')} in {files[0].parent / name} beside "
                "it were left out (move one of the two away)")
    return None


def _check_not_annotation(files: list[Path], seq: Any) -> None:
    """InputError for a result file that is the sequence's own box file (a folder of videos with their CLIP.txt, or
    UAV123's, NfS's or TrackingNet's anno/ folder, passed as a result folder): its ground truth scored against itself
    gave a perfect score (AUC 95.24) as if a tracker had made it."""
    gt_file = getattr(seq, "annotation", None)
    for f in files if gt_file is not None else ():
        try:
            same = f.samefile(gt_file)
        except OSError:
            same = False
        if same:
            raise InputError(f"{f} is the ground-truth file of {seq.name} (the dataset's own box file), not a "
                             "tracker's result; pass the folder holding the tracker's <sequence>.txt files as "
                             "RESULT_DIR")


def cover_labels(seq: Any, tag: str) -> np.ndarray | None:
    """The cover labels the GOT-10k toolkit reads: the sequence's own; one's own footage without a cover.label (the
    folder, video and synth readers), whose NaN,NaN,NaN,NaN or 0,0,0,0 rows mark an absent target (README), has those
    frames at cover 0, not scored, as GOT-10k labels an absent target (a NaN row made the sequence refused, as its AO
    would be NaN; a 0,0,0,0 row a miss whatever the tracker reported)."""
    cover = getattr(seq, "cover", None)
    if cover is not None or tag not in ("synth", "folder", "video"):
        return cover
    boxes = np.asarray(seq.boxes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        absent = np.isnan(boxes).any(axis=1) | (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    return np.where(absent, 0, 1) if absent.any() else None


def _check_corners(path: Path, pred: np.ndarray, gt: np.ndarray) -> None:
    """InputError for a result file whose rows follow the ground truth only read as corners x1,y1,x2,y2
    (box_convention.result_problem): scored as x,y,w,h its numbers would mean nothing."""
    from droptrack.data.box_convention import result_problem

    problem = result_problem(path, pred, gt)
    if problem:
        raise InputError(problem)


def ope_visible(seq: Any) -> np.ndarray | None:
    """Visibility flags for the OPE path: the dataset's own, except GOT-10k's absence/cover labels, which
    pytracking/OSTrack's GOT-10k loader does not read (no target_visible: every frame with w, h > 0 is scored)."""
    if str(getattr(seq, "dataset", "")).startswith("got10k"):
        return None
    return getattr(seq, "visible", None)


def got10k_refusal(seq: Any, cover: np.ndarray | None) -> str:
    """Why the GOT-10k toolkit's report refuses `seq`'s ground truth with these cover labels (a NaN box on a frame
    they say is in view: its AO would be NaN), or ''; dt eval and dt train --val-data refuse such a sequence."""
    gt = np.asarray(seq.boxes, dtype=np.float64)
    try:
        M.got10k_sequence(np.zeros_like(gt), gt, cover, None, seq.name)   # as the report refuses
    except DatasetError as exc:
        return str(exc)
    return ""


def check_got10k_rows(sequences: list[Any], tag: str) -> None:
    """DatasetError, before any work, naming the sequences whose ground truth the GOT-10k toolkit's report refuses
    (`got10k_refusal`), where dt eval writes that report (got10k*, and synth beside its own): the report then left
    them out, and when none was left the whole run failed after every sequence was tracked, report.json unwritten."""
    from droptrack.data.sequence import has_gt

    if not (tag == "synth" or tag.startswith("got10k")):
        return
    bad = [why for seq in sequences if has_gt(seq) and (why := got10k_refusal(seq, cover_labels(seq, tag)))]
    if bad:   # has_gt: a test split's sequence is not scored
        more = f" (and {counted(len(bad) - 1, 'other sequence')} alike)" if len(bad) > 1 else ""
        raise DatasetError(f"{bad[0]}{more}; or leave {'it' if len(bad) == 1 else 'them'} out with --sequences "
                           "(the names to track)")


def check_nan_gt_rows(sequences: list[Any], tag: str, protocol: str | None = None) -> None:
    """DatasetError, before any work, naming the first sequence (and row) with a NaN ground-truth box where the
    scoring toolkit refuses one: OSTrack's and pytracking's analysis raise "NaNs in annotation" on every set but
    UAV123 (metrics.md 3.1; LaSOT, OTB, NfS, TNL2K, ...), while UAV123 and one's own footage (folder, video, synth)
    mark an absent target so. dt eval found it only when scoring, after tracking; dt analyze scored the others."""
    if protocol is None and tag not in M.OPE_TAGS:   # no scoring rule for it: refused where it is scored
        return
    protocol = protocol or M.protocol_for_tag(tag)
    if not protocol.endswith("-ope") or tag in M.NAN_GT_TAGS:   # GOT-10k: check_got10k_rows; the devkit: a miss
        return
    bad = []
    for seq in sequences:
        rows = np.flatnonzero(np.isnan(np.asarray(seq.boxes, dtype=np.float64)).any(axis=1))
        if len(rows) and has_gt(seq):   # a test split's sequence is not scored
            bad.append((seq.name, int(rows[0])))
    if bad:
        name, row = bad[0]
        more = f" (and {counted(len(bad) - 1, 'other sequence')} alike)" if len(bad) > 1 else ""
        raise DatasetError(f"{name}: ground-truth row {row} (frame {row}, from 0) has NaN{more}, which "
                           f"{TOOLKITS[protocol]} refuses on {tag} (\"NaNs in annotation\"; only UAV123 and one's own "
                           "footage mark an absent target so); restore that row from the dataset's archive, or leave "
                           f"{'it' if len(bad) == 1 else 'them'} out with --sequences")


def check_infinite_gt_rows(sequences: list[Any]) -> None:
    """DatasetError, before any work, naming the first sequence and row whose ground-truth box holds an infinite value
    (`inf`, or a number beyond float range such as 1e400): no benchmark marks anything so (an absent target is NaN or
    0,0,0,0), and the toolkits' IoU of it is NaN, so dt eval failed only after tracking, amid numpy warnings."""
    bad = []
    for seq in sequences:
        rows = np.flatnonzero(np.isinf(np.asarray(seq.boxes, dtype=np.float64)).any(axis=1))
        if len(rows):
            bad.append((seq.name, int(rows[0])))
    if bad:
        name, row = bad[0]
        more = f" (and {counted(len(bad) - 1, 'other sequence')} alike)" if len(bad) > 1 else ""
        raise DatasetError(f"{name}: ground-truth row {row} (frame {row}, from 0) has an infinite value{more}, which "
                           "no benchmark's toolkit can score; restore that row from the dataset's archive (or write "
                           f"NaN,NaN,NaN,NaN there for an absent target where the dataset allows it), or leave "
                           f"{'it' if len(bad) == 1 else 'them'} out with --sequences")


def check_first_boxes(sequences: list[Any]) -> None:
    """DatasetError, before any work, naming the first sequence whose frame-0 ground-truth box cannot start a tracker
    (NaN, or no area): every tracker starts there, so the run failed only once the others were tracked."""
    bad = []
    for seq in sequences:
        box = np.asarray(seq.boxes, dtype=np.float64)[0]
        if not np.isfinite(box).all():
            bad.append((seq.name, "is not finite"))
        elif box[2] <= 0 or box[3] <= 0:
            bad.append((seq.name, "has zero or negative size"))
    if bad:
        (name, why), more = bad[0], f" (and {counted(len(bad) - 1, 'other sequence')} alike)" if len(bad) > 1 else ""
        raise DatasetError(f"{name}: the first ground-truth box (row 0) {why}{more}, and every tracker starts from "
                           "it; fix the first line of the annotation file, or leave "
                           f"{'it' if len(bad) == 1 else 'them'} out with --sequences")
