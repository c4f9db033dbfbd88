"""Compare trackers' result folders against a dataset's ground truth: table, report.json and plots.

report.json, schema_version 1 (keys are stable; new keys may be added without a version bump):
    schema_version  int, 1
    dataset         str: the dataset name given to `dt analyze`
    tag             str: the sequences' dataset tag (it selects the per-dataset rules)
    protocol        str: 'ostrack-ope' | 'pytracking-ope' | 'got10k-toolkit' | 'trackingnet-devkit'
    fps_definition  str: how every tracker's fps is defined under the protocol (droptrack.eval.speed)
    score_units     'fraction': every score is in [0, 1] (tables print x100)
    n_sequences     int: sequences in the dataset
    sequences       [str]: sequences scored for every tracker; every average uses exactly these
    trackers        [{name, result_dir,
                      scores: {str: float|null}  (ope: auc, precision, norm_precision, op50, op75;
                                                  got10k: ao, sr50, sr75; trackingnet: success, precision,
                                                  norm_precision, precision_at_20px, coverage),
                      fps: float|null  (from the `_time.txt` files of the scored sequences, as fps_definition
                                        says: GOT-10k toolkit mean of 1/t over frames, else frames / seconds),
                      n_scored: int, errors: {sequence: message},
                      timing_errors: {sequence: message}  (damaged _time.txt: scored, but left out of fps),
                      fps_sequences: int  (scored sequences whose _time.txt makes the fps),
                      notes: {sequence: message}  (scored, e.g. extra result rows ignored as the toolkit does),
                      curves: {success|precision|norm_precision: {thresholds: [float], values: [float]}},
                      per_sequence: {sequence: {str: float|null}}  (the protocol's scores of one sequence;
                                                                   ope: also avg_overlap_valid_frames)}]
    plots           {success|precision|norm_precision|attributes: file name next to report.json}
    attributes      per-attribute scores (droptrack.eval.attributes): {source, keys, n_sequences_with_tags,
                    counts: {attribute: n}, scores: {attribute: {tracker: {auc|precision|...: float}}}, note}
    differences     [{sequence, <tracker 1>, <tracker 2>, diff}]: where the first two trackers differ most (tracker
                    names are unique and never 'sequence' or 'diff': one given twice, or one of those, gets '#<i>')
NaN and inf are written as null. A sequence that fails for any tracker (missing file, except under the TrackingNet
devkit, which scores it as an all-zero submission with a note; a row count its toolkit refuses, a NaN row, no
ground truth after frame 0, a dt eval result whose eval.json says it was tracked on other frames) is left out of
every tracker's averages, as pytracking's skip_missing_seq does, and listed in that tracker's errors. Row counts
follow the toolkit (droptrack.eval.score_files, the rule named in the note): rows past the ground truth are ignored
(OSTrack, TrackingNet devkit), missing rows score as misses (OSTrack zero boxes, except LaSOT: an error; devkit NaN
rows), GOT-10k needs one row per frame; the TrackingNet devkit scores a NaN row as a miss, the GOT-10k toolkit
ignores one on a frame it does not score and gives one on a frame it scores IoU NaN (AO null, a note; no SR hit);
an OTB file with one row per image from image 1 where the frames start later (the GOT-10k toolkit's Tiger1: 354 rows
for 349 frames from image 6) has those first rows dropped, with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from droptrack.errors import DropTrackError, InputError
from droptrack.eval import metrics as M
from droptrack.eval.result_dirs import check_result_dirs
from droptrack.eval.score_files import (check_got10k_rows, check_infinite_gt_rows, check_nan_gt_rows, check_protocol,
                                       has_gt, score_sequence)
from droptrack.eval.speed import fps_definition, tracker_fps

SCHEMA_VERSION = 1
PROTOCOLS = ("ostrack-ope", "pytracking-ope", "got10k-toolkit", "trackingnet-devkit")
# (table header, score key) per protocol; the first three name the success, precision and norm. precision plots
COLUMNS = {"ope": [("AUC", "auc"), ("P", "precision"), ("NP", "norm_precision"), ("OP50", "op50"), ("OP75", "op75")],
           "got10k-toolkit": [("AO", "ao"), ("SR0.5", "sr50"), ("SR0.75", "sr75")],
           "trackingnet-devkit": [("Success", "success"), ("Precision", "precision"), ("Norm P", "norm_precision"),
                                  ("P@20px", "precision_at_20px"), ("Coverage", "coverage")]}

LEGEND_TITLES = {(True, "precision"): "Precision @20 px", (True, "norm_precision"): "Norm. precision @0.2",
                 (False, "success"): "Success (area)", (False, "precision"): "Precision (area)",
                 (False, "norm_precision"): "Norm. precision (area)"}


@dataclass
class TrackerReport:
    """One tracker's scores over the common sequences, its per-sequence errors and speed."""

    name: str
    result_dir: str
    result: Any                      # OPEResult | GOT10kResult | TrackingNetResult
    errors: dict[str, str] = field(default_factory=dict)
    fps: float | None = None
    timing_errors: dict[str, str] = field(default_factory=dict)   # damaged _time.txt: scored, left out of fps
    notes: dict[str, str] = field(default_factory=dict)           # scored, with a remark (extra rows ignored)
    fps_sequences: int = 0                                        # scored sequences whose times make the fps

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (see the module docstring)."""
        curves = {k: {"thresholds": x.tolist(), "values": y.tolist()} for k, (x, y) in self.result.curves().items()}
        return {"name": self.name, "result_dir": self.result_dir, "scores": self.result.scores(), "fps": self.fps,
                "n_scored": len(self.result.names), "errors": self.errors,
                "timing_errors": self.timing_errors, "notes": self.notes, "fps_sequences": self.fps_sequences,
                "curves": curves,
                "per_sequence": self.result.per_sequence()}


@dataclass
class Report:
    """Result of analyze(): one TrackerReport per result folder, scored on the same sequences."""

    dataset: str
    tag: str
    protocol: str
    n_sequences: int
    sequences: list[str]
    trackers: list[TrackerReport]
    output_dir: Path | None = None
    plots: dict[str, str] = field(default_factory=dict)
    attributes: Any = None                   # droptrack.eval.attributes.AttributeReport
    differences: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with NaN/inf as None (the report.json schema)."""
        return json_safe({"schema_version": SCHEMA_VERSION, "dataset": self.dataset, "tag": self.tag,
                          "protocol": self.protocol, "fps_definition": fps_definition(self.protocol),
                          "score_units": "fraction", "n_sequences": self.n_sequences,
                          "sequences": self.sequences, "trackers": [t.to_dict() for t in self.trackers],
                          "plots": self.plots, "differences": self.differences,
                          "attributes": self.attributes.to_dict() if self.attributes is not None else None})


