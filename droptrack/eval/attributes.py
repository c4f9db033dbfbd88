"""Per-attribute analysis for `dt analyze` (as pytracking's print_results_per_attribute and the LaSOT toolkit do).

Where a sequence's attributes come from (the first that exists; a sequence without any is left out of the table):
  synth      `<seq>/attributes.txt`: one tag per line (empty file = no attribute), written by `dt data synth`.
  LaSOT      the toolkit's `att/<seq>.txt`: one line of 14 comma-separated 0/1 flags in LASOT_ATTRIBUTES order,
             looked up in `--attributes DIR`, then `att/` and `annos/att/` next to the class folders or the root,
             then the sequence folder (`<seq>/attributes.txt` with tags, or the 14 flags). An empty att/ file
             (not a sequence folder's attributes.txt) is no information: left out, and the note names it.
  UAV123     the benchmark's `anno/UAV123/att/<stem>.txt` (sequence `uav_<stem>`): one line of 12 comma-separated 0/1
             flags in UAV123_ATTRIBUTES order, looked up in `--attributes DIR` (as `<stem>.txt` or `uav_<stem>.txt`),
             then under the dataset root.
  GOT-10k    derived from the official per-frame labels and the ground truth (GOT10K_DERIVED), because GOT-10k
             publishes no attribute files: absence.label / cover.label / cut_by_image.label and the LaSOT
             definitions of scale variation, aspect ratio change, low resolution and fast motion.
Scores per attribute are the protocol's own aggregate over the sequences that have the attribute: OPE = mean of the
per-sequence curves (AUC, precision @20 px, normalised precision), GOT-10k = frame-weighted pooled AO / SR.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from droptrack.errors import InputError
from droptrack.textfiles import read_table
from droptrack.wording import counted

# The LaSOT toolkit's 14 attributes, in the order of the att/<seq>.txt columns (short name, long name).
LASOT_ATTRIBUTES = (("IV", "Illumination Variation"), ("POC", "Partial Occlusion"), ("DEF", "Deformation"),
                    ("MB", "Motion Blur"), ("CM", "Camera Motion"), ("ROT", "Rotation"),
                    ("BC", "Background Clutter"), ("VC", "Viewpoint Change"), ("SV", "Scale Variation"),
                    ("FOC", "Full Occlusion"), ("FM", "Fast Motion"), ("OV", "Out-of-View"),
                    ("LR", "Low Resolution"), ("ARC", "Aspect Ratio Change"))
# UAV123's 12 attributes, in the order of the anno/UAV123/att/<seq>.txt columns (the header of the benchmark's
# annotation document; not alphabetical). Long names shared with LaSOT's are spelled the same, so tables merge them.
UAV123_ATTRIBUTES = (("SV", "Scale Variation"), ("ARC", "Aspect Ratio Change"), ("LR", "Low Resolution"),
                     ("FM", "Fast Motion"), ("FOC", "Full Occlusion"), ("POC", "Partial Occlusion"),
                     ("OV", "Out-of-View"), ("BC", "Background Clutter"), ("IV", "Illumination Variation"),
                     ("VC", "Viewpoint Change"), ("CM", "Camera Motion"), ("SOB", "Similar Object"))
FLAG_FILES = {len(LASOT_ATTRIBUTES): LASOT_ATTRIBUTES, len(UAV123_ATTRIBUTES): UAV123_ATTRIBUTES}
GOT10K_DERIVED = {
    "full_occlusion": "absence.label = 1 or cover.label = 0 in at least one frame",
    "partial_occlusion": "cover.label 1-4 (at most about half visible) in at least one frame",
    "cut_by_image": "cut_by_image.label = 1 (partly outside the image) in at least one frame",
    "scale_variation": "box area / first area outside [0.25, 4] (side ratio outside [0.5, 2], LaSOT SV)",
    "aspect_ratio_change": "aspect ratio / first aspect ratio outside [0.5, 2] (LaSOT ARC)",
    "low_resolution": "box area < 1000 px in at least one frame (LaSOT LR)",
    "fast_motion": "centre moves more than the box size between two frames (LaSOT FM)",
}
SCORE_KEYS = {"ope": ("auc", "precision", "norm_precision"), "got10k-toolkit": ("ao", "sr50", "sr75")}
HEADLINE = {"ope": "auc", "got10k-toolkit": "ao", "trackingnet-devkit": "success"}


def headline_key(protocol: str) -> str:
    """The per-sequence score that ranks trackers under a protocol (the first column of dt analyze's table)."""
    return HEADLINE["ope" if protocol.endswith("-ope") else protocol]


def parse_attribute_file(path: Path) -> list[str]:
    """Tags of one file: LaSOT's 14 or UAV123's 12 0/1 flags (comma-separated, or by blanks or tabs as a copy saved
    from a spreadsheet or MATLAB's dlmwrite with another delimiter has them), or one tag per line."""
    text = read_table(path, InputError, "fix it from the toolkit's att/ files, or remove it").strip()
    cells = [c for c in re.split(r"[\s,]+", text) if c]
    flags = len(cells) > 1 and all(c in ("0", "1") for c in cells)   # no tag file is a row of 0s and 1s
    if flags and len(cells) in FLAG_FILES:
        return [long for (_, long), c in zip(FLAG_FILES[len(cells)], cells) if c == "1"]
    odd = next((k for k, c in enumerate(cells) if c not in ("0", "1")), None)
    if "," in text and len(cells) in FLAG_FILES and odd is not None:   # the right count: one value is wrong
        raise InputError(f"attribute file {path}: value {cells[odd][:20]!r} (number {odd + 1} of {len(cells)}) is not "
                         "a 0/1 flag; fix it from the toolkit's att/ files, or remove it")
    if flags or "," in text:   # a damaged flag line, not tags (one per line, never with commas)
        raise InputError(f"attribute file {path} holds {len(cells)} "
                         f"{'comma-separated' if ',' in text else 'blank-separated'} values, not LaSOT's 14 or "
                         "UAV123's 12 0/1 flags; fix it from the toolkit's att/ files, or remove it")
    return sorted({ln.strip() for ln in text.splitlines() if ln.strip()})


def _sequence_dir(seq: Any) -> Path | None:
    """The folder of a sequence read from image files (LaSOT keeps them one level deeper, in img/)."""
    if not getattr(seq, "frames", None):
        return None
    folder = Path(seq.frames[0]).parent
    return folder.parent if folder.name == "img" else folder


def _candidates(seq: Any, folder: Path, att_dir: Path | None) -> list[Path]:
    """Attribute files to try for a sequence, in order."""
    out = [att_dir / f"{seq.name}.txt"] if att_dir is not None else []
    if getattr(seq, "dataset", None) == "uav":       # uav_<stem>, images in root/data_seq/UAV123/<folder>/
        stem = seq.name[len("uav_"):] if seq.name.startswith("uav_") else seq.name
        out = ([att_dir / f"{stem}.txt"] if att_dir is not None else []) + out
        return out + [folder.parents[2] / "anno" / "UAV123" / "att" / f"{stem}.txt"]
    for base in (folder.parent, folder.parent.parent):
        out += [base / "att" / f"{seq.name}.txt", base / "annos" / "att" / f"{seq.name}.txt"]
    return out + [folder / "attributes.txt"]


def derived_got10k(folder: Path, boxes: np.ndarray) -> list[str]:
    """GOT10K_DERIVED tags of a GOT-10k sequence folder and its (N,4) ground truth."""
    from droptrack.data.labels import COVER_TOP, load_flags

    def flags(name: str) -> np.ndarray | None:
        top = COVER_TOP if name == "cover.label" else 1
        return load_flags(folder / name, top=top) if (folder / name).is_file() else None

    tags = set()
    absence, cover, cut = flags("absence.label"), flags("cover.label"), flags("cut_by_image.label")
    if (absence is not None and (absence == 1).any()) or (cover is not None and (cover == 0).any()):
        tags.add("full_occlusion")
    if cover is not None and ((cover >= 1) & (cover <= 4)).any():
        tags.add("partial_occlusion")
    if cut is not None and (cut == 1).any():
        tags.add("cut_by_image")
    tags.update(gt_attributes(boxes))
    return sorted(tags)


def gt_attributes(boxes: np.ndarray) -> list[str]:
    """scale_variation, aspect_ratio_change, low_resolution, fast_motion from ground truth (LaSOT definitions)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ok = np.isfinite(b).all(1) & (b[:, 2] > 0) & (b[:, 3] > 0)
    if not ok[0] or ok.sum() < 2:
        return []
    area, ratio = b[:, 2] * b[:, 3], b[:, 2] / np.where(b[:, 3] > 0, b[:, 3], 1.0)
    tags = []
    rel = np.sqrt(area[ok] / area[0])
    if ((rel < 0.5) | (rel > 2.0)).any():
        tags.append("scale_variation")
    ar = ratio[ok] / ratio[0]
    if ((ar < 0.5) | (ar > 2.0)).any():
        tags.append("aspect_ratio_change")
    if (area[ok] < 1000).any():
        tags.append("low_resolution")
    both = ok[1:] & ok[:-1]
    centre = b[:, :2] + b[:, 2:] / 2
    move = np.linalg.norm(np.diff(centre, axis=0), axis=1)
    size = np.sqrt(area[:-1])   # the previous box's size (geometric mean of w and h)
    if (move[both] > size[both]).any():
        tags.append("fast_motion")
    return tags


def sequence_attributes(seq: Any, att_dir: str | Path | None = None) -> list[str] | None:
    """A sequence's attribute tags (see the module docstring); None when nothing is known about them."""
    folder = _sequence_dir(seq)
    if folder is None:
        return None
    for path in _candidates(seq, folder, Path(att_dir) if att_dir is not None else None):
        if path.is_file():
            return None if empty_flag_file(path, folder) else parse_attribute_file(path)
    if getattr(seq, "dataset", None) == "got10k" and (folder / "absence.label").is_file():
        return derived_got10k(folder, seq.boxes)
    return None


def empty_flag_file(path: Path, folder: Path) -> bool:
    """Whether `path` is an empty toolkit attribute file (att/, --attributes DIR: a line of 0/1 flags, even where a
    sequence has none): nothing is known of that sequence; a sequence folder's own attributes.txt (dt data synth's
    tags) that is empty says it has no attribute."""
    return path != folder / "attributes.txt" and path.stat().st_size == 0


def empty_files(sequences: Sequence[Any], att_dir: str | Path | None) -> list[Path]:
    """The empty toolkit attribute files (`empty_flag_file`) that `sequences` would be read from, for the note."""
    att = Path(att_dir) if att_dir is not None else None
    found = []
    for seq in sequences:
        folder = _sequence_dir(seq)
        path = next((p for p in _candidates(seq, folder, att) if p.is_file()), None) if folder is not None else None
        if path is not None and empty_flag_file(path, folder):
            found.append(path)
    return found


def _empty_said(empty: list[Path]) -> str:
    """'FILE is empty (...)' / 'FILE and N more are empty (...)' for the note; '' when none is."""
    if not empty:
        return ""
    more = f" and {len(empty) - 1} more are" if len(empty) > 1 else " is"
    return f"{empty[0]}{more} empty (a toolkit attribute file holds its 0/1 flags, all 0 for none)"


def _check_att_dir(sequences: Sequence[Any], att_dir: str | Path | None) -> None:
    """A given --attributes folder must hold the file of at least one scored sequence (else it is the wrong one)."""
    if att_dir is None or not sequences:
        return
    att = Path(att_dir)
    for seq in sequences:
        folder = _sequence_dir(seq)
        if folder is not None and any(p.parent == att and p.is_file() for p in _candidates(seq, folder, att)):
            return
    raise InputError(f"--attributes {att_dir} holds no attribute file of the scored sequences (looked for "
                     f"{sequences[0].name}.txt and the others); pass the toolkit's att/ folder, or drop --attributes")


@dataclass
class AttributeReport:
    """Per-attribute scores of every tracker: {attribute: {tracker: {score: value}}} and sequence counts."""

    source: str                                   # where the tags came from, in words
    keys: tuple[str, ...]                         # score keys, the first is the headline (auc / ao)
    n_with_info: int
    counts: dict[str, int] = field(default_factory=dict)
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (report.json's `attributes`)."""
        return {"source": self.source, "keys": list(self.keys), "n_sequences_with_tags": self.n_with_info,
                "counts": self.counts, "scores": self.scores, "note": self.note}


def subset_scores(result: Any, names: Sequence[str], keys: Sequence[str]) -> dict[str, float]:
    """The protocol's aggregate over a subset of the scored sequences (see the module docstring)."""
    idx = [result.names.index(n) for n in names]
    if hasattr(result, "seq_success"):
        succ = result.seq_success[idx].mean(0)
        return {"auc": float(succ.mean()), "precision": float(result.seq_precision[idx, 20].mean()),
                "norm_precision": float(result.seq_norm_precision[idx, 20].mean())}
    if hasattr(result, "seq_ao"):
        w = result.seq_frames[idx].astype(np.float64)
        out = {}
        for k in keys:
            v = getattr(result, f"seq_{k}")[idx]
            use = w > 0   # a sequence without a used frame has no AO; one NaN IoU makes the pool's AO NaN
            out[k] = float((v[use] * w[use]).sum() / w[use].sum()) if use.any() else math.nan
        return out
    per = result.per_sequence()
    return {k: float(np.nanmean([per[n][k] for n in names])) for k in keys}


def per_attribute(report: Any, sequences: Sequence[Any], att_dir: str | Path | None = None) -> AttributeReport:
    """Scores per attribute over the report's common sequences (a note, no numbers, when no sequence has tags)."""
    keys = SCORE_KEYS.get("ope" if report.protocol.endswith("-ope") else report.protocol, ())
    by_name = {s.name: s for s in sequences}
    _check_att_dir([by_name[n] for n in report.sequences if n in by_name], att_dir)
    tags = {n: sequence_attributes(by_name[n], att_dir) for n in report.sequences if n in by_name}
    known = {n: t for n, t in tags.items() if t is not None}
    source = {"got10k": "GOT-10k labels + ground truth (derived)", "lasot": "LaSOT att/<seq>.txt",
              "uav": "UAV123 anno/UAV123/att/<seq>.txt",
              "synth": "synthetic attributes.txt"}.get(report.tag, "attribute files")
    source = f"attribute files in {att_dir}" if att_dir is not None else source   # --attributes DIR: those files
    out = AttributeReport(source, tuple(keys), len(known))
    said = _empty_said(empty_files([by_name[n] for n, t in tags.items() if t is None], att_dir))
    if not known or not keys:
        if not known and said:
            why = f"{said}; fill each from the toolkit's att/ files (one line of flags per sequence)"
        elif not known:
            what = "the sequence" if len(tags) == 1 else f"the {len(tags)} sequences"
            why = (f"no attribute files for {what}; pass --attributes DIR (the LaSOT or UAV123 "
                   "toolkit's att/ folder), or make a synthetic set with dt data synth --attributes all")
        else:
            why = f"protocol {report.protocol} has no attribute scores; use --protocol ostrack-ope for them"
        out.note = f"per-attribute analysis skipped: {why}"
        return out
    attrs = sorted({a for t in known.values() for a in t})
    for a in attrs:
        names = [n for n in report.sequences if a in (known.get(n) or ())]
        out.counts[a] = len(names)
        out.scores[a] = {t.name: subset_scores(t.result, names, keys) for t in report.trackers}
    untagged = [n for n, t in known.items() if not t]
    if untagged:
        out.counts["(none)"] = len(untagged)
        out.scores["(none)"] = {t.name: subset_scores(t.result, untagged, keys) for t in report.trackers}
    notes = []
    if len(known) < len(tags):
        left = len(tags) - len(known)
        notes.append(f"{left} of {counted(len(tags), 'sequence')} {'has' if left == 1 else 'have'} no attribute "
                     "information (left out)" + (f": {said}" if said else ""))
    absent = _absent(report.tag, attrs)
    if absent:   # a benchmark's attribute with no row was not there to read as 'none of these sequences'
        notes.append(f"no scored sequence has {', '.join(absent)} (no row)")
    out.note = "; ".join(notes)
    return out


def _absent(tag: str, attrs: Sequence[str]) -> list[str]:
    """The benchmark's own attributes (LaSOT's 14, UAV123's 12, GOT-10k's derived ones) that no scored sequence
    has, when every tag found is one of them; [] for other tag sets (synthetic sets choose theirs)."""
    every = {"lasot": [long for _, long in LASOT_ATTRIBUTES], "uav": [long for _, long in UAV123_ATTRIBUTES],
             "got10k": list(GOT10K_DERIVED)}.get(tag.split("_extension")[0], [])
    return [a for a in every if a not in attrs] if every and set(attrs) <= set(every) else []


def _paired(report: Any, first: str, second: str) -> list[tuple[str, float, float]]:
    """(sequence, first's score, second's) of the sequences both trackers score (a finite headline score)."""
    key = headline_key(report.protocol)   # 'auc' under the TrackingNet devkit, which has none, gave no rows
    rows = {t.name: t.result.per_sequence() for t in report.trackers if t.name in (first, second)}
    if first not in rows or second not in rows:
        return []
    pairs = [(n, rows[first][n].get(key), rows[second][n].get(key)) for n in report.sequences]
    return [(n, a, b) for n, a, b in pairs if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]


def scored_by_both(report: Any, first: str, second: str) -> int:
    """How many of the report's sequences both trackers score (the others lack a score from one of them)."""
    return len(_paired(report, first, second))


def largest_differences(report: Any, first: str, second: str, top: int = 10) -> list[dict[str, Any]]:
    """The sequences where two trackers' headline scores differ most: [{sequence, first, second, diff}]; a tie is no
    difference and is left out (within 1e-9: a mean of identical repetitions differs from one run in the last bit)."""
    out = [{"sequence": n, first: a, second: b, "diff": a - b} for n, a, b in _paired(report, first, second)
           if abs(a - b) > 1e-9]
    return sorted(out, key=lambda r: -abs(r["diff"]))[:top]
