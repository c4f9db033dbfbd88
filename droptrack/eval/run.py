"""`dt eval`: run a tracker over a benchmark in parallel, write the official result files, resume, report.

Layout under `output_dir/<tracker>/` (tracker = the artifact's file stem, 'default' for the embedded model):
    <seq>.txt, <seq>_time.txt     pytracking/OSTrack files (tab-separated truncated ints, row 0 = init GT; seconds)
    got10k_submit/ + .zip         GOT-10k-style datasets (got10k, synth): <seq>/<seq>_001.txt, <seq>/<seq>_time.txt
    trackingnet_submit.zip        TrackingNet: <seq>.txt comma-separated ints
    report.json, success.png ...  droptrack.eval.report for the dataset's own protocol (synth: also
                                  report_got10k.json with AO/SR)
    eval.json                     which artifact/config wrote these results and a fingerprint of each sequence's
                                  frames (a different artifact, or other frames under a name, is refused;
                                  droptrack.eval.resume)
A sequence counts as done when both of its files exist with one row per frame; every file is written atomically,
so an interrupted run (Ctrl-C, kill) is resumed by running the same command again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from droptrack.config import load_config
from droptrack.decodelog import DamagedImageWarning
from droptrack.errors import DatasetError, InputError, printable
from droptrack.eval.results import (check_result_paths, load_tracker_dir, read_times, write_result, write_submission,
                                    write_times)
from droptrack.eval.ext_names import ext_suffix
from droptrack.eval.realtime import RealTime
from droptrack.eval.run_result import EvalResult
from droptrack.eval.score_files import (check_first_boxes, check_got10k_rows, check_infinite_gt_rows,
                                       check_nan_gt_rows)
from droptrack.eval.fingerprint import fingerprint
from droptrack.eval.resume import (LOCK, MANIFEST, check_manifest, check_sibling_split, checked, complete, identity,
                                   locked, old_default_note, record_procedures, recorded_procedures,
                                   remove_stale_temp, result_paths, resume_threads, saved_on_interrupt)
from droptrack.eval.workers import LoadedTrackers, TrackedSequence, TrackerSpec, WorkerDied, sigterm_as_interrupt
from droptrack.engine.onnx_files import CheckedGraph
from droptrack.engine.threads import plan_threads
from droptrack.paths import check_name, check_output_dir
from droptrack.runtime.start_notes import settings_notes, warn_settings
from droptrack.wording import counted


def tracker_name(artifact: str | Path | None) -> str:
    """Results folder name of an artifact: its file stem ('default' for the embedded model)."""
    if artifact is None:
        return "default"
    name = Path(str(artifact)).name
    for suffix in (".pth.tar", ".pt", ".pth", ".onnx", ".engine", ".ckpt"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def evaluate(artifact: str | Path | None, sequences: Sequence[Any], output_dir: str | Path, workers: int = 1,
             device: str = "cpu", config: str | None = None, tag: str | None = None, name: str | None = None,
             threads: int | None = None, progress: bool = True,
             on_sequence: Callable[[str], None] | None = None, tracker: str | None = None,
             ext: dict | None = None, realtime: RealTime | None = None, check_only: bool = False,
             graph: CheckedGraph | None = None, wrap: Callable[[Any], Any] | None = None,
             trust: bool = False, dataset: str | None = None, notes: bool = False,
             split: str | None = None, old_default: Path | None = None, plots: bool = True,
             root: str | None = None) -> EvalResult | None:
    """Track `sequences` (droptrack.data.Sequence objects) with an artifact and write results + report.

    Args:
        artifact: anything `load_tracker` accepts (checkpoint, .onnx, .engine; None = embedded default model).
        sequences: already loaded sequences (a benchmark or a synthetic set).
        output_dir: results go to `output_dir/<name>/`.
        workers: parallel worker processes ('spawn'), one tracker each; 1 tracks in this process.
        device: 'cpu' or 'cuda'.
        config: config name for official checkpoints without one.
        tag: dataset tag selecting the metric rules and submission format (default: the sequences' `.dataset`).
        name: tracker folder name (default: `tracker_name(artifact)`).
        threads: torch/ONNX Runtime/OpenCV threads per worker (default `engine.threads.plan_threads`: 1 for
            small models, else usable cores // workers; threads x workers never exceeds the usable cores). A resumed
            run keeps the count eval.json records (it can change the last bits of boxes); another --threads is refused.
        progress: show a rich progress display on stderr.
        on_sequence: called with each sequence's name after its files are written.
        tracker: a classic OpenCV baseline by name (droptrack.eval.baselines: csrt, kcf, mil, ...) instead of an
            artifact; its folder is named after it.
        ext: tracker-extension overrides of the artifact's TEST keys (TEST-style, as `dt run`'s options give
            them; {'CROP_GRID': None} turns one off); the default folder name says which.
        realtime: latency-aware evaluation (droptrack.eval.realtime: frames arrive at its rate, the tracker skips
            those that come while it is busy, each frame is scored with the newest finished box); in the folder name.
        check_only: only the checks that refuse this run (options, another run's results in the folder); nothing is
            loaded, tracked or written, returns None (`dt bench --resume` checks every row before any work).
        graph: the caller's `onnx_files.check_graph` of an .onnx artifact (`dt bench`): not parsed again.
        wrap: with one worker, applied to the loaded tracker (`dt bench` times each stage of this pass with it).
        trust: --trust-checkpoint: a legacy pickle checkpoint's foreign objects read as inert records (none run).
        dataset: the name the report's table and plots show (`--dataset` as given, got10k_val, as dt analyze shows
            it; default: the tag).
        notes: give dt run's warnings on extension settings that work against the run, once every check passed.
        split: the dataset split the sequences are (registry.read_split), recorded in eval.json: results of another
            split in the folder are refused (their submission and report would replace each other's).
        plots: draw the report's curve plots beside its report.json (dt bench draws all its rows together instead).
        root: one's own footage's root (registry.own_root), recorded in eval.json: a run of another root into the
            folder is refused (its sequence names, one's own, were taken for the other root's).
    """
    t_start = time.perf_counter()
    seqs = _check_sequences(sequences)
    tag = tag or getattr(seqs[0], "dataset", None) or "generic"
    check_infinite_gt_rows(seqs)   # no toolkit scores it: the run failed once all were tracked
    check_got10k_rows(seqs, tag)   # its report would leave them out, or fail the run once all are tracked
    check_nan_gt_rows(seqs, tag)   # OSTrack's analysis refuses them: the run failed once all were tracked
    check_first_boxes(seqs)   # no tracker starts from one: the run failed once the others were tracked
    for option, value in (("--workers", workers), ("--threads", threads)):
        if value is not None and value < 1:
            raise InputError(f"{option} {value}: use 1 or more")
    if tracker is not None:
        from droptrack.eval.baselines import check_name as check_tracker

        if artifact is not None:
            raise InputError(f"--tracker {tracker} and --checkpoint {artifact} both name a tracker; pass one of them")
        tracker = check_tracker(tracker)
        unused = [o for o, on in (("--config", config is not None), ("--device", device not in (None, "cpu"))) if on]
        if unused:   # they were silently ignored: OpenCV's trackers run on the CPU and have no config
            verb, them = ("applies", "it") if len(unused) == 1 else ("apply", "them")
            raise InputError(f"{' and '.join(unused)} {verb} to a model; --tracker {tracker} is an OpenCV tracker "
                             f"(CPU, no config): drop {them}")
    overrides = _check_ext(ext, tracker)
    realtime = realtime.check() if realtime is not None else None
    if realtime is not None and realtime.latency_ms is None and workers > 1:
        raise InputError(f"--realtime-fps measures each frame's latency here, and {workers} workers would slow each "
                         "other down; use --workers 1, or give --latency-ms to simulate a fixed latency")
    if tracker is None:
        from droptrack.runtime.checks import check_artifact, check_model_options
        from droptrack.runtime.run import resolve_device

        check_artifact(None if artifact is None else str(artifact))   # a .txt or a folder: before the folder is made
        check_model_options(None if artifact is None else str(artifact), config, trust)
        if config is not None:
            load_config(config)     # an unknown name or a bad YAML: before the folder is made and workers start
        device = resolve_device(device, None)
    if name is not None:
        check_name("--name", name)   # results stay inside output_dir
    suffix = ext_suffix(overrides) + (realtime.suffix() if realtime is not None else "")
    out = Path(output_dir) / (name or (tracker + suffix if tracker else tracker_name(artifact) + suffix))
    if os.path.lexists(out) and not out.is_dir():   # it was a FileExistsError traceback when the folder was made
        raise InputError(f"'{out}' (this tracker's results folder in --output) is a file; move it away, or pass "
                         "another --output or --name")
    from droptrack.data.registry import check_output_outside_datasets

    check_output_outside_datasets("this tracker's results folder", out)   # -o PARENT with a model named as a set
    # from here a stop says what the results folder keeps, an earlier run's sequences too (not 'nothing saved')
    with saved_on_interrupt(out, seqs):
        used = max(1, min(workers, len(seqs)))   # at most one worker per sequence starts (its oversubscription note)
        plan = plan_threads(threads, artifact, used)
        if threads is None and out.is_dir():   # --workers alone does not change the count results were tracked with
            plan = resume_threads(out, plan, used)
        spec = TrackerSpec(None if artifact is None else str(artifact), config, device, plan.threads, baseline=tracker,
                           ext=ext or None, realtime=realtime, checked=graph, trust=trust)
        spec = checked(spec)   # an .onnx graph: parsed once, here (or by the caller: `graph`)
        ident = {**identity(spec, tag), "threads": plan.threads, "tracker_overrides": overrides or None,
                 "realtime": realtime.to_dict() if realtime is not None else None, "split": split, "root": root}
        inputs = {s.name: fingerprint(s) for s in seqs}
        check_sibling_split(out, ident)   # the other trackers' results in --output: of one split, as dt analyze needs
        if out.is_dir():   # another run's results are refused before the model loads (checked again under the lock)
            check_manifest(out, ident, spec.device, inputs, write=False)
            check_result_paths(out, inputs)   # a folder where a file goes, or a file where a folder goes
        if check_only:
            return None
        # its thread count is kept there as here (resume_threads) unless --threads is given
        mine = {**ident, "threads": None} if threads is None else ident
        said = old_default_note(out, old_default, mine, spec.device, inputs) if old_default is not None else None
        if said:   # the folder used stays the new default: where the results of that split belong
            sys.stderr.write(f"note: {printable(said)}\n")
        if notes and tracker is None:   # from the model's own description: workers load it (runtime/start_notes.py)
            warn_settings(settings_notes(spec.artifact, spec.config, spec.ext, spec.trust, spec.checked))
        # the model loads before the folder and eval.json are made (a corrupt file: one line, nothing written); a
        # finished run loads none
        pending = [s for s in seqs if not complete(out, s)] if out.is_dir() else seqs
        fresh = not os.path.lexists(out / MANIFEST)
        with sigterm_as_interrupt(), _trackers(spec, workers, len(pending), wrap) as trackers, locked(out), \
                _manifest_dropped_if_nothing_saved(out, fresh):
            check_manifest(out, ident, spec.device, inputs)
            remove_stale_temp(out)
            done = [s.name for s in seqs if complete(out, s)]
            todo = sorted((s for s in seqs if s.name not in set(done)), key=len, reverse=True)   # longest first
            result = EvalResult(out, out.name, tag, [s.name for s in seqs], {}, {}, resumed=done, realtime=realtime,
                                threads_note=plan.reason if plan.oversubscribed else "", threads=plan.threads)
            if todo and trackers is None:   # its files went missing since `pending` was read
                with LoadedTrackers(spec, workers, len(todo), wrap) as late:
                    _track_all(late, todo, out, result, progress, on_sequence)
            else:
                _track_all(trackers, todo, out, result, progress, on_sequence)
            _load_resumed(out, result)
            if result.resumed:   # the settings of the run(s) that tracked them
                result.procedures |= recorded_procedures(out)
            result.submission = write_submission(out, tag, result.sequences)
            result.reports = _analyze(out, seqs, tag, dataset, plots)
        result.wall_s = time.perf_counter() - t_start
        return result


@contextlib.contextmanager
def _manifest_dropped_if_nothing_saved(out: Path, fresh: bool) -> Iterator[None]:
    """A run stopped (Ctrl-C, SIGTERM) before its first sequence was saved, in a folder it began (`fresh`: no
    eval.json before it), takes its eval.json back when nothing else is there, so that `locked` removes the folder it
    made: the stop said nothing was saved, and a folder holding only eval.json was left behind."""
    try:
        yield
    except KeyboardInterrupt as exc:
        left = {p.name for p in out.iterdir()} if fresh and out.is_dir() else set()
        if MANIFEST in left and left <= {MANIFEST, LOCK}:
            (out / MANIFEST).unlink(missing_ok=True)
            exc.dropped = True   # type: ignore[attr-defined]   (`resume.interrupted_line`: none saved, no folder)
        raise


def evaluate_dataset(dataset: str, artifact: str | Path | None = None, root: str | Path | None = None,
                     split: str | None = None, names: Sequence[str] | None = None,
                     output_dir: str | Path | None = None, **kwargs: Any) -> EvalResult:
    """`evaluate` on a dataset read with droptrack.data.get_sequences (default output: results/<dataset>, or
    results/<dataset>_<split> with a split: `registry.output_name`)."""
    from droptrack.data import get_sequences

    from droptrack.data.registry import (check_dataset_name, check_output_outside_datasets, check_output_outside_root,
                                         check_split, named_split, output_name, own_root, read_split)

    check_dataset_name(dataset)   # before results/<dataset> is made from it
    # one folder whatever the spelling: `--dataset LaSOT` then `--dataset lasot` resumes instead of starting over;
    # one per split (--split test: results/got10k_test, as got10k_test names it): a test run replaced val's zip;
    # a split folder as the root (--root got10k/test) is that split: its folder too, not the top root's val folder
    old_default = None
    named = named_split(dataset, root, split) if output_dir is None else split
    if output_dir is None and output_name(dataset, named) != output_name(dataset, None):   # before the split's own
        old_default = Path("results") / output_name(dataset, None)   # folder, results of this split went here
    output_dir = output_dir if output_dir is not None else Path("results") / output_name(dataset, named)

    check_output_outside_root(output_dir, dataset, root)
    check_output_outside_datasets("--output", output_dir)   # another set's folder (a sequence of another synth set)
    check_split(dataset, root, split)
    check_output_dir("--output", output_dir, [root, artifact])
    if kwargs.get("name") is not None:   # the results folder itself: -o PARENT --name ROOT was the dataset's root
        named = Path(output_dir) / check_name("--name", kwargs["name"])
        check_output_outside_root(named, dataset, root, "--name's results folder")
        check_output_outside_datasets("--name's results folder", named)
    if names is not None and not list(names):   # '' or ',' (an empty shell variable): not 'every sequence'
        raise InputError("--sequences names no sequence; pass comma-separated names, or leave it out for all")
    seqs = get_sequences(dataset, root=root, split=split, names=list(names) if names else None)
    if not seqs:
        hint = _root_hint(dataset, root) if split is None else None
        raise DatasetError(f"{dataset} has no sequences{f' in split {split}' if split else ''}; " + (
            hint or "check the root (its list.txt / annotation folder) or pick another split"))
    from droptrack.data.registry import canonical
    from droptrack.eval.bench_data import OWN_FOOTAGE, warn_flat_init

    if canonical(dataset)[0] in OWN_FOOTAGE:   # one's own clip's first box on a black frame: as dt run warns
        warn_flat_init(seqs, "dt eval")
    return evaluate(artifact, seqs, output_dir, dataset=dataset.strip(), split=read_split(dataset, root, split),
                    old_default=old_default, root=own_root(dataset, root),   # named as dt analyze names it;
                    **kwargs)   # the split read and one's own footage's root: eval.json


def _root_hint(dataset: str, root: str | Path | None) -> str | None:
    """Where a synthetic (GOT-10k-layout) root that holds no sequence should point (`sequence_root_hint`), or None."""
    from droptrack.data.registry import canonical, resolve_root
    from droptrack.imagefiles import sequence_root_hint

    tag = canonical(dataset)[0]
    return sequence_root_hint(resolve_root(tag, root)) if tag == "synth" else None


def _check_ext(ext: dict | None, baseline: str | None) -> dict:
    """Checked extension overrides (attribute -> value; one-line errors naming the option) before any work."""
    if not ext:
        return {}
    if baseline is not None:
        raise InputError(f"tracker-extension options apply to models, not to --tracker {baseline}; drop them")
    from droptrack.runtime.extensions import check_keys

    return check_keys(ext, option_names=True)


def _check_sequences(sequences: Sequence[Any]) -> list[Any]:
    """Non-empty, unique names, at least one frame each."""
    seqs = list(sequences)
    if not seqs:
        raise DatasetError("no sequences to evaluate; check the dataset root, split and --sequences")
    names = [s.name for s in seqs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise DatasetError(f"sequence name {dup!r} appears twice; result files are named by sequence, "
                           "so names must be unique")
    empty = next((s.name for s in seqs if len(s) == 0), None)
    if empty is not None:
        raise DatasetError(f"sequence {empty!r} has no frames; re-extract it or leave it out with --sequences")
    bare = next((s.name for s in seqs if not np.isfinite(np.asarray(s.boxes, dtype=np.float64)).any()), None)
    if bare is not None:   # a video or frames folder without annotations: nothing to start from or score against
        raise DatasetError(f"sequence {bare!r} has no ground truth (not even a first-frame box): add its boxes "
                           "(<video>.txt beside a video, groundtruth.txt in a frames folder), or track it with "
                           "dt run --init / dt bench --init")
    return seqs


def _trackers(spec: TrackerSpec, workers: int, count: int, wrap: Callable[[Any], Any] | None = None) -> Any:
    """`LoadedTrackers` for `count` sequences to track; none (a context giving None) when there are none."""
    import contextlib

    return LoadedTrackers(spec, workers, count, wrap) if count else contextlib.nullcontext()


def _track_all(trackers: LoadedTrackers, todo: list[Any], out: Path, result: EvalResult, show: bool,
               on_sequence: Callable[[str], None] | None) -> None:
    """Track the missing sequences; write each one's files as soon as it finishes (time file first)."""
    if not todo:
        return
    from droptrack.eval.progress import EvalProgress

    errors: dict[str, Exception | None] = {}

    def on_done(res: TrackedSequence | None, seq: Any, exc: Exception | None) -> None:
        if res is None:
            errors[seq.name] = exc
            display.finish(seq.name, len(seq), failed=True)
            return
        if res.damage_note:   # one line per sequence, above the progress bars
            warnings.warn(res.damage_note, DamagedImageWarning, stacklevel=2)
        res_path, time_path = result_paths(out, res.name)
        times = read_times(write_times(time_path, res.times))   # as written (1 us): the FPS of the table, resumes
        write_result(res_path, res.boxes)   # written last: its presence marks the sequence done
        result.boxes[res.name], result.times[res.name] = res.boxes, times
        result.tracked.append(res.name)
        if res.procedure and res.procedure not in result.procedures:   # eval.json read once per new one, not per
            result.procedures.add(res.procedure)                         # sequence (it lists every sequence's input)
            record_procedures(out, result.procedures)   # a rerun that only resumes prints it too
        display.finish(res.name, len(seq))
        if on_sequence is not None:
            on_sequence(res.name)

    with EvalProgress(todo, len(result.resumed), enabled=show, label=out.name) as display:
        trackers.run(todo, display.update, on_done)
    if errors:
        first = next(iter(errors.items()))
        died = [isinstance(e, WorkerDied) for e in errors.values()]
        fix = ("if memory ran out, pass fewer --workers" if all(died) else "fix the input" + (
            " (a worker that died: fewer --workers if memory ran out)" if any(died) else ""))
        raise DatasetError(f"{len(errors)} of {counted(len(todo), 'sequence')} failed (first: {first[0]}: "
                           f"{first[1]}); the other results are saved in {out}; {fix}, and run the same command "
                           "to resume")


def _load_resumed(out: Path, result: EvalResult) -> None:
    """Read the boxes and times of sequences completed by an earlier run."""
    boxes, times = load_tracker_dir(out, result.resumed)
    result.boxes.update(boxes)
    result.times.update(times)


def _analyze(out: Path, seqs: list[Any], tag: str, dataset: str | None, plots: bool = True) -> dict[str, Any]:
    """Reports keyed by protocol: the dataset's own (report.json, and its plots with `plots`); synth adds the GOT-10k
    toolkit's."""
    from droptrack.eval.report import analyze, report_bytes, write_report

    from droptrack.data.sequence import has_gt

    if not any(has_gt(s) for s in seqs):   # test splits publish only the init box: scores come from the server
        return {}
    # the others are left out by the report with a line saying why, as dt analyze prints it (they went unsaid)
    main = analyze([out], seqs, tag=tag, names=[out.name], dataset=dataset)
    reports, others = {main.protocol: main}, {}
    if tag == "synth":
        got = analyze([out], seqs, tag=tag, names=[out.name], protocol="got10k-toolkit", dataset=dataset)
        others["report_got10k.json"] = report_bytes(got)
        reports[got.protocol] = got
    write_report(main, out, others, plots=plots)   # one set: a full disk leaves no new report beside the other one
    return reports