def json_safe(obj: Any) -> Any:
    """Recursively turn numpy scalars into Python ones and NaN/inf into None."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def protocol_columns(protocol: str) -> list[tuple[str, str]]:
    """Table columns (header, score key) of a protocol."""
    return COLUMNS["ope" if protocol.endswith("-ope") else protocol]


def _check_ground_truth(sequences: Sequence[Any], dataset: str) -> None:
    """Refuse a split without ground truth (it used to score every frame as a miss: TrackingNet test gave 20.0)."""
    if any(has_gt(q) for q in sequences):
        return
    zips = {"got10k": " (got10k_submit.zip)", "trackingnet": " (trackingnet_submit.zip)"}
    where = next((z for k, z in zips.items() if dataset.startswith(k)), "")
    which = "its only sequence has no" if len(sequences) == 1 else f"none of the {len(sequences)} sequences has"
    if dataset.strip().lower() in ("video", "folder"):   # one's own footage: no server, no submission, no split
        raise InputError(f"{dataset}: {which} ground truth after the first frame, so there is nothing to score the "
                         "tracked boxes against; add a box per frame to its box file (CLIP.txt beside a video, "
                         "groundtruth.txt in a frames folder; NaN,NaN,NaN,NaN where the target is absent) and run "
                         "dt analyze again")
    raise InputError(f"{dataset}: {which} ground truth after the first frame (a "
                     f"test split): score it on the benchmark's server with the submission dt eval wrote{where}, "
                     "or analyze a split with annotations (--split val or train)")


def _aggregate(protocol: str, seqs: list[Any], tag: str) -> Any:
    """Dataset-level result of the per-sequence objects under the protocol."""
    if protocol == "got10k-toolkit":
        return M.got10k_aggregate(seqs)
    if protocol == "trackingnet-devkit":
        return M.trackingnet_aggregate(seqs)
    return M.ope_aggregate(seqs, tag, "pytracking" if protocol == "pytracking-ope" else "ostrack")


def _names(result_dirs: Sequence[Path]) -> list[str]:
    """Display names: folder names, made unique with their parent folder or an index."""
    names = [p.name or str(p) for p in result_dirs]
    if len(set(names)) < len(names):
        names = [f"{p.parent.name}/{p.name}" for p in result_dirs]
    return names


RESERVED = ("sequence", "diff")   # the other keys of a `differences` row, whose tracker keys are the names


def _distinct(names: Sequence[str]) -> list[str]:
    """Each tracker's key in report.json, the tables and plots: a name given twice or that is a `differences` row's
    own key gets '#<position>' (two rows of one name collided: one tracker's scores overwrote the other's)."""
    out: list[str] = []
    for i, n in enumerate(names):
        if n in RESERVED or list(names).count(n) > 1:
            n = f"{n}#{i}"
        while n in out or n in names[i + 1:]:
            n += "'"
        out.append(n)
    return out


def _manifest(result_dir: Path) -> dict[str, Any]:
    """A dt eval folder's eval.json ({} without one, or one dt eval would refuse: unreadable, too large, a pipe)."""
    from droptrack.eval.resume import MANIFEST, manifest_or_none

    return manifest_or_none(result_dir / MANIFEST) or {}


