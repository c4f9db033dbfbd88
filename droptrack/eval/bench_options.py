"""`dt bench`'s options (`BenchOptions`) and their checks, run before any work starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from droptrack.errors import InputError, shell_quote
from droptrack.eval.bench_data import (check_cut, check_init, check_output_outside_data, check_synth_size,
                                       data_kind)


@dataclass
class BenchOptions:
    """Everything `dt bench` accepts (see the CLI help)."""

    artifacts: list[str]
    data: str = "synthetic"
    root: str | None = None
    reference: str | None = None
    max_auc_drop: float | None = None
    max_divergence: float | None = None
    min_fps: float | None = None
    output_dir: str | Path = "out/bench"
    sequences: int | None = None
    frames: int | None = None
    device: str = "cpu"
    config: str | None = None
    init: str | None = None
    threads: int | None = None
    warmup: int = 10
    timed_frames: int = 200
    progress: bool = True
    command: str = ""
    trackers: list[str] = field(default_factory=list)    # classic OpenCV baselines (droptrack.eval.baselines)
    ext: dict = field(default_factory=dict)   # tracker-extension overrides for every model row and reference
    resume: bool = False      # keep each row's finished sequences from an interrupted bench in the same output
    trust_checkpoint: bool = False   # a legacy pickle checkpoint's foreign objects read as inert records (none run)
    noise_floor: float | None = None   # px of state jitter for each reference's noise-floor pass (eval.noise_floor)

    def config_for(self, artifact: str | Path | None) -> str | None:
        """--config for a checkpoint (a row or the reference); an ONNX graph or engine carries its own config."""
        from droptrack.artifact import artifact_format

        return self.config if artifact_format(artifact) == "torch" else None

    def trust_for(self, artifact: str | Path | None) -> bool:
        """--trust-checkpoint for a checkpoint (a row or the reference); an ONNX graph or engine holds no pickle."""
        from droptrack.artifact import artifact_format

        return self.trust_checkpoint and artifact_format(artifact) == "torch"



def check_options(opts: BenchOptions) -> None:
    """Every option checked (one-line errors) before any work; normalises trackers, ext and device in place."""
    from droptrack.config import load_config
    from droptrack.engine.onnxruntime_backend import require_onnxruntime
    from droptrack.eval.baselines import check_name
    from droptrack.paths import check_not_results, check_output_dir, check_regular
    from droptrack.runtime.checks import check_artifact, missing_note

    if not opts.artifacts and not opts.trackers:
        raise InputError("pass at least one artifact (a checkpoint, .onnx or .engine file) or --tracker NAME")
    opts.trackers = [check_name(t) for t in opts.trackers]
    twice = next((t for i, t in enumerate(opts.trackers) if t in opts.trackers[:i]), None)
    if twice is not None:   # tracked twice, as two rows (csrt, opencv_csrt) of the same numbers
        raise InputError(f"--tracker {twice} is given twice; pass each tracker once")
    if not opts.artifacts:   # OpenCV rows have no PyTorch reference: these were silently ignored
        given = [o for o, v in (("--reference", opts.reference), ("--max-auc-drop", opts.max_auc_drop),
                                ("--max-divergence", opts.max_divergence)) if v is not None]
        read = [o for o, v in (("--config", opts.config), ("--trust-checkpoint", opts.trust_checkpoint or None))
                if v is not None]   # --config was read by no row: the bench ran as if it was not there
        for flags, verb, what in ((given, "compare", "a model with its PyTorch reference"),
                                  (read, "read", "a model's checkpoint")):
            if flags:
                one = len(flags) == 1
                raise InputError(f"{' and '.join(flags)} {verb + 's' if one else verb} {what}; --tracker "
                                 "rows (OpenCV) have none: pass an artifact to bench too, or drop "
                                 + ("it" if one else "them"))
    check_cut(opts.sequences, opts.frames)   # else refused only after every model was loaded, output folder made
    check_init(opts.init, opts.data)
    kind = data_kind(opts.data, root=opts.root)
    if kind == "synthetic":   # generated: N x M frames are written (elsewhere they are the first N / M)
        check_synth_size(opts.sequences, opts.frames)
    if opts.root is not None and kind in ("video", "folder"):   # the path is the data: --root was silently ignored
        raise InputError(f"--root is for synthetic data (where the set is cached) and dataset names; --data "
                         f"{opts.data} is a {kind} and is read as it is: drop --root")
    for artifact in opts.artifacts:   # a missing or wrong file is a user error (exit 2), not a failed row
        if not os.path.lexists(os.path.expanduser(str(artifact))):   # it named --checkpoint/--model, dt run's options
            raise InputError(f"artifact '{artifact}' not found; pass existing checkpoint, .onnx or .engine files"
                             f"{missing_note(artifact)}")
        check_regular("artifact", artifact)   # a named pipe: it was a failed row, 'f.onnx not found'
        check_artifact(str(artifact))
        if str(artifact).lower().endswith(".onnx"):   # else a failed row after the whole reference run
            require_onnxruntime(f"artifact '{artifact}' runs in ONNX Runtime")
        elif str(artifact).lower().endswith(".engine"):   # an engine without its sidecar is a file problem too
            check_sidecar(artifact)
    check_distinct(opts.artifacts)
    if opts.reference is not None:   # before the output folder is made (it was made, then the reference refused)
        check_reference_file(opts.reference)
    check_output_dir("--output", opts.output_dir, [*opts.artifacts, opts.data, opts.root])
    check_output_outside_data(opts.output_dir, opts.data, opts.root)
    check_not_results("--output", opts.output_dir, ("eval.json",))
    check_row_folders(opts)
    if opts.max_auc_drop is not None and not opts.max_auc_drop >= 0:
        raise InputError(f"--max-auc-drop {opts.max_auc_drop} must be >= 0 (AUC points, e.g. 0.5)")
    if opts.max_divergence is not None and not 0 <= opts.max_divergence < 1:
        raise InputError(f"--max-divergence {opts.max_divergence} must be in [0, 1) (share of frames, e.g. 0.03)")
    if opts.min_fps is not None and not 0 < opts.min_fps < float("inf"):   # inf: no FPS reaches it, always failed
        raise InputError(f"--min-fps {opts.min_fps} must be a finite number > 0 (frames per second, e.g. 30)")
    if opts.ext:
        from droptrack.runtime.extensions import KEYS, check_keys

        if not opts.artifacts:
            raise InputError("tracker-extension options apply to models, not to --tracker baselines; pass an "
                             "artifact or drop them")
        checked = check_keys(opts.ext, option_names=True)
        opts.ext = {k: checked[KEYS[k][0]] for k in opts.ext}     # as numbers in bench.json
    if opts.noise_floor is not None:
        from droptrack.eval.noise_floor import check_noise_floor

        if not opts.artifacts:
            raise InputError("--noise-floor measures a model's PyTorch reference; --tracker rows (OpenCV) have none: "
                             "pass an artifact to bench too, or drop it")
        check_noise_floor(opts.noise_floor, opts.device)
    if opts.warmup < 0 or opts.timed_frames < 1:
        raise InputError("warm-up must be >= 0 and timed frames >= 1")
    if opts.config is not None:   # else every checkpoint row failed after the data was read, exit 1
        load_config(opts.config)
    if opts.threads is not None and opts.threads < 1:   # else every model row failed, exit 1
        raise InputError(f"--threads {opts.threads}: use 1 or more")
    if opts.device != "cpu":
        from droptrack.runtime.run import resolve_device

        opts.device = resolve_device(opts.device, None)


def _json_keys(path: Path) -> set[str] | None:
    """The top-level keys of a JSON object file; None when it is not one (text, a list, unreadable)."""
    import json

    from droptrack.textfiles import read_table

    try:
        data = json.loads(read_table(path, ValueError, ""))
    except (OSError, ValueError, RecursionError):   # RecursionError: JSON nested too deeply
        return None
    return set(data) if isinstance(data, dict) else None


def check_bench_folder(output_dir: str | Path) -> None:
    """--output holding a file of the names dt bench replaces or removes (REPORT_FILES) that no dt bench wrote is
    refused before any work, as dt analyze refuses one in its folder (report_plots.check_analysis_folder): another
    tool's bench.json (pytest-benchmark's, hyperfine's), a report.json that no dt bench wrote (dt analyze's: its
    trackers are not OUTPUT/results folders), a bench.md or a plot of the user's; dt bench replaced each with its
    own. A dt bench's folder (its bench.json) is its own to replace or resume, also one a bench killed before its
    bench.json was written (its report.json, plots and bench.md: bench.json is removed first and written last); a plot it did not draw is refused there too."""
    import json

    from droptrack.eval.plot_style import drawn_here
    from droptrack.eval.report_plots import PLOT_FILES
    from droptrack.textfiles import read_table

    folder = Path(os.path.expanduser(str(output_dir)))
    home = next((p.parent for p in (folder.absolute(), *folder.absolute().parents) if p.name == "results"
                 and {"schema_version", "rows"} <= (_json_keys(p.parent / "bench.json") or set())), None)
    if home is not None:   # it wrote there, and that bench then refused its own rerun over a folder it did not write
        raise InputError(f"--output '{output_dir}' is inside the results of the dt bench in '{home}'; pass a folder "
                         "outside it")
    plots = [n for n in ("latency.png", *PLOT_FILES.values()) if (folder / n).is_file() and not drawn_here(folder / n)]
    if plots:   # also in a dt bench's own folder: a figure of the user's saved there under a plot's name
        raise InputError(f"--output '{output_dir}' holds {plots[0]}, which dt bench did not write and would replace "
                         "or remove; pass another --output, or move that file away")
    if (folder / "bench.json").is_file():
        if {"schema_version", "rows"} <= (_json_keys(folder / "bench.json") or set()):
            return   # a dt bench's folder
        foreign = "bench.json"
    elif (folder / "report.json").is_file():
        try:   # its rows' folders, results/<row>, by name: a bench folder copied or moved elsewhere is still ours
            dirs = [Path(str(t["result_dir"])) for t in json.loads(read_table(folder / "report.json", ValueError,
                                                                                 "")).get("trackers")]
            ours = bool(dirs) and all(d.parent.name == "results" and (folder / "results" / d.name).is_dir()
                                      for d in dirs)
        except (OSError, ValueError, RecursionError, AttributeError, KeyError, TypeError):
            ours = False
        if not ours:
            raise InputError(f"--output '{output_dir}' holds a report.json that dt bench did not write (dt "
                             "analyze's?), which it would replace with its plots; pass another folder")
        return
    else:   # a bench.md that is not dt bench's
        try:
            md = (folder / "bench.md").is_file() and not (folder / "bench.md").read_bytes().startswith(b"# dt bench\n")
        except OSError:
            md = True
        foreign = "bench.md" if md else None
    if foreign:
        raise InputError(f"--output '{output_dir}' holds {foreign}, which dt bench did not write and would replace or "
                         "remove; pass another --output, or move that file away")


def check_distinct(artifacts: list[str]) -> None:
    """Each artifact once: the same file twice (also by another path or a link) was loaded, timed and tracked twice,
    as two rows with the same numbers."""
    from droptrack.paths import check_distinct as distinct

    distinct(artifacts, "artifact")


def check_reference_file(path: str) -> None:
    """--reference's file checks that build no model (missing, an .onnx/.engine, bytes of another kind), one line
    each: check_options runs them before the output folder is made."""
    from droptrack.artifact import CHECKPOINT_SUFFIXES, content_problem
    from droptrack.runtime.checks import missing_note

    if Path(path).is_dir():   # it said 'not found' of a folder that is there (dt export's or dt train's output)
        inside = sorted(p.name for p in Path(path).iterdir() if p.is_file() and not p.name.startswith(".")
                        and p.name.lower().endswith(CHECKPOINT_SUFFIXES))
        raise InputError(f"--reference {path} is a folder, not a PyTorch checkpoint; "
                         + (f"it holds {', '.join(inside[:4])}{' ...' if len(inside) > 4 else ''}: pass one of "
                            f"them, e.g. {shell_quote(Path(path) / inside[0])}"
                            if inside else "pass the checkpoint file the artifacts come from"))
    if not Path(path).is_file():
        raise InputError(f"--reference {path} not found; pass the PyTorch checkpoint the artifacts come from"
                         f"{missing_note(path)}")
    if Path(path).suffix.lower() in (".onnx", ".engine"):
        raise InputError(f"--reference {path} is not a PyTorch checkpoint; the reference is the FP32 PyTorch model")
    problem = content_problem(path)
    if problem:   # as loading it says it
        raise InputError(f"--reference {path} cannot be loaded: model {problem}")


def check_row_folders(opts: BenchOptions) -> None:
    """OUTPUT/results and each row's folder in it are folders (or not there yet): a file there failed the row after
    the reference had run (a FileExistsError, exit 1); no input lies in OUTPUT/results (a row folder is deleted when
    a bench is run again)."""
    results = Path(opts.output_dir) / "results"
    real = os.path.realpath(os.path.expanduser(str(results)))
    for label, src in [*(("artifact", a) for a in opts.artifacts), ("--reference", opts.reference),
                       ("--data", opts.data), ("--root", opts.root)]:
        where = os.path.realpath(os.path.expanduser(str(src))) if src is not None else ""
        if src is not None and os.path.exists(where) and (where + os.sep).startswith(real + os.sep):
            raise InputError(f"{label} '{src}' is inside '{results}', whose row folders dt bench replaces on the "
                             "next run; move it out of there, or pass another --output")
    names = [*row_names([str(a) for a in opts.artifacts]), *opts.trackers, *(f"opencv_{t}" for t in opts.trackers)]
    if results.is_dir():   # the reference's and noise floor's rows (reference, reference_N, NAME_ref, ..._noise_Xpx)
        names += [p.name for p in results.iterdir() if p.name == "reference" or p.name.startswith("reference_")
                  or p.name.endswith("_ref")]
    for path in (results, *(results / n for n in names)):
        if os.path.lexists(path) and not path.is_dir():
            raise InputError(f"'{path}' (where dt bench keeps its per-row results) is a file; move it away, or pass "
                             "another --output")


# what dt bench writes (or removes) in its output folder
REPORT_FILES = ("bench.json", "bench.md", "report.json", "success.png", "precision.png", "norm_precision.png",
                "attributes.png", "attributes_radar.png", "latency.png", ".lock")


def check_inputs_kept(opts: BenchOptions, graphs: dict[str, object]) -> None:
    """No input file where dt bench writes or deletes (one line, before any work): its report files in the output
    folder, OUTPUT/results (row folders are replaced on the next run) and the synthetic set it makes there (another
    set's sequence folders are removed). An .onnx artifact's external data files (`graphs`: check_graphs) and an
    engine's sidecar are inputs too."""
    from droptrack.eval.bench_data import synth_cache

    def real(path: object) -> str:
        return os.path.realpath(os.path.expanduser(str(path)))

    out = real(opts.output_dir)
    files = {os.path.join(out, f): f"its {f}" for f in REPORT_FILES}
    trees = {os.path.join(out, "results"): "its per-row results (replaced on the next run)"}
    if data_kind(opts.data) == "synthetic" and opts.root is None:
        trees[real(synth_cache(out, opts.sequences, opts.frames))] = "the synthetic set it makes"
    inputs: list[tuple[str, object]] = []
    for a in opts.artifacts:
        inputs.append(("artifact", a))
        locations = getattr(graphs.get(str(a)), "locations", ())
        inputs += [(f"the external data of '{a}'", Path(real(a)).parent / loc) for loc in locations]
        inputs += [(f"the sidecar of '{a}'", f"{a}.json")] if str(a).lower().endswith(".engine") else []
    data = opts.data if data_kind(opts.data, root=opts.root) in ("video", "folder") else None   # else a name
    inputs += [("--reference", opts.reference), ("--data", data), ("--root", opts.root)]
    for label, src in inputs:
        if src is None or not os.path.lexists(os.path.expanduser(str(src))):
            continue
        where = real(src)
        what = files.get(where) or next((w for t, w in trees.items() if (where + os.sep).startswith(t + os.sep)), "")
        if what:
            raise InputError(f"{label} '{src}' is where dt bench writes {what} in --output '{opts.output_dir}', so it "
                             "would be replaced or deleted; move it, or pass another --output")


def row_names(artifacts: list[str]) -> list[str]:
    """Result-folder names, each the key of its row in bench.json, report.json and the tables: the artifact's stem;
    stems that two artifacts share (two model.onnx from different folders) are named by their folders too
    ('deploy_a_model', 'deploy_b_model'; an index where that is not enough)."""
    from droptrack.eval.run import tracker_name

    stems = [tracker_name(a) for a in artifacts]
    taken = {s for s in stems if stems.count(s) == 1}   # no qualified name takes another artifact's plain one
    names: list[str] = []
    for a, stem in zip(artifacts, stems):
        if stems.count(stem) > 1:
            parent = Path(os.path.abspath(os.path.expanduser(str(a)))).parent.name
            stem = unique_name(f"{parent}_{stem}" if parent else stem, taken)
        taken.add(stem)
        names.append(stem)
    return names


def unique_name(base: str, taken: set[str] | list[str]) -> str:
    """`base`, or `base_1`, `base_2`, ... whichever is first not in `taken` (row and reference folder names)."""
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def check_sidecar(engine: str | Path) -> None:
    """An engine's sidecar (`model.engine.json`), read as loading it does: a missing or broken one is a one-line
    error before any work (it was a failed row after the whole reference run, exit 1)."""
    from droptrack.engine.tensorrt_backend import read_sidecar
    from droptrack.errors import BackendError

    try:
        read_sidecar(Path(engine))
    except BackendError as exc:
        raise InputError(str(exc)) from None
