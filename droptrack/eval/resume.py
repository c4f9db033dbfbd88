"""The results folder of `dt eval`: what may be resumed there and how it is kept safe.

eval.json records which artifact, config, dataset, thread count and settings wrote the results and a fingerprint of each
sequence's frames; results of another run are refused rather than mixed in. One dt eval at a time holds the
folder's lock, temp files of a killed run are removed, and a sequence is done when both of its files are complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterator

from droptrack import filelock
from droptrack.artifact import atomic_write_json, sha256_file
from droptrack.errors import CheckpointError, DropTrackError, InputError, printable, shown
from droptrack.engine.onnx_files import check_external_data, check_graph
from droptrack.engine.threads import ThreadPlan, usable_cores
from droptrack.eval.ext_names import override_words
from droptrack.eval.fingerprint import same_frames
from droptrack.eval.results import read_result, read_times, submission_file
from droptrack.eval.workers import TrackerSpec
from droptrack.paths import removed_if_left_empty
from droptrack.runtime.fingerprint import config_id, external_data_sha256
from droptrack.wording import counted

MANIFEST = "eval.json"
MAX_MANIFEST = 8 << 20   # bytes: a 33-character fingerprint per sequence (GOT-10k's 9,335 train: under 1 MB)
LOCK = ".lock"
RENAME = "name this run with --name (or pass another --output)"   # dt eval's fix; dt bench has no --name


def _parsed_manifest(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(eval.json's object, '') or (None, why it is refused, as 'it ...' continues it); a larger file than dt eval
    writes is not read, nor is a named pipe or device opened (its read would never end)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return None, "is not a regular file (a named pipe, device or folder)"
        if st.st_size > MAX_MANIFEST:
            return None, (f"is {st.st_size / 2**20:.0f} MiB, larger than any {MANIFEST} dt eval writes "
                          f"({MAX_MANIFEST >> 20} MiB at most)")
        with open(path, "rb") as f:
            data = json.loads(f.read(MAX_MANIFEST + 1))
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    except (ValueError, RecursionError):   # not JSON (nor UTF-8), or nested too deeply
        return None, "is not readable as JSON"
    return (data, "") if isinstance(data, dict) else (None, "is not dt eval's (not a JSON object)")


def read_manifest(path: Path) -> dict[str, Any]:
    """The object in eval.json `path`, read bounded (MAX_MANIFEST); a file dt eval did not write (larger, not a
    regular file, not a JSON object) is a one-line InputError naming it and the fix."""
    data, why = _parsed_manifest(path)
    if data is None:
        raise InputError(f"{printable(path)} {why}; dt eval and dt bench write it and read it to resume: move it "
                         "away, or pass another --output")
    return data


def manifest_or_none(path: Path) -> dict[str, Any] | None:
    """`read_manifest` for readers that only look (another folder's eval.json, a note): None where it is missing or
    would be refused (the run writing into that folder refuses it in one line)."""
    return _parsed_manifest(path)[0]


def checked(spec: TrackerSpec) -> TrackerSpec:
    """`spec` with its .onnx artifact's check (external data outside its folder refused): the graph is parsed here
    once, for `identity` and for the loaders (`onnx_files.CheckedGraph`; a large graph's parse costs hundreds of MB)."""
    path = Path(spec.artifact) if spec.artifact is not None and spec.baseline is None else None
    if path is None or path.suffix.lower() != ".onnx" or not path.is_file() or spec.checked is not None:
        return spec
    return dataclasses.replace(spec, checked=check_graph(path, CheckpointError))


def identity(spec: TrackerSpec, tag: str) -> dict[str, Any]:
    """What must match for results in a folder to be resumed: artifact bytes (sha256, and an ONNX graph's external
    data files', as `checked` found them), config (its name and its text: a YAML file edited since is another
    config), dataset tag."""
    if spec.baseline is not None:
        from droptrack.eval.baselines import identity

        return {**identity(spec.baseline), "external_data": None, "config": None, "config_sha256": None, "dataset": tag}
    engine = None   # an artifact's file decides its engine; the built-in model runs in either (below)
    if spec.artifact is None:
        from droptrack.model.default import default_checkpoint
        from droptrack.runtime.backends import embedded_graph_file

        path = default_checkpoint()
        engine = "onnxruntime" if embedded_graph_file(spec.config, spec.device) is not None else "torch"
    else:
        path = Path(spec.artifact)
        if not path.is_file():
            raise CheckpointError(f"artifact {path} does not exist or is not a file; pass a checkpoint, ONNX or engine")
    locations = None if spec.checked is None else list(spec.checked.locations)
    if path.suffix.lower() == ".onnx" and locations is None:   # its weights may live in files beside it: pinned too,
        locations = check_external_data(path, CheckpointError)   # once checked to be in its folder (never /dev/zero)
    return {"artifact": str(path), "artifact_sha256": sha256_file(path),
            "external_data": external_data_sha256(path, locations),
            "config": spec.config, "config_sha256": (config_id(spec.config) or {}).get("sha256"), "dataset": tag,
            "engine": engine}


def recorded_threads(out: Path) -> int | None:
    """The threads per worker that tracked the results in `out` (eval.json), or None: no results, or none recorded."""
    old = manifest_or_none(out / MANIFEST)
    threads = old.get("threads") if old is not None else None
    if type(threads) is not int or threads < 1 or not any(out.glob("*.txt")):
        return None
    return threads


def resume_threads(out: Path, plan: ThreadPlan, workers: int, usable: int | None = None) -> ThreadPlan:
    """`plan` (--threads not given) kept at the thread count of the results already in `out`: another count can
    change the last bits of boxes, so a run resumed with other --workers must not mix the two."""
    old = recorded_threads(out)
    if old is None or old == plan.threads:
        return plan
    usable = usable or usable_cores()
    over = old * workers > usable
    return ThreadPlan(old, f"{old} per worker as the results in {out} were tracked" + (
        f", x {workers} worker(s) > {usable} usable cores: oversubscribed, expect stalls" if over else ""), over)


def _differs(old: dict[str, Any], ident: dict[str, Any], key: str) -> bool:
    """Whether eval.json's `key` differs from this run's (a key an older run did not record: unknown)."""
    unknown = key in ("threads", "split", "root", "engine") and None in (old.get(key), ident.get(key)) or (
        key == "config_sha256" and key not in old)   # split, root: not recorded by an older run, or dt bench's rows
    return old.get(key) != ident.get(key) and not unknown


def check_sibling_split(out: Path, ident: dict[str, Any]) -> None:
    """Refuse results of one split beside other tracker folders' results of another split of the same dataset in
    `out.parent` (dt analyze compares the tracker folders of one results folder, which then share no sequence)."""
    split, dataset = ident.get("split"), ident.get("dataset")
    parent = out.parent
    try:
        others = sorted(parent.iterdir()) if split is not None and parent.is_dir() else []
    except OSError:   # a parent that cannot be listed: nothing to compare with
        return
    for other in others:
        if other == out or not (other / MANIFEST).is_file() or not any(other.glob("*.txt")):
            continue
        old = manifest_or_none(other / MANIFEST)
        if old is None or old.get("dataset") != dataset or old.get("split") in (None, split):
            continue
        from droptrack.data.registry import output_name

        own = Path("results") / output_name(str(dataset), str(split))
        raise InputError(f"{parent} holds results of the {old['split']} split of {dataset} ({other.name}), this run "
                         f"is of the {split} split; a results folder holds one split (dt analyze compares its "
                         f"tracker folders); pass --split {split} without --output ({own}), or another --output")


def check_manifest(out: Path, ident: dict[str, Any], device: str, inputs: dict[str, str], write: bool = True) -> None:
    """Refuse to mix results of another artifact/config/dataset/thread count, or of other frames under the same
    sequence names (`inputs`: name -> fingerprint), into `out`; write eval.json for this run (`write=False`: only the
    checks, run before the model loads so that a refusal costs nothing)."""
    path = out / MANIFEST
    seen: dict[str, str] = {}
    kept: dict[str, Any] = {}
    ident = {**ident, "device_type": device.split(":")[0]}   # CUDA's boxes differ from the CPU's in the last bits
    if os.path.lexists(path):   # a pipe, folder or broken link of that name too: refused, not replaced
        old, why = _parsed_manifest(path)   # bounded: too large, not JSON or not an object is not dt eval's
        if old is None or "artifact_sha256" not in old:   # not ours: it describes no run
            raise InputError(_foreign_manifest(out, why or "is not dt eval's (another tool's file, or a copy)"))
        if isinstance(old.get("device"), str):   # eval.json names the device; cuda:0 and cuda:1 are one kind
            old["device_type"] = old["device"].split(":")[0]
        keys = ("artifact_sha256", "external_data", "config", "config_sha256", "dataset", "tracker_overrides",
                "realtime", "device_type", "threads", "split", "root", "engine")   # root: own footage's (own_root)
        if any(_differs(old, ident, k) for k in keys) and any(out.glob("*.txt")):
            diff = next(k for k in keys if _differs(old, ident, k))
            label, was, now = diff, shown(old.get(diff), 300), repr(ident.get(diff))   # a whole root path
            if diff == "tracker_overrides":   # the options each run was given, not the recorded dict
                label, was, now = "tracker options", override_words(old.get(diff)), override_words(ident.get(diff))
            if diff == "threads":   # boxes differ in the last bits with another thread count
                raise InputError(f"{out} holds results tracked with --threads {old['threads']}, now --threads "
                                 f"{ident['threads']}; pass --threads {old['threads']} (or leave it out) to resume, "
                                 f"or {RENAME}")
            if diff == "engine":   # the built-in model: its ONNX Runtime graph or its checkpoint in torch
                from droptrack.model.default import default_checkpoint
                from droptrack.runtime.resume_point import ENGINES   # dt run's names of them

                torch_then = old["engine"] == "torch"
                then, now = (ENGINES.get(str(e), str(e)) for e in (old["engine"], ident["engine"]))
                how = f"pass --model {default_checkpoint()} --name {out.name}" if torch_then else "install onnxruntime"
                raise InputError(f"{out} holds the built-in model's results tracked in {then}, now in {now}: their "
                                 f"boxes differ in the last bits; {how} to resume, or {RENAME}")
            if diff == "split":   # the test split's submission replaced the val split's, its report stayed beside
                from droptrack.data.registry import output_name

                # --split (or a split folder as --root) without --output gives each split its own folder
                own = Path("results") / output_name(str(ident.get("dataset")), str(ident["split"]))
                raise InputError(f"{out} holds results of the {old['split']} split of {old.get('dataset')}, now the "
                                 f"{ident['split']} split; their submission and report would replace each other's "
                                 f"there; pass another --output, or --split {ident['split']} without --output "
                                 f"({own}), or delete that folder")
            if diff == "config_sha256":   # the same --config, its text changed: another config under that name
                raise InputError(f"{out} holds results tracked with --config {old.get('config')} as it read then; "
                                 "its text has changed since, and results of two configs would mix; restore it to "
                                 f"resume, or {RENAME}, or delete that folder")
            raise InputError(f"{out} holds results of another run ({label}: {was}, now {now}, from "
                             f"{old.get('artifact')}); {RENAME}, or delete that folder")
        same = not any(_differs(old, ident, k) for k in keys)
        seen = old.get("inputs") or {} if same else {}
        seen = seen if isinstance(seen, dict) else {}
        kept = {"procedures": old["procedures"]} if same and "procedures" in old else {}   # record_procedures
    else:
        stray = next((n for n in inputs if (out / f"{n}.txt").is_file()), None)
        if stray is not None:   # not written by dt eval (which writes eval.json first): nothing says what tracked it
            raise InputError(f"{out} holds {stray}.txt but no {MANIFEST} (results of another tool, or copied), so "
                             "they cannot be resumed as this tracker's; pass another --output or move them away")
        from droptrack.eval.report_plots import check_analysis_folder

        check_analysis_folder(out)   # a report.json or plot of the names the run's report writes, not dt's: kept
    other = next((n for n, fp in inputs.items()
                  if not same_frames(seen.get(n, fp), fp) and (out / f"{n}.txt").is_file()), None)
    if other is not None:
        raise InputError(f"{out} holds results of {other} tracked on other frames (its length, first box or frames "
                         "differ: another dataset root or a regenerated set); pass another --output or delete "
                         "that folder")
    if write:
        ident.pop("device_type")
        atomic_write_json(path, {**ident, "device": device, "inputs": {**seen, **inputs}, **kept})


def old_default_note(out: Path, old: Path, ident: dict[str, Any], device: str, inputs: dict[str, str]) -> str | None:
    """The note for a run whose default folder `out` (results/got10k_test/<tracker>) holds no results while the
    default folder before it carried the split (`old`, results/got10k; an older dt eval's) holds this tracker's,
    resumable by this run (eval.json records no split, or this one, and some of this run's sequences are finished
    there): rerunning the same command would otherwise start over without a word. None when there is nothing to say."""
    mine = old / out.name
    if any(out.glob("*.txt")) or not (mine / MANIFEST).is_file():
        return None
    data = manifest_or_none(mine / MANIFEST)
    seen = data.get("inputs") if data is not None else None
    if not isinstance(seen, dict) or data.get("split") not in (None, ident.get("split")) or not any(
            same_frames(seen.get(n), fp) and (mine / f"{n}.txt").is_file() for n, fp in inputs.items()):
        return None
    try:
        check_manifest(mine, ident, device, inputs, write=False)   # resumable there (same tracker and settings)
    except DropTrackError:
        return None
    return (f"{mine} holds this tracker's results of an earlier dt eval (before each split, and each synth set of "
            f"one's own, had its own default folder); this run starts over in {out}; to continue there instead, pass "
            f"--output {old}")


def record_procedures(out: Path, procedures: set[str]) -> None:
    """Add the tracker settings in words (`dt eval`'s 'tracker: ...' line) to eval.json, so that a rerun that
    only resumes (no model loads) prints the line as the run that tracked the sequences did."""
    data = read_manifest(out / MANIFEST)   # written by check_manifest before any sequence was tracked
    old = _procedures_in(data)
    if procedures <= old:
        return
    atomic_write_json(out / MANIFEST, {**data, "procedures": sorted(old | procedures)})


def recorded_procedures(out: Path) -> set[str]:
    """The tracker settings eval.json records (`record_procedures`); none when an older run did not record them."""
    return _procedures_in(manifest_or_none(out / MANIFEST))


def _procedures_in(data: object) -> set[str]:
    """The 'procedures' an eval.json's contents hold; none where it has none (or is not a dict)."""
    got = data.get("procedures") if isinstance(data, dict) else None
    return {p for p in got if isinstance(p, str)} if isinstance(got, list) else set()


def _foreign_manifest(out: Path, what: str) -> str:
    """The refusal of a folder whose eval.json dt eval did not write (`what`: why, as 'it ...' continues it): it is
    kept, and result files beside it cannot be resumed, as nothing says what tracked them."""
    results = sorted(p.name for p in out.glob("*.txt"))
    if not results:   # nothing of a run: not replaced either
        return (f"{out} holds {MANIFEST}, which dt eval did not write: it {what}; pass another --output or move it "
                "away")
    few = ", ".join(results[:2]) + (f" and {len(results) - 2} more" if len(results) > 2 else "")
    return (f"{out} holds {MANIFEST}, which dt eval did not write: it {what}, so the result files beside it ({few}) "
            "cannot be resumed as this tracker's (nothing says what tracked them); pass another --output, or move "
            f"{MANIFEST} and those files away")


def comparable_folders(out: Path, names: list[str]) -> list[Path]:
    """The other dt eval folders beside `out` (OUTPUT/<tracker>/, a --name .x one too) whose eval.json names the
    same dataset and that hold finished results of every sequence in `names` tracked on the same frames: the trackers
    dt analyze can compare with `out`'s on those sequences (the `next: dt analyze` line lists them), sorted by name."""
    def manifest(folder: Path) -> dict[str, Any]:
        return manifest_or_none(folder / MANIFEST) or {}

    own = manifest(out)
    mine = own.get("inputs") if isinstance(own.get("inputs"), dict) else {}
    found = []
    for d in sorted(p for p in out.parent.iterdir() if p.is_dir() and p != out):
        other = manifest(d)
        inputs = other.get("inputs") if isinstance(other.get("inputs"), dict) else {}
        if other.get("dataset") == own.get("dataset") and names and all(
                n in mine and same_frames(inputs.get(n), mine[n]) and (d / f"{n}.txt").is_file() for n in names):
            found.append(d)
    return found


@contextlib.contextmanager
def locked(out: Path, writers: str = "dt eval or dt bench") -> Iterator[None]:
    """An exclusive lock on the results folder, `.lock` in it (released by the OS even if the process is killed;
    removed when the run ends, and a killed run's is reused and removed by the next run: droptrack.filelock);
    `writers`: the commands that take it, as the refusal names them. The folder is made here; a run stopped (an
    error, Ctrl-C) before it wrote anything there leaves no new empty folder (`paths.removed_if_left_empty`)."""
    with removed_if_left_empty(out):
        out.mkdir(parents=True, exist_ok=True)
        with filelock.held(out / LOCK, f"another {writers} is writing to {printable(out)}; wait for it to finish or "
                                       "pass another --output"):
            yield


@contextlib.contextmanager
def saved_on_interrupt(out: Path, seqs: list[Any]) -> Iterator[None]:
    """On Ctrl-C or SIGTERM, note on the exception how many of `seqs` are complete in `out` (`interrupted_line`)."""
    try:
        yield
    except KeyboardInterrupt as exc:   # no folder (and not one taken back): stopped before it was made, nothing saved
        if out.is_dir() or getattr(exc, "dropped", False):
            exc.saved = (sum(complete(out, s) for s in seqs) if out.is_dir() else 0, len(seqs), out)  # type: ignore
        raise


def interrupted_line(exc: KeyboardInterrupt) -> str:
    """What `dt eval` says when stopped: how many sequences are saved (none: the rerun starts them all again)."""
    signum = getattr(exc, "signum", 2)
    what = f"stopped by {exc}" if signum != 2 else "interrupted"
    saved = getattr(exc, "saved", None)
    if saved is None:   # before the results folder was made
        return f"{what} before any sequence was tracked: nothing saved; run the same command to start"
    done, total, out = saved
    if done == 0:   # none saved there, or the folder this run began was taken back (`dropped`): no path
        where = f" in {out}" if out.is_dir() else ""
        return f"{what}: no sequence had finished, none saved{where}; run the same command to start again"
    return f"{what}: {done} of {counted(total, 'sequence')} saved in {out}; run the same command to resume"


def remove_stale_temp(out: Path, names: tuple[str, ...] | None = None) -> None:
    """Delete a killed run's temp files (`.<file>.<random>.tmp`); `names`: only those files' (bench: an export's)."""
    patterns = (".*.tmp", "got10k_submit/*/.*.tmp") if names is None else tuple(f".{n}.*.tmp" for n in names)
    for pattern in patterns:
        for p in out.glob(pattern):
            p.unlink(missing_ok=True)


def result_paths(out: Path, seq: str) -> tuple[Path, Path]:
    """(result file, time file) of a sequence."""
    return out / f"{seq}.txt", out / f"{seq}_time.txt"


def complete(out: Path, seq: Any) -> bool:
    """Both files exist with one row per frame and readable numbers (no NaN)."""
    res, tim = result_paths(out, seq.name)
    if not (res.is_file() and tim.is_file()):
        return False
    try:
        read_result(res, len(seq))
        return len(read_times(tim)) == len(seq)
    except DropTrackError:
        return False


_OWN_TOP = re.compile(r"eval\.json|report(_\w+)?\.json|\w+\.png|(got10k|trackingnet)_submit\.zip|\..*")


def _submission_files(folder: Path) -> Iterator[Path | None]:
    """For each entry of a got10k_submit folder: None where it is dt eval's, else it (or the first file in it) that is
    not (a hidden file is a temporary of an atomic write)."""
    for seq in sorted(folder.iterdir()):
        if not seq.is_dir() or seq.is_symlink():
            yield seq
            continue
        own = submission_file(seq.name)
        yield next((f for f in sorted(seq.iterdir())
                    if not (f.is_file() and (own.fullmatch(f.name) or f.name.startswith(".")))), None)


def foreign_file(out: Path) -> Path | None:
    """The first file or folder in a results folder (one with eval.json) that dt eval does not write: a user's note
    there was removed with the folder when a rerun of dt bench replaced or dropped that row."""
    names = set((manifest_or_none(out / "eval.json") or {}).get("inputs") or {})
    for p in sorted(out.iterdir()):
        if p.name == "got10k_submit" and p.is_dir():
            bad = next((f for f in _submission_files(p) if f is not None), None)
            if bad is not None:
                return bad
            continue
        stem = p.name.removesuffix(".txt").removesuffix("_time") if p.name.endswith(".txt") else None
        listed = stem in names if names else stem is not None   # a manifest without its inputs: any .txt
        if not (p.is_file() and (_OWN_TOP.fullmatch(p.name) or listed)):
            return p
    return None
