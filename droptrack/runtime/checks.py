"""The option checks `dt run` and `dt serve` share, in one order: the same bad option gives the same one-line error
in both, before a model is loaded or a source opened."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Protocol

from droptrack.artifact import CHECKPOINT_SUFFIXES, artifact_format, content_problem
from droptrack.errors import InputError, folder_where_a_file_goes, printable, shell_quote
from droptrack.imagefiles import is_still_image
from droptrack.paths import (check_not_finished, check_not_folder, check_outputs, check_readable, masked,
                             replace_denied, same_file, windows_note)
from droptrack.runtime import sources
from droptrack.runtime.build import PRE
from droptrack.runtime.extensions import check_keys
from droptrack.runtime.reconnect import ReconnectPolicy
from droptrack.runtime.outlock import streamed_as, writer_alive
from droptrack.runtime.part_names import check_part_links, check_unfinished_names
from droptrack.runtime.sinks import check_video_path, part_path, video_part_path
from droptrack.textfiles import holds_box_rows

ARTIFACT_SUFFIXES = CHECKPOINT_SUFFIXES + (".onnx", ".engine")


class TrackingOptions(Protocol):
    """The options `run.RunOptions` and `serve.options.ServeOptions` both have (same names, same meaning)."""

    source: str
    artifact: str | None
    config: str | None
    save: str | None
    jsonl: str | None
    max_frames: int | None
    pre: str
    lost_threshold: float
    width: int | None
    height: int | None
    fps: float | None
    ext: dict
    reconnect: int
    reconnect_timeout: float | None
    overwrite: bool


def _embedded() -> str | None:
    """The embedded default model's file (the model of a run without --model), or None when it is missing."""
    from droptrack.errors import CheckpointError
    from droptrack.model.default import default_checkpoint

    try:
        return str(default_checkpoint())
    except CheckpointError:   # loading it says so, after the other checks
        return None


def check_tracking_options(opts: TrackingOptions, box_files: list, trust: bool = False,
                           earlier: list | None = None) -> None:
    """Numbers in range, the model and extension keys valid, every output usable (and none an input) and, without
    --overwrite, none holding an earlier run's data; checked in this order by dt run and dt serve. `box_files`: the
    --output files the run may write ('out/' kept as given, so that it is refused as a folder); `earlier`: the box
    files that count as earlier results (default `box_files`); `trust`: --trust-checkpoint."""
    if opts.max_frames is not None and opts.max_frames < 1:
        raise InputError(f"--max-frames {opts.max_frames} must be >= 1")
    if opts.pre not in PRE:   # build_tracker's own check names its Python argument
        raise InputError(f"--pre '{opts.pre}' must be auto, host or device")
    check_numbers(opts.lost_threshold, opts.fps, opts.width, opts.height)
    sources.check_capture_options(opts.source, opts.width, opts.height, opts.fps)
    check_artifact(opts.artifact, content=False)   # its bytes are read after the outputs are checked
    check_model_options(opts.artifact, opts.config, trust)
    check_keys(opts.ext, option_names=True)
    ReconnectPolicy(opts.reconnect, opts.reconnect_timeout)   # checks --reconnect / --reconnect-timeout
    jsonl, save = [] if opts.jsonl in (None, "-") else [opts.jsonl], [opts.save] if opts.save else []
    resume = getattr(opts, "resume", False)   # dt run --resume: the killed run's files are what it continues
    model = opts.artifact if opts.artifact is not None else _embedded()   # the built-in model is an input too
    check_output_paths(opts.source, (model, opts.config), {"--output": box_files, "--jsonl": jsonl,
                                                                   "--save": save}, opts.overwrite or resume,
                       unlocked=hasattr(opts, "resume"))   # dt run locks after these checks; dt serve before
    if hasattr(opts, "resume"):   # dt run, not locked yet: a running writer's unfinished file is not 'data'
        live = next(((o, w) for o in (*box_files, *jsonl, *save) for w in streamed_as(Path(o)) if writer_alive(w)),
                    None)
        if live is not None:
            raise InputError(f"'{live[0]}' is the unfinished file of a running dt run or dt serve (it writes "
                             f"{live[1]}); wait for it to finish (or stop it), or pass other output paths")
    check_unfinished_names({"--output": box_files, "--jsonl": jsonl, "--save": save})
    if not (opts.overwrite or resume):   # a finished run's results are replaced only when asked to
        check_not_finished({"--output": box_files if earlier is None else earlier, "--jsonl": jsonl, "--save": save})
    if opts.save:   # after the path checks: 'out/' is a folder before it is a name without a container
        check_video_path(opts.save)
        low = sources.FPS_RANGE[0]
        if opts.fps is not None and opts.fps < low:   # OpenCV's writers fail near 0.001 as 'could not open'
            raise InputError(f"--save writes videos of {low:g} to {sources.FPS_RANGE[1]:g} FPS, not --fps {opts.fps:g} "
                             f"(a time-lapse); pass --fps {low:g} or more with --save, or drop --save")
    check_content(opts.artifact)


