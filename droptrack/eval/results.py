"""Tracker result files: pytracking/OSTrack `<seq>.txt` + `<seq>_time.txt`, GOT-10k and TrackingNet submissions.

Every file is written atomically (droptrack.artifact). Readers raise InputError naming the file and the fix, so that
the report can record a per-sequence error instead of crashing or scoring a wrong number.
"""

from __future__ import annotations

import glob
import os
import re
import zipfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from droptrack.artifact import atomic_write, atomic_write_text
from droptrack.errors import InputError, file_where_a_folder_goes
from droptrack.textfiles import read_table, row_problem

RESULT_SUBDIRS = ("got10k", "trackingnet")  # OSTrack writes these benchmarks one folder deeper


def _int_boxes(boxes: np.ndarray | Sequence, path: str | Path) -> np.ndarray:
    """Boxes truncated toward zero like pytracking's astype(int); NaN/inf -> InputError."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{path}: boxes have shape {arr.shape}, expected (N, 4) x, y, w, h rows")
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: boxes contain NaN or inf, which cannot be written as integers; "
                         "fix the tracker output before saving")
    return np.trunc(arr).astype(np.int64)


def _format(rows: np.ndarray, sep: str) -> str:
    """One line per row, integers joined by sep."""
    return "".join(sep.join(str(v) for v in row) + "\n" for row in rows.tolist())


def write_result(path: str | Path, boxes: np.ndarray | Sequence) -> Path:
    """Write pytracking `<seq>.txt`: tab-separated integers (truncated), first row = init box."""
    return atomic_write_text(path, _format(_int_boxes(boxes, path), "\t"))


def write_times(path: str | Path, times: np.ndarray | Sequence[float]) -> Path:
    """Write pytracking `<seq>_time.txt`: one `%f` per frame (seconds)."""
    return atomic_write_text(path, "".join(f"{t:f}\n" for t in np.asarray(times, dtype=np.float64).reshape(-1)))


_FIELD_SEP = re.compile(r"\s*,\s*|\s+")   # one comma (spaces around it allowed) or a run of blanks, as loadtxt
_REWRITE = "it is not a tracker's result for one sequence: re-run the tracker on it"


def _rows(text: str, path: str | Path, writer: str = "write_result") -> list[tuple[int, list[float]]]:
    """(line number, numbers) of every non-blank line; numbers separated by tabs, commas or spaces (a UTF-8 BOM,
    as Windows editors write, is ignored)."""
    rows = []
    for no, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        if not line.strip():
            continue
        if row_problem(line):
            raise InputError(f"{path}:{no}: {row_problem(line)}; re-write it with droptrack.eval.results.{writer}")
        try:
            rows.append((no, [float(v) for v in _FIELD_SEP.split(line.strip())]))   # '1,,2,3,4': an empty field
        except ValueError:
            raise InputError(f"{path}:{no}: not a table of numbers (got {line.strip()[:40]!r}); "
                             f"re-write it with droptrack.eval.results.{writer}") from None
    if not rows:
        raise InputError(f"{path}: the file is empty; re-run the tracker on this sequence")
    return rows


def read_result(path: str | Path, n_frames: int | None = None, extra_rows: bool = False,
                allow_nan: bool = False) -> np.ndarray:
    """Read an (N, 4) float64 result file (tab, comma or space separated); strict on shape and NaN.

    With extra_rows, a file longer than n_frames is accepted (the caller truncates it, as OSTrack's analysis does for
    LaSOT monkey-17); a shorter one is always an error. allow_nan keeps NaN rows (the TrackingNet devkit scores them
    as misses). Errors name the file and its 1-based line.
    """
    path = Path(path)
    try:
        rows = _rows(read_table(path, InputError, _REWRITE), path)   # binary garbage: 'not a table of numbers'
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the result folder") from None
    short = next(((no, len(r)) for no, r in rows if len(r) != 4), None)
    if short is not None:
        raise InputError(f"{path}:{short[0]}: {short[1]} numbers, expected 4 (x, y, w, h); re-write it with "
                         "droptrack.eval.results.write_result")
    arr = np.array([r for _, r in rows], dtype=np.float64)
    nan = np.isnan(arr).any(1)
    if nan.any() and not allow_nan:
        raise InputError(f"{path}:{rows[int(np.argmax(nan))][0]}: NaN in the box (OSTrack/pytracking refuse such "
                         "results); fix the tracker output and re-run this sequence")
    if n_frames is not None and (len(arr) < n_frames or (len(arr) > n_frames and not extra_rows)):
        raise InputError(f"{path}: {len(arr)} rows for a sequence of {n_frames} frames; the tracker stopped early "
                         "or ran on another sequence; re-run it on this sequence")
    return arr


def read_times(path: str | Path) -> np.ndarray:
    """All numbers of a `_time.txt` file (seconds, one or more columns) as a flat float64 array."""
    path = Path(path)
    try:
        rows = _rows(read_table(path, InputError, _REWRITE), path, "write_times")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    return np.array([v for _, r in rows for v in r], dtype=np.float64)


_OTB_PART = re.compile(r"(.+)_(\d+)")
# Human4's first annotation file is empty, so toolkits that number only repeated folders name Human4_2 'Human4'
_OTB_SINGLE = {"Human4_2": "Human4"}


def result_names(seq: str, dataset: str | None = None) -> list[str]:
    """Names a sequence's result file has, pytracking/OSTrack's own first, then those the GOT-10k toolkit and
    pysot-toolkit give it: OTB Jogging_1 -> Jogging.1 / Jogging-1, Human4_2 -> Human4; UAV123 uav_bird1_2 ->
    bird1_2; NfS nfs_Bee -> Bee."""
    names = [seq]
    m = _OTB_PART.fullmatch(seq) if dataset == "otb" else None
    if m:
        names += [_OTB_SINGLE.get(seq, f"{m.group(1)}.{m.group(2)}"), f"{m.group(1)}-{m.group(2)}"]
    for tag, prefix in (("uav", "uav_"), ("nfs", "nfs_")):
        if dataset == tag and seq.startswith(prefix) and len(seq) > len(prefix):
            names.append(seq[len(prefix):])
    return list(dict.fromkeys(names))


def find_result(result_dir: str | Path, seq: str, dataset: str | None = None) -> list[Path]:
    """Result files of `seq` (several = GOT-10k repetitions): `<seq>.txt`, `<seq>/<seq>_NNN.txt`, or `got10k/...`,
    under any of its `result_names` (the dataset's tag decides which)."""
    result_dir = Path(result_dir)
    for name in result_names(seq, dataset):
        for base in (result_dir, *(result_dir / s for s in RESULT_SUBDIRS)):
            if (base / f"{name}.txt").is_file():
                return [base / f"{name}.txt"]
            pattern = re.compile(rf"{re.escape(name)}_\d+\.txt")
            reps = sorted(p for p in (base / name).glob(f"{glob.escape(name)}_*.txt") if pattern.fullmatch(p.name))
            if reps:
                return reps
    return []


def find_times(result_file: Path, seq: str, dataset: str | None = None) -> Path | None:
    """The `<seq>_time.txt` next to a result file, or in `times/` beside it (the GOT-10k toolkit's OTB/LaSOT
    layout), if any, under any of the sequence's `result_names`."""
    for name in result_names(seq, dataset):
        for p in (result_file.parent / f"{name}_time.txt", result_file.parent / "times" / f"{name}_time.txt"):
            if p.is_file():
                return p
    return None


def _write_zip(zip_path: str | Path, files: Mapping[str, str]) -> Path:
    """Atomically write a zip holding {arcname: text}."""
    def writer(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(files):
                zf.writestr(name, files[name])
    return atomic_write(zip_path, writer)


def write_got10k_submission(out_dir: str | Path, boxes: Mapping[str, np.ndarray | Sequence[np.ndarray]],
                            times: Mapping[str, np.ndarray] | None = None,
                            zip_path: str | Path | None = None) -> Path:
    """Write `<seq>/<seq>_001.txt` (comma-separated ints; _002... for repetitions) and `<seq>/<seq>_time.txt`.

    With zip_path, the same tree (sequence folders at the archive root) is also zipped; returns zip_path or out_dir.
    """
    out_dir, files = Path(out_dir), {}
    for seq, b in boxes.items():
        reps = [b] if np.ndim(b) == 2 else list(b)
        for k, rep in enumerate(reps, 1):
            files[f"{seq}/{seq}_{k:03d}.txt"] = _format(_int_boxes(rep, f"{seq}_{k:03d}.txt"), ",")
        if times is not None and seq in times:
            files[f"{seq}/{seq}_time.txt"] = "".join(f"{t:f}\n" for t in np.asarray(times[seq]).reshape(-1))
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
    return _write_zip(zip_path, files) if zip_path is not None else out_dir


def write_trackingnet_submission(zip_path: str | Path, boxes: Mapping[str, np.ndarray]) -> Path:
    """Write the TrackingNet zip: `<seq>.txt` comma-separated ints at the archive root."""
    return _write_zip(zip_path, {f"{seq}.txt": _format(_int_boxes(b, f"{seq}.txt"), ",") for seq, b in boxes.items()})


def load_tracker_dir(result_dir: str | Path, seqs: Sequence[str]) -> tuple[dict[str, np.ndarray],
                                                                          dict[str, np.ndarray]]:
    """Read pytracking `<seq>.txt` / `_time.txt` of the named sequences (missing ones skipped) for a submission."""
    boxes, times = {}, {}
    for seq in seqs:
        files = find_result(result_dir, seq)
        if files:
            boxes[seq] = read_result(files[0])
            t = find_times(files[0], seq)
            if t is not None:
                times[seq] = read_times(t)
    return boxes, times


GOT10K_STYLE = ("got10k", "synth")   # datasets whose submission is GOT-10k's folder + zip


def write_submission(out: Path, tag: str, names: list[str]) -> Path | None:
    """GOT-10k folder + zip (got10k, synth) or TrackingNet zip, from the files on disk (same bytes after resume)."""
    if tag not in GOT10K_STYLE and tag != "trackingnet":
        return None
    boxes, times = load_tracker_dir(out, names)
    if tag == "trackingnet":
        return write_trackingnet_submission(out / "trackingnet_submit.zip", boxes)
    remove_unlisted(out / "got10k_submit", set(names))
    return write_got10k_submission(out / "got10k_submit", boxes, times, zip_path=out / "got10k_submit.zip")


def submission_file(seq: str) -> re.Pattern:
    """The names of a sequence's files in a GOT-10k submission folder: SEQ_001.txt ... (repetitions), SEQ_time.txt."""
    return re.compile(rf"{re.escape(seq)}_(\d{{3}}|time)\.txt")


def remove_unlisted(folder: Path, names: set[str]) -> None:
    """Remove the submission files of sequences this run does not list (an earlier run's wider --sequences), so that
    the folder holds what the zip holds; files that are not a submission's stay."""
    for seq in (d for d in (folder.iterdir() if folder.is_dir() else ()) if d.is_dir() and d.name not in names):
        own = submission_file(seq.name)
        for f in seq.iterdir():
            if own.fullmatch(f.name) and f.is_file():
                f.unlink()
        if not any(seq.iterdir()):
            seq.rmdir()


def check_result_paths(out: Path, names: Iterable[str]) -> None:
    """Where dt eval writes in `out`: a folder at a result file's or a report file's name, or a file at its
    submission folder's, is one line before any work (found only after every sequence was tracked)."""
    from droptrack.eval.report_plots import PLOT_FILES, check_replaceable

    if not out.is_dir():
        return
    names = list(names)
    check_replaceable(out, [*(f"{n}.txt" for n in names), *(f"{n}_time.txt" for n in names)], locked=False)
    check_replaceable(out, ["report.json", "report_got10k.json", *PLOT_FILES.values()])
    submit = out / "got10k_submit"
    if os.path.lexists(submit) and not submit.is_dir():
        raise InputError(file_where_a_folder_goes(submit))