def _tracked_inputs(result_dir: Path) -> dict[str, str]:
    """{sequence: fingerprint of the frames it was tracked on} from a dt eval folder's eval.json ({} without one)."""
    inputs = _manifest(result_dir).get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def _check_one_split(dirs: Sequence[Path]) -> None:
    """Result folders that dt eval tracked on different splits (their eval.json) share no sequence: say so."""
    splits = {d: _manifest(d).get("split") for d in dirs}
    known = {d: s for d, s in splits.items() if isinstance(s, str)}
    if len(set(known.values())) > 1:
        said = ", ".join(f"{d} the {s} split" for d, s in known.items())
        raise InputError(f"the result folders hold results of different splits ({said}, by their eval.json), so no "
                         "sequence has results from both; analyze the folders of one split together, with that "
                         "split's --root")


def _other_frames(result_dir: Path, seq: Any, tracked: dict[str, str], prints: dict[str, str]) -> str | None:
    """Why a dt eval result cannot be scored on this sequence: it was tracked on other frames under the same name
    (another root, a regenerated set), so its boxes would be scored against a ground truth they never saw; else None.
    `prints`: the sequences' fingerprints so far, shared by the result folders (each sequence's frames read once)."""
    if seq.name not in tracked:
        return None
    from droptrack.eval.fingerprint import fingerprint, same_frames
    from droptrack.eval.resume import MANIFEST

    if seq.name not in prints:
        prints[seq.name] = fingerprint(seq)
    if same_frames(tracked[seq.name], prints[seq.name]):
        return None
    return (f"{result_dir / seq.name}.txt was tracked on other frames than this dataset's {seq.name} (length, first "
            f"box or frames differ, by its {MANIFEST}): another dataset root, a regenerated set or the first "
            "frames only (dt bench --frames); pass the root it was tracked on")


def analyze(result_dirs: Sequence[str | Path], sequences: Sequence[Any], tag: str | None = None,
            output_dir: str | Path | None = None, names: Sequence[str] | None = None,
            protocol: str | None = None, dataset: str | None = None,
            attributes_dir: str | Path | None = None, options: Sequence[str] | None = None) -> Report:
    """Score result folders on sequences (name, dataset, boxes, visible, cover, image_size); write to output_dir.
    `options`: dt analyze's words after its folders (result_dirs.analyze_options), for hints that paste.

    tag defaults to the sequences' `.dataset` and protocol to that tag's toolkit (metrics.protocol_for_tag);
    per-attribute scores use the sequences' attribute files (droptrack.eval.attributes; LaSOT: attributes_dir).
    """
    if not sequences:
        raise InputError("no sequences to score; check the dataset name, root and split")
    tag = tag or getattr(sequences[0], "dataset", None) or "generic"
    protocol = protocol or M.protocol_for_tag(tag)
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    check_infinite_gt_rows(list(sequences))   # before any result file is read
    check_nan_gt_rows(list(sequences), tag, protocol)
    if tag == "synth":   # as dt eval: a NaN box its cover label calls in view (scored as absent under OPE)
        check_got10k_rows(list(sequences), tag)
    dirs = [Path(d) for d in result_dirs]
    check_result_dirs(dirs, sequences, protocol, options)
    _check_ground_truth(sequences, dataset or tag)
    names = _distinct(list(names) if names is not None else _names(dirs))
    scored: list[dict[str, Any]] = [{} for _ in dirs]
    times: list[dict[str, Any]] = [{} for _ in dirs]
    errors: list[dict[str, str]] = [{} for _ in dirs]
    notes: list[dict[str, str]] = [{} for _ in dirs]
    prints: dict[str, str] = {}
    for d, s, t, e, o in zip(dirs, scored, times, errors, notes):
        tracked = _tracked_inputs(d)
        for seq in sequences:
            other = _other_frames(d, seq, tracked, prints)
            if other is not None:
                e[seq.name] = other
                continue
            try:
                s[seq.name], t[seq.name], note = score_sequence(d, seq, protocol, tag)
            except DropTrackError as exc:
                e[seq.name] = str(exc)
                continue
            if note is not None:
                o[seq.name] = note
    common = [q.name for q in sequences if all(q.name in s for s in scored)]
    if not common:
        _check_one_split(dirs)
        first = "; ".join(f"{n}: {next(iter(e.values()))}" for n, e in zip(names, errors) if e)
        raise InputError(f"no sequence could be scored for every tracker ({first}); fix the result file or "
                         "ground truth named there, and run again")   # 'fix the result files' for a NaN GT row
    trackers = []
    for d, n, s, e, t, o in zip(dirs, names, scored, errors, times, notes):
        bad_times = {q: t[q] for q in common if isinstance(t[q], str)}
        timed = [t[q] for q in common if q not in bad_times and t[q] is not None]
        trackers.append(TrackerReport(n, str(d), _aggregate(protocol, [s[q] for q in common], tag), e,
                                      tracker_fps(timed, protocol), bad_times, {q: o[q] for q in common if q in o},
                                      len(timed)))
    report = Report(dataset or tag, tag, protocol, len(sequences), common, trackers)
    _add_attributes(report, sequences, attributes_dir)
    if output_dir is not None:
        write_report(report, output_dir)
    return report