def missing_note(path: str | os.PathLike) -> str:
    """What a missing model path's error adds: where this install keeps the embedded model (README's
    `droptrack/weights/...`, given from another folder) and the '/' form of a Windows-style path; '' for others."""
    from droptrack.model.default import embedded_hint

    return embedded_hint(path) + windows_note(path)


def check_artifact(artifact: str | None, content: bool = True) -> None:
    """One-line errors for a missing artifact or one of the wrong kind (e.g. a .txt file); with `content`, also
    for one whose bytes are not that kind (a text file renamed .onnx: `check_content`)."""
    if artifact is None:
        return
    path = Path(artifact)
    if not path.exists():
        raise InputError(f"model '{artifact}' not found; pass an existing --checkpoint/--model file"
                         f"{missing_note(artifact)}")
    inside = sorted((p.name for p in path.iterdir() if p.is_file() and p.name.lower().endswith(ARTIFACT_SUFFIXES)
                     and not p.name.startswith(".")),   # ONNX first: it runs everywhere
                    key=lambda n: (["onnx", "torch", "engine"].index(artifact_format(n)), n)) if path.is_dir() else []
    if inside:   # e.g. dt export's output folder: name what is in it
        more = f" (and {len(inside) - 4} more)" if len(inside) > 4 else ""
        raise InputError(f"model '{artifact}' is a folder, not a model; it holds {', '.join(inside[:4])}{more}: pass "
                         f"one of them, e.g. '{path / inside[0]}'")
    if path.is_dir() or path.suffix.lower() not in ARTIFACT_SUFFIXES:
        kind = "a folder" if path.is_dir() else f"a '{path.suffix or 'suffix-less'}' file"
        raise InputError(f"model '{artifact}' is {kind}, not a model; pass a checkpoint (.pt/.pth/.pth.tar/.safetensors), "
                         "an ONNX model (.onnx) or a TensorRT engine (.engine)")
    check_readable("model", artifact)
    if content:
        check_content(artifact)


def check_content(artifact: str | None) -> None:
    """A model file whose first bytes are not the kind its suffix names -> one line (dt bench ran its reference
    first and failed the row, exit 1; dt run printed ONNX Runtime's 'Protobuf parsing failed')."""
    problem = None if artifact is None else content_problem(artifact)
    if problem:
        raise InputError(f"model {problem}")


def check_model_options(artifact: str | None, config: str | None, trust: bool = False) -> None:
    """--config and --trust-checkpoint read a checkpoint; an ONNX graph or engine carries the config it was exported
    with, so they would be ignored: one-line error (dt run, serve, eval; dt bench's --config loads its reference)."""
    kind = artifact_format(artifact)
    given = [o for o, v in (("--config", config), ("--trust-checkpoint", trust)) if v]
    if kind != "torch" and given:
        what = "an ONNX graph" if kind == "onnx" else "a TensorRT engine"
        raise InputError(f"{' and '.join(given)} {'applies' if len(given) == 1 else 'apply'} to checkpoints; "
                         f"'{artifact}' is {what} that carries the config it was exported with: drop "
                         f"{' and '.join(given)}")


def check_numbers(lost_threshold: float, fps: float | None, width: int | None, height: int | None) -> None:
    """--lost-threshold in [0, 1] (scores are), --fps in (0, 1000], --width / --height in 1..16384 (dt run and
    dt serve)."""
    if not 0 <= lost_threshold <= 1:   # NaN too; '25' (a percentage) flagged every frame lost
        raise InputError(f"--lost-threshold {lost_threshold} must be a score between 0 and 1, e.g. 0.25 (0 disables "
                         "the lost flag)")
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= 1000):
        raise InputError(f"--fps {fps} must be a frame rate > 0 and <= 1000, e.g. --fps 30")
    for name, v in (("--width", width), ("--height", height)):
        if v is not None and not 0 < v <= 16384:
            raise InputError(f"{name} {v} must be a size in pixels between 1 and 16384")


NAME_MAX = 255   # bytes in one file name (ext4, XFS, APFS, NTFS), where the file system does not say


