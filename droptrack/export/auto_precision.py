"""`dt export --int8 --auto-precision`: choose the layer groups kept in high precision by tracking divergence.

Tensor-level bisection (Polygraphy's `debug precision`) cannot see what matters for a tracker: errors compound
through the crop loop. The search here measures it directly on validation sequences (never the benchmark's):
  1. the FP32 graph tracks every sequence once: the reference boxes;
  2. every group quantized alone (all others in high precision): its divergence = frames whose box has IoU < 0.5
     with the reference's (init frames excluded), the group's sensitivity;
  3. (TensorRT) the FP16 base alone is measured first: keeping groups cannot go below it, so when it fails the
     limit the search stops there and the default kept groups are used;
  4. the most sensitive groups are kept in high precision, fewest first (bisection on the sorted list, checked
     at every step), until the divergence is at most the limit; a candidate within the limit is accepted only when
     its graph also passes the export's parity check (decoded boxes vs PyTorch on real pairs), so the graph the
     search picks is never the one `dt export` then keeps as `.failed`;
  5. for each kept group, the graph with that group quantized as well is timed against the result (ONNX Runtime,
     1 thread, interleaved medians): the speed the group costs.
A validation set must have at least ceil(1 / limit) sequences, so that one sequence lost from the first frame on
cannot pass the limit by itself (`needed_sequences`). Trials are measured by droptrack.export.divergence, which
journals each one beside the graph: an interrupted search, run again, resumes where it stopped.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from droptrack.errors import ExportError, room_checked
from droptrack.export.divergence import Evaluator
from droptrack.export.quantize import CALIB_METHODS, INT8_TARGETS, ORT_SETTINGS, Calibration, Int8Recipe

DEFAULT_MAX_DIVERGENCE = 0.03
VAL_SEED = 1                  # the synthetic validation set; dt bench's set is seed 0, reports use held-out seeds
VAL_SEQUENCES, VAL_FRAMES = 40, 40
TIMED_RUNS = 20
COSTS_TIMED = 8      # kept groups whose cost is timed (the most sensitive first)
GROUP_BY = ("layer", "kind")
Log = Callable[[str], None]


def needed_sequences(max_divergence: float) -> int:
    """Smallest validation set whose single fully lost sequence exceeds the limit: ceil(1 / limit)."""
    return math.ceil(1.0 / max_divergence - 1e-9)


@dataclass
class Int8Options:
    """INT8 settings of `dt export`: calibration method, targets and the precision search."""

    method: str = "minmax"
    targets: tuple[str, ...] = INT8_TARGETS
    auto_precision: bool = False
    val: str | None = None                 # None: synthetic val split, seed VAL_SEED; else a bench --data spec
    val_sequences: int = VAL_SEQUENCES
    val_frames: int = VAL_FRAMES
    max_divergence: float = DEFAULT_MAX_DIVERGENCE
    group_by: str = "layer"                # 'layer' (block3.qkv, ...) or 'kind' (qkv in every block, ...)
    keep: tuple[str, ...] | None = None    # --int8-keep: groups kept in high precision; None = the defaults
    progress: bool = False                 # a bar over the calibration pairs (dt export; dt demo has its own bar)

    def check(self) -> None:
        """One-line errors for options that cannot work, before any export starts."""
        if self.method not in CALIB_METHODS:
            raise ExportError(f"--calib-method {self.method} is unknown; choose from {', '.join(CALIB_METHODS)}")
        bad = [t for t in self.targets if t not in INT8_TARGETS]
        if bad or not self.targets:
            raise ExportError(f"--int8-target {','.join(bad) or '(none)'} is unknown; choose from "
                              f"{', '.join(INT8_TARGETS)}")
        twice = next((t for t in self.targets if self.targets.count(t) > 1), None)
        if twice is not None:   # it was built, checked and named twice, and the printed dt bench line was refused
            raise ExportError(f"--int8-target names {twice} twice; name each target once (e.g. --int8-target "
                              f"{','.join(dict.fromkeys(self.targets))})")
        if not 0 < self.max_divergence < 1:
            raise ExportError(f"--max-divergence {self.max_divergence} must be in (0, 1), e.g. 0.03")
        if self.auto_precision and self.val is None:
            check_val_size(self.val_sequences, self.max_divergence)
            from droptrack.data.synth import MAX_SEQUENCES

            if self.val_sequences > MAX_SEQUENCES:   # found after the FP32 export, as a MemoryError traceback
                raise ExportError(f"--val-sequences {self.val_sequences} is more than {MAX_SEQUENCES} (a synthetic "
                                  "set's names have 5 digits); pass fewer, or give --val a set of your own")
        if self.auto_precision and self.val is not None and self.val_sequences != VAL_SEQUENCES:
            raise ExportError(f"--val-sequences sizes the synthetic validation set, and --val {self.val} is used as "
                              "it is; drop --val-sequences (or --val)")
        if self.auto_precision and self.val is not None:
            from droptrack.eval.bench_data import data_kind, load_bench_data

            spec, root = val_source(self.val)
            if data_kind(spec, "--val", root) != "synthetic":   # listed now: an empty or small set before the export
                data = load_bench_data(spec, root, Path("."), None, self.val_frames, how=None)
                check_val_size(len(data.sequences), self.max_divergence, self.val)
        if self.keep is not None and self.auto_precision:
            raise ExportError("--int8-keep and --auto-precision both choose the groups kept in high precision; "
                              "give one of them")
        if self.group_by not in GROUP_BY:
            raise ExportError(f"--group-by {self.group_by} is unknown; choose from {', '.join(GROUP_BY)}")
        if self.val_frames < 2:
            raise ExportError(f"--val-frames {self.val_frames} is too few; use at least 2")


def check_unused_int8_options(precisions: list[str], calib: str | None, calib_pairs: int,
                              options: "Int8Options | None") -> None:
    """INT8 options given without --int8, or search options without --auto-precision -> one-line ExportError (they
    were silently ignored). Only values other than the defaults can be told apart from 'not given'."""
    from droptrack.export.calibration import DEFAULT_CALIB_PAIRS

    o, d = options or Int8Options(), Int8Options()
    search = [flag for flag, a, b in (("--val", o.val, d.val), ("--val-sequences", o.val_sequences, d.val_sequences),
                                      ("--val-frames", o.val_frames, d.val_frames),
                                      ("--max-divergence", o.max_divergence, d.max_divergence),
                                      ("--group-by", o.group_by, d.group_by)) if a != b]
    if "int8" not in precisions:
        given = [flag for flag, on in (("--calib", calib is not None),
                                       ("--calib-pairs", calib_pairs != DEFAULT_CALIB_PAIRS),
                                       ("--calib-method", o.method != d.method),
                                       ("--int8-target", o.targets != d.targets),
                                       ("--auto-precision", o.auto_precision),
                                       ("--int8-keep", o.keep is not None)) if on]
        if given:
            raise ExportError(f"{', '.join(given)} only used with --int8; add --int8 or drop them")
    elif "trt" not in o.targets and ORT_SETTINGS.mode == "dynamic":   # ORT's graph takes its ranges per inference
        given = [flag for flag, on in (("--calib", calib is not None and not o.auto_precision),   # search: timing
                                       ("--calib-method", o.method != d.method)) if on]
        if given:
            verb, them = ("calibrates", "it") if len(given) == 1 else ("calibrate", "them")
            raise ExportError(f"{', '.join(given)} {verb} the TensorRT INT8 graph; --int8-target ort writes ONNX "
                              f"Runtime's dynamic INT8 graph (ranges per inference, no calibration): drop {them} or "
                              "add trt to --int8-target")
    if search and not o.auto_precision:
        raise ExportError(f"{', '.join(search)} only used with --auto-precision; add it or drop them")


def check_val_size(n: int, max_divergence: float, val: str | None = None) -> None:
    """Too few validation sequences to measure the limit -> one-line ExportError saying how many are needed (`val`:
    the --val set they came from; None: the synthetic one, sized by --val-sequences)."""
    need = needed_sequences(max_divergence)
    if n < need:
        share = f" (one lost sequence would be {1 / n:.1%})" if n > 0 else ""
        fix = f"pass --val-sequences {need}" if val is None else f"give --val a set of {need}+ sequences"
        raise ExportError(f"--auto-precision needs at least {need} validation sequences to measure a "
                          f"{max_divergence:.1%} divergence limit{share}; got {n}"
                          f"{'' if val is None else f' in --val {val}'}: {fix} or raise --max-divergence")


@dataclass
class Step:
    """One measured candidate: the groups kept in high precision and its divergence."""

    kept: list[str]
    divergence: float


@dataclass
class SearchResult:
    """What the precision search measured (stored in the report and the graph's notes)."""

    target: str
    max_divergence: float
    val: str
    sequences: int
    frames: int
    all_quantized: float                                   # divergence with every group in INT8
    sensitivity: dict[str, float] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    divergence: float = 0.0
    passed: bool = False
    cost_ms: dict[str, float] = field(default_factory=dict)   # per kept group: ms it costs (ORT CPU, 1 thread)
    latency_ms: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    base_divergence: float = 0.0       # the high-precision base alone (trt: the FP16 graph; ort: FP32, exactly 0)
    trials: int = 0                    # candidate graphs whose divergence the search used
    measured: int = 0                  # of them, measured in this run (the others came from the journal)
    parity_failed: dict[str, str] = field(default_factory=dict)   # kept set ('a,b'; '' all INT8) -> its first failure
    ranges: Calibration | None = field(default=None, repr=False)   # the search's activation ranges (not in the
    # report): the final export quantizes with them, so a whole export calibrates once

    def notes(self) -> list[str]:
        """Lines for `dt export`'s notes."""
        head = (f"auto-precision ({self.target}): {self.divergence:.1%} frames diverged vs FP32 on {self.sequences} "
                f"validation sequences ({self.val}; limit {self.max_divergence:.1%}, all-INT8 "
                f"{self.all_quantized:.1%}) - {'gate holds' if self.passed else 'GATE NOT REACHED'}")
        kept = ", ".join(f"{g} ({kept_cost(self.cost_ms, g)})" for g in self.kept) or "none"
        out = [head, f"auto-precision ({self.target}): kept in high precision: {kept}; {self.trials} trial{'s' if self.trials != 1 else ''} "
                     f"({self.measured} measured, {self.trials - self.measured} from the journal); "
                     f"{self.seconds:.0f} s"]
        if self.parity_failed:
            shown = ", ".join(f"{k or 'all INT8'} ({v})" for k, v in list(self.parity_failed.items())[:2])
            out.append(f"auto-precision ({self.target}): {len(self.parity_failed)} kept set(s) within the divergence "
                       f"limit failed the parity check and were not taken: {shown}")
        if self.base_divergence > self.max_divergence:
            out.append(f"auto-precision ({self.target}): unreachable by keeping groups: the FP16 base alone diverges "
                       f"{self.base_divergence:.1%}; the default kept groups were used")
        return out

    def to_dict(self) -> dict:
        """auto_precision_<target>.json (without the ranges)."""
        from dataclasses import asdict

        d = asdict(replace(self, ranges=None))
        del d["ranges"]
        return d


def val_source(val: str) -> tuple[str, str | None]:
    """(spec, root) of --val: NAME:ROOT of a dataset (not the synthetic set, generated), as --calib takes it, is
    split (it was 'not a dataset name'); anything else, an existing path included, is the spec as given, no root."""
    from droptrack.data.registry import ALIASES, DATASETS
    from droptrack.eval.bench_data import SYNTHETIC

    name, sep, root = val.partition(":")
    key = name.strip().lower().replace("-", "")
    if not sep or not root.strip() or Path(val).expanduser().exists() or key in SYNTHETIC or (
            key not in DATASETS and key not in ALIASES):
        return val, None
    return name.strip(), root.strip()


def validation_sequences(options: Int8Options, cache: Path) -> tuple[list, str]:
    """(sequences, description) for the search; the default is a synthetic val split cached under `cache`."""
    if options.val is None:
        from droptrack.data import get_sequences
        from droptrack.data.synth import ensure_synth

        n, m = options.val_sequences, options.val_frames
        folder = cache / f"val_synth_s{VAL_SEED}_{n}x{m}"
        ensure_synth(folder, n, m, VAL_SEED, (320, 240), split="val")
        return get_sequences("synth", folder, split="val"), f"synthetic val split, seed {VAL_SEED}, {n}x{m} frames"
    from droptrack.eval.bench_data import load_bench_data

    spec, root = val_source(options.val)
    data = load_bench_data(spec, root, cache, None, options.val_frames, how=None)
    check_val_size(len(data.sequences), options.max_divergence, options.val)
    return data.sequences, f"{options.val}, {len(data.sequences)} sequences"


def time_graphs(paths: dict[str, Path], pair, runs: int = TIMED_RUNS) -> dict[str, float]:
    """Median ms per inference of each graph, 1 thread, interleaved rounds (they share the machine's load)."""
    from droptrack.engine.onnxruntime_backend import OrtBackend

    backends = {k: OrtBackend(p, threads=1) for k, p in paths.items()}
    try:
        for b in backends.values():
            b.infer(pair.template, pair.search)
        times: dict[str, list[float]] = {k: [] for k in backends}
        for _ in range(runs):
            for k, b in backends.items():
                t0 = time.perf_counter()
                b.infer(pair.template, pair.search)
                times[k].append((time.perf_counter() - t0) * 1000)
    finally:
        for b in backends.values():
            b.close()
    return {k: statistics.median(v) for k, v in times.items()}


def most_trials(groups: int, target: str) -> int:
    """Trials a search over `groups` measures at most: all INT8, the FP16 base (TensorRT), each group alone, then
    the bisection (the progress bar's total; a search that stops early finishes it)."""
    return 1 + (target == "trt") + groups + 1 + math.ceil(math.log2(max(groups - 1, 1)))


def search_recipe(fp32: Path, base: Int8Recipe, pairs: tuple, options: Int8Options, log: Log | None = None,
                  reference: dict[str, np.ndarray] | None = None, progress: bool = True,
                  parity: Callable[[Path], list[str]] | None = None) -> tuple[Int8Recipe, SearchResult]:
    """The recipe whose kept groups hold the divergence limit on the validation set (see the module docstring);
    a rich progress bar counts the trials (`progress`), `log` gets one line per decision.

    `reference`: the FP32 graph's boxes on that set when already tracked (`track_boxes`), to skip tracking them.
    `parity`: a candidate graph's parity-check failures ([] = passes), as `dt export` judges the graph it writes."""
    import onnx

    from droptrack.eval.bench_timing import bar
    from droptrack.export.quantize import layer_groups

    log = log or (lambda s: None)
    t0 = time.perf_counter()
    seqs, desc = validation_sequences(options, fp32.parent / ".auto_precision")
    frames = sum(len(s) - 1 for s in seqs)
    log(f"  auto-precision ({base.target}): each trial tracks the {len(seqs)} validation sequences ({frames} frames) "
        "with another graph, about one trial per layer group; this can take long (tens of minutes on a 2-core CPU "
        "for the embedded model)")   # it said nothing up front, and the first trial line came minutes later
    total = [0]   # known once the groups are
    with tempfile.TemporaryDirectory(prefix=".dt-auto-", dir=fp32.parent) as tmpdir, \
            room_checked(fp32.parent, fp32.parent), bar(f"auto-precision ({base.target}) trials", progress) as update:
        ev = Evaluator(fp32, base, pairs, seqs, Path(tmpdir), log, reference, fp32.parent / ".auto_precision", desc,
                       on_trial=lambda done: update(done, max(done, total[0])), parity=parity)
        layers = [g for g in layer_groups(onnx.load(str(ev.pre), load_external_data=False), base.target)
                  if g != "other"]
        groups = layers if options.group_by == "layer" else list(dict.fromkeys(g.split(".")[-1] for g in layers))
        total[0] = most_trials(len(groups), base.target)
        limit = options.max_divergence
        res = SearchResult(base.target, limit, desc, len(seqs), frames, ev.graph([])[0])
        log(f"  auto-precision ({base.target}): all groups INT8 -> {res.all_quantized:.1%} diverged "
            f"(limit {limit:.1%}, {len(seqs)} sequences)")
        kept = _choose(groups, ev, res, log)
        res.kept = kept
        res.divergence, final = ev.graph(kept)[0], ev.path(kept)
        res.passed = res.divergence <= limit and not _parity_fails(ev, kept, res)
        res.trials, res.measured, res.ranges = len(ev.done), ev.measured, ev.ranges()
        update(res.trials, res.trials)
        _costs(res, ev, kept, final)
    res.seconds = time.perf_counter() - t0
    for line in res.notes():
        log("  " + line)
    return replace(base, keep=tuple(kept)), res


def _choose(groups: list[str], ev: Evaluator, res: SearchResult, log: Log) -> list[str]:
    """Groups to keep: none when all-INT8 holds the limit; the target's defaults when even its high-precision base
    (FP16 for TensorRT) fails it, since keeping groups cannot go below the base; else sensitivity + bisection."""
    from droptrack.export.quantize import DEFAULT_KEPT

    if res.all_quantized <= res.max_divergence and not _parity_fails(ev, [], res):
        return []
    res.base_divergence = ev.base_divergence()
    if res.base_divergence > res.max_divergence:
        log(f"  auto-precision ({res.target}): the high-precision base alone diverges {res.base_divergence:.1%} > "
            f"{res.max_divergence:.1%}; no kept set can reach the limit, using the default kept groups")
        return list(DEFAULT_KEPT[res.target])
    for g in groups:
        res.sensitivity[g] = ev.graph([o for o in groups if o != g])[0]
    order = sorted(groups, key=lambda g: -res.sensitivity[g])
    log("  sensitivity: " + ", ".join(f"{g} {res.sensitivity[g]:.1%}" for g in order[:6]))
    return _bisect(order, ev, res)


def _bisect(order: list[str], ev: Evaluator, res: SearchResult) -> list[str]:
    """Fewest most-sensitive groups to keep (bisection on k, keeping order[:k]; every probe is recorded).

    order[:0] (all INT8) is known to fail; at least one group stays INT8, so the largest k is len(order) - 1."""
    def ok(k: int) -> bool:
        d = ev.graph(order[:k])[0]
        res.steps.append(Step(order[:k], d))
        return d <= res.max_divergence and not _parity_fails(ev, order[:k], res)

    lo, hi = 0, len(order) - 1
    if hi <= lo or not ok(hi):
        return order[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return order[:hi]


def _parity_fails(ev: Evaluator, kept: list[str], res: SearchResult) -> bool:
    """Whether the graph keeping `kept` fails the export's parity check (recorded in `res.parity_failed`)."""
    failures = ev.parity(kept)
    if failures:
        res.parity_failed[",".join(sorted(kept))] = failures[0]
    return bool(failures)


def kept_cost(cost_ms: dict[str, float], group: str) -> str:
    """'+0.12 ms' for a timed kept group; 'not timed' past the first COSTS_TIMED (each costs a graph and a timing)."""
    return f"{round(cost_ms[group], 2) + 0.0:+.2f} ms" if group in cost_ms else "not timed"   # no '-0.00 ms'


def _costs(res: SearchResult, ev: Evaluator, kept: list[str], final: Path) -> None:
    """Per kept group: ms it costs = time(result) - time(result with that group quantized too)."""
    paths = {"fp32": ev.fp32, "int8_all": ev.path([]), "result": final}
    for g in kept[:COSTS_TIMED]:
        paths[g] = ev.path([o for o in kept if o != g])
    med = time_graphs(paths, ev.pairs[0][0])
    res.latency_ms = {k: round(med[k], 3) for k in ("fp32", "int8_all", "result")}
    res.cost_ms = {g: round(med["result"] - med[g], 3) + 0.0 for g in kept[:COSTS_TIMED]}   # + 0.0: no -0.0