def _add_attributes(report: Report, sequences: Sequence[Any], attributes_dir: str | Path | None) -> None:
    """Per-attribute scores and the sequences where the first two trackers differ most."""
    from droptrack.eval.attributes import largest_differences, per_attribute

    report.attributes = per_attribute(report, sequences, attributes_dir)
    if len(report.trackers) >= 2:
        report.differences = largest_differences(report, report.trackers[0].name, report.trackers[1].name)


def analyze_dataset(result_dirs: Sequence[str | Path], dataset: str, root: str | Path | None = None,
                    split: str | None = None, output_dir: str | Path | None = None, protocol: str | None = None,
                    attributes_dir: str | Path | None = None, names: Sequence[str] | None = None,
                    recheck: Callable[[], None] | None = None, options: Sequence[str] | None = None) -> Report:
    """Load the dataset's sequences (`names`: only those) with droptrack.data.get_sequences, then analyze(); the
    report is written under `output_dir`'s lock file, the one dt eval and dt bench hold there (droptrack.filelock),
    so a second writer of that folder at the same time is refused in one line rather than mixing its files in;
    `recheck` runs again under that lock the caller's check of the folder (another dt analyze may have written it
    since the check before the analysis); `options`: as analyze's."""
    from droptrack.data import get_sequences
    from droptrack.data.registry import (canonical, check_dataset_name, check_output_outside_datasets,
                                         check_output_outside_root, check_split)
    from droptrack.paths import check_distinct, check_not_results, check_output_dir

    check_distinct(result_dirs, "result folder")   # it was scored twice, as two rows 'x#0' and 'x#1'
    if names is not None and not list(names):   # ',' or '' (an empty shell variable) scored every sequence
        raise InputError("--sequences names no sequence; pass comma-separated names, or leave it out for all")
    check_dataset_name(dataset)   # a path: before the default output analysis/<path> (the path itself) is checked
    check_split(dataset, root, split)
    if output_dir is not None:
        check_output_outside_root(output_dir, dataset, root)
        check_output_outside_datasets("--output", output_dir)   # another set's folder, as dt eval and dt bench
        check_output_dir("--output", output_dir, [root, *result_dirs, attributes_dir])
        check_not_results("--output", output_dir, ("eval.json", "bench.json"))
    check_protocol(protocol, canonical(dataset)[0], dataset.strip())   # before the sequences are read
    sequences = list(get_sequences(dataset, root=root, split=split, names=list(names) if names else None))
    report = analyze(result_dirs, sequences, protocol=protocol, dataset=dataset.strip(),
                     attributes_dir=attributes_dir, options=options)
    if output_dir is not None:   # made once there is a report to write
        from droptrack.eval.resume import locked

        with locked(Path(output_dir), "dt analyze, dt eval or dt bench"):
            if recheck is not None:
                recheck()
            write_report(report, output_dir)
    return report


def report_bytes(report: Report) -> bytes:
    """A report's JSON file as written (`artifact.json_bytes`, atomic_write_json's format)."""
    from droptrack.artifact import json_bytes

    return json_bytes(report.to_dict())


def write_report(report: Report, output_dir: str | Path, others: dict[str, bytes] | None = None,
                 plots: bool = True) -> Path:
    """Write the plots (droptrack.eval.report_plots; none without `plots`: an earlier run's there are removed),
    `others` (dt eval's report_got10k.json) and report.json, which names the plots, as one set (`publish`: all
    written before any replaces an earlier one); returns report.json."""
    from droptrack.eval.report_plots import draw_plots, publish

    out = Path(output_dir)
    files = draw_plots(report, protocol_columns(report.protocol), LEGEND_TITLES) if plots else {}
    report.output_dir = out
    publish(out, {**files, **(others or {}), "report.json": report_bytes(report)})
    return out / "report.json"