def _name_max(path: Path) -> int:
    """The file system's limit on one name's bytes in `path`'s folder (its nearest existing one)."""
    folder = Path(os.path.abspath(path)).parent
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return NAME_MAX


def check_name_length(label: str, path, beside: list[str] = ()) -> None:
    """`path`'s name, and the `beside` names the run writes next to it (NAME.part, the resume journal), fit the file
    system's limit; else one line naming the longest name that fits (opening would fail mid-run: 'File name too
    long')."""
    p = Path(os.path.expanduser(str(path)))
    limit, own = _name_max(p), len(os.fsencode(p.name))
    longest = max(len(os.fsencode(name)) for name in (p.name, *beside))
    for name in (p.name, *beside):
        size = len(os.fsencode(name))
        if size > limit:
            also = "" if name == p.name else f", and the run writes '{printable(name)}' ({size} bytes) beside it"
            raise InputError(f"{label} '{printable(path)}': a file name holds at most {limit} bytes here and this one "
                             f"has {own}{also}; pass a name of at most {limit - (longest - own)} bytes")


def check_not_folders(opts: TrackingOptions) -> None:
    """--output, --jsonl and --save paths with no file name ('.', './', '/') refused as folders first, before the
    names the runs derive from them (NAME.part, NAME_<k>.txt), which they cannot give; other folders are refused
    in the checks' own order (a name too long for the file system is named as such first)."""
    for label, path in (("--output", opts.output), ("--jsonl", opts.jsonl), ("--save", opts.save)):
        if path and path != "-" and not Path(os.path.expanduser(str(path))).name:
            check_not_folder(label, path)


def check_output_names(outputs: dict[str, list], journal_of: str | None = None) -> None:
    """Every output's name, its NAME.part and (`journal_of`: the label of the output a resumable dt run journals
    beside, the first of them) the journal's files fit the file system's limit on a name."""
    first = True
    for label, paths in outputs.items():
        for o in paths:
            beside = [temp_path(label, o).name]
            if first and label == journal_of:   # NAME.resume.json, its templates, and their temporary files
                name = Path(os.path.expanduser(str(o))).name
                beside += [f"{name}.resume.json", f".{name}.resume.json.XXXXXXXX.tmp",
                           f".{name}.resume.999999.npz.XXXXXXXX.tmp"]
                first = False
            check_name_length(label, o, beside)


def check_output_paths(source: str, inputs: tuple[str | None, ...], outputs: dict[str, list],
                       overwrite: bool = False, unlocked: bool = False) -> None:
    """Every output file usable, none the same as another, the source, an input file or a source folder's frame
    (shared by dt run and dt serve); a killed run's NAME.part with data in it is refused unless `overwrite`
    (--overwrite replaces it as it replaces NAME; never when it is an input). `unlocked`: the caller (dt run) does not
    hold its outputs' locks yet, so a held one is a running writer's, named as such rather than as a killed run."""
    for label, paths in outputs.items():   # '-' is stdout for --jsonl only (filtered out before this check)
        if any(str(o) == "-" for o in paths):
            raise InputError(f"{label} - would write a file named '-'; {label} takes a file path (JSON lines to "
                             "stdout: --jsonl -)")
    check_output_names(outputs)
    found = [p for p in (source, *inputs) if p and os.path.lexists(os.path.expanduser(p))]
    parts = [(label, o, part) for label, paths in outputs.items() for o in paths
             if (part := temp_path(label, o)) != Path(o)]   # /dev/null is written in place: no NAME.part
    check_part_links(parts)
    others = [(lab, o) for lab, paths in outputs.items() for o in paths]
    if os.path.isdir(os.path.expanduser(source)):   # an image folder: its frames are inputs too
        found += [os.path.join(os.path.expanduser(source), os.path.basename(str(o)))
                  for o in (*(o for _, o in others), *(part for _, _, part in parts))]
    check_outputs(outputs, found)
    inside = next(((lab, o) for lab, o in others if in_folder(o, source)), None) if os.path.isdir(
        os.path.expanduser(source)) else None
    if inside is not None:   # its files would sit among the frames (and could replace its groundtruth.txt)
        raise InputError(f"{inside[0]} '{inside[1]}' is inside the input frame folder '{masked(source)}'; pass an "
                         "output path outside that folder")
    for label, out, part in parts:
        src = next((f for f in found if os.path.lexists(f) and same_file(part, f)), None)
        if src is not None:
            raise InputError(f"{label} '{out}' is written as '{part}' until the run ends, and that is the input "
                             f"'{src}'; pass another output path")
        other = next((lab for lab, o in others if same_file(part, o)), None)
        if other is not None:
            raise InputError(f"{label} '{out}' is written as '{part}' until the run ends, and that is {other}; "
                             "give each output its own path")
        if part.is_dir():   # the writer cannot open it; --save's closing rename moved it onto NAME
            raise InputError(folder_where_a_file_goes(part))
        if not overwrite and part.is_file() and part.stat().st_size > 0:   # a killed run's results
            if unlocked and writer_alive(out):   # a running one's: not 'killed'
                raise InputError(f"another dt run or dt serve is writing {out}; wait for it to finish (or stop it), "
                                 "or pass other output paths")
            if not _like_killed_part(label, part):   # a user's file of that name, not a killed run's lines
                raise InputError(f"'{part}' (where {label} '{out}' is written until the run ends) holds something "
                                 f"that is not {label} lines of a killed run; move that file away, or pass --overwrite "
                                 "to replace it")
            raise InputError(f"'{part}' holds the {label} of a run that was killed before it finished; rename "
                             "it to keep it (or delete it, or pass --overwrite to replace it), then run again")
        why = replace_denied(part)   # another user's killed run: opening it would fail after the checks
        if why is not None:
            raise InputError(f"{label} '{out}' is written as '{part}' until the run ends, and that file {why}")


def _like_killed_part(label: str, part: Path) -> bool:
    """Whether NAME.part may be what a killed run streamed there: box rows for --output, JSON objects per line for
    --jsonl (a last line a kill cut short aside); a --save video cut short cannot be told from another."""
    if label == "--output":
        return holds_box_rows(part, torn_last=True)
    if label != "--jsonl":
        return True
    try:
        with open(part, "rb") as f:   # the first MiB tells; a long run's file may be gigabytes
            lines = f.read(1 << 20).decode("utf-8", errors="replace").splitlines()[:-1]
        return all(line.startswith("{") and isinstance(json.loads(line), dict) for line in lines if line.strip())
    except (OSError, ValueError):
        return False


def in_folder(path, folder: str) -> bool:
    """Whether the output `path` lies in `folder` or below it (by its existing parent folders: links and bind mounts
    of the folder count)."""
    parent = Path(os.path.abspath(os.path.expanduser(str(path)))).parent
    for up in (parent, *parent.parents):
        if os.path.isdir(up) and same_file(up, os.path.expanduser(folder)):
            return True
    return False


def temp_path(label: str, path) -> Path:
    """The file an output streams into until the run ends (`sinks.part_path`, `sinks.video_part_path`)."""
    return video_part_path(path) if label == "--save" else part_path(path)


def check_start(start: int, source: str, loop: bool) -> None:
    """dt run --start: a frame number >= 0 of a video file or image folder that is read once (not --loop)."""
    if start < 0:
        raise InputError(f"--start {start}: use a frame number >= 0")
    if start and sources.source_kind(source) == "video" and is_still_image(sources.source_path(source)):
        raise InputError(f"--start {start}: '{masked(source)}' is a single photo, one frame: drop --start")
    if start and (loop or sources.source_kind(source) not in ("video", "folder")):
        what = "--loop replays it from frame 0" if loop else f"'{masked(source)}' is live or missing"
        raise InputError(f"--start picks a frame of a video file or image folder; {what}: drop --start")


def check_source_options(source: str, loop: bool, reconnect: int, reconnect_timeout: float | None,
                         every_frame: bool) -> None:
    """dt run's and dt serve's options for one kind of source given another: --loop (dt run) replays files; --reconnect,
    --reconnect-timeout and --every-frame are for live sources (a file ends, and is read frame by frame): one line
    each rather than an option silently ignored (a missing source is named by `sources.open_source`; dt run names it
    after its option checks, before it asks for a display for the --init box)."""
    kind = sources.source_kind(source)
    if loop and kind in ("camera", "pipeline", "stream"):
        raise InputError(f"--loop replays a video file or image folder from its start; '{masked(source)}' is a live "
                         f"{kind}: drop --loop (--reconnect N reopens it after a drop)")
    if kind in ("video", "folder"):
        given = [o for o, v in (("--reconnect", reconnect), ("--reconnect-timeout", reconnect_timeout is not None),
                                ("--every-frame", every_frame)) if v]
        if given:
            what = ("an image folder, read frame by frame until it ends" if kind == "folder" else
                    "a single photo, one still frame" if is_still_image(sources.source_path(source))
                    else "a video file, read frame by frame until it ends")
            raise InputError(f"{' / '.join(given)} {'is' if len(given) == 1 else 'are'} for cameras, pipelines and "
                             f"streams; '{masked(source)}' is {what}: drop {' and '.join(given)}")


START_FIX = "set the box on a frame that shows it (video files, image folders: --start N)"


def flat_target_note(image: Any, boxes: list, index: int | None, fix: str = START_FIX) -> str | None:
    """Why the boxes set on `image` (frame `index`; None: a caller's frame of unknown index) hold no target: the
    first one of at least 64 px whose pixels are all one colour (within 4 levels: a black, blank or fading-in frame),
    or None; `fix` ends it."""
    import numpy as np

    h, w = image.shape[:2]
    for k, (x, y, bw, bh) in enumerate(boxes):
        x0, y0 = max(0, int(x)), max(0, int(y))
        region = image[y0:min(h, int(np.ceil(y + bh))), x0:min(w, int(np.ceil(x + bw)))]
        if region.size >= 64 * region.shape[-1] and int(np.ptp(region)) <= 4:
            which = f"target {k} " if len(boxes) > 1 else ""
            where = "on the frame given" if index is None else f"on frame {index}"
            return (f"the {which}box {','.join(f'{v:g}' for v in (x, y, bw, bh))} {where} is all one colour "
                    f"(level {int(region.mean())}: a black, blank or fading-in frame?), so the tracker has no target "
                    f"to follow; {fix}")
    return None


def corner_box_note(boxes: list, image_hw: tuple[int, int], api: bool = False) -> str | None:
    """A note for the first init box that runs past the frame's edge while its numbers, read as corners x1,y1,x2,y2,
    make a box inside the frame (the usual mix-up with --init's x,y,w,h), or None. A box past the edge is allowed
    (a target cut by the frame), so this is a warning, not an error. `api`: worded for the Python API's boxes."""
    H, W = image_hw
    for k, (x, y, w, h) in enumerate(boxes):
        if (x + w > W or y + h > H) and 0 <= x < w <= W and 0 <= y < h <= H:
            which = f"target {k}'s " if len(boxes) > 1 else ""
            name, fix = ("box", f"({x:g}, {y:g}, {w - x:g}, {h - y:g})") if api else \
                ("--init box", f"--init {x:g},{y:g},{w - x:g},{h - y:g}")
            return (f"{which}{name} {x:g},{y:g},{w:g},{h:g} runs past the {W}x{H} frame (to {x + w:g},{y + h:g}); "
                    f"{'boxes are' if api else '--init takes'} x,y,w,h: if these are corners x1,y1,x2,y2, pass {fix}")
    return None


def off_target_graph_note(artifact: str | None, meta: Any, device: str) -> str | None:
    """A note when dt run tracks with dt export's TensorRT INT8 graph (model_int8_trt.onnx) in ONNX Runtime on the
    CPU, which runs its Q/DQ nodes by emulation (about FP32's speed or slower, unlike TensorRT), else None (on CUDA
    ONNX Runtime may hand it to its TensorRT provider)."""
    if device != "cpu" or artifact is None or Path(artifact).suffix.lower() != ".onnx" or meta.precision != "int8":
        return None
    target = meta.extra.get("int8_target") if isinstance(meta.extra, dict) else None
    if target != "trt" and not (target is None and Path(artifact).stem.endswith("int8_trt")):   # older exports
        return None
    return (f"'{Path(artifact).name}' is made for TensorRT: ONNX Runtime runs its INT8 (Q/DQ) nodes by emulation, "
            "at about FP32's speed or slower; on a CPU track with model_int8_ort.onnx, and for TensorRT's speed "
            f"build its engine: dt export {shell_quote(str(artifact))} --engine")


def ground_truth_init(source: str, start: int = 0) -> str | None:
    """'--init x,y,w,h' from the box of frame `start` in the ground truth dt eval reads for this video file or frame
    folder (`clip.txt` beside `clip.mp4`, `groundtruth.txt` in the folder), or None where there is none."""
    from droptrack.data.folder import ground_truth_files
    from droptrack.data.labels import load_boxes
    from droptrack.errors import DatasetError

    src = Path(os.path.expanduser(source))
    if not src.exists():
        return None
    for gt in ground_truth_files(src):
        try:
            rows = load_boxes(gt) if gt.is_file() else None
        except DatasetError:
            return None
        if rows is not None and 0 <= start < len(rows) and math.isfinite(float(rows[start].sum())):
            return f"--init {','.join(f'{v:g}' for v in rows[start])}"
    return None
