"""A full disk (ENOSPC), a quota or a file-size limit (EFBIG: FAT32, `ulimit -f`) is one 'error: no room left
writing FILE' line with exit 2, not a traceback; dt run's streamed outputs keep their whole lines in NAME.part (an
earlier result at NAME stays: tests/test_run_overwrite_disk_full.py), and an unfinished atomic file is never moved
into place. The limit is real: the child process runs under RLIMIT_FSIZE
(or on a tiny tmpfs, where the test may mount one)."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from droptrack.runtime.sinks import VideoSink
from droptrack.runtime.sources import Frame
from disk_limits import dt_limited, tmpfs


def test_jsonl_stream_keeps_its_whole_lines(tiny_ckpt, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    import cv2

    for i in range(40):
        cv2.imwrite(str(frames / f"{i:04d}.png"), rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    out = tmp_path / "out" / "boxes.jsonl"
    p = dt_limited(["run", str(frames), "--checkpoint", str(tiny_ckpt), "--init", "30,20,24,18", "--jsonl", str(out),
                    "--threads", "1"], 2500, tmp_path)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2, p.stderr
    assert lines[-1].startswith("error: no room left writing") and "Traceback" not in p.stderr, p.stderr
    kept = int(re.search(r"keeps the (\d+) whole lines", lines[-1]).group(1))
    part = out.with_name("boxes.jsonl.part")   # unfinished: not moved onto its name (`--resume` continues it)
    records = [json.loads(ln) for ln in part.read_text().splitlines()]   # every line whole: none cut mid-record
    assert 0 < kept == len(records) < 40 and f"{part} keeps the {kept} whole lines" in lines[-1]
    assert [r["frame"] for r in records] == list(range(kept))
    assert part.stat().st_size <= 2500 and not out.exists()


def test_atomic_output_names_the_file_and_is_not_moved_into_place(tmp_path):
    p = dt_limited(["data", "synth", str(tmp_path / "set"), "--sequences", "1", "--frames", "3", "--ext", "png"],
                   2000, tmp_path)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert re.match(r"error: no room left writing '.*set/synth_train_00001/00000001\.png' \(File too large\)",
                    lines[-1]), lines[-1]
    assert not (tmp_path / "set" / "synth_train_00001" / "00000001.png").exists()   # no half image under its name


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 16 KiB tmpfs (needs root and a mount-capable container; skipped elsewhere)."""
    with tmpfs(tmp_path / "mnt", "16k") as mnt:
        yield mnt


def test_video_on_a_full_disk_stops_and_keeps_no_broken_video(full_tmpfs):
    """OpenCV's writer only logs failed writes: the sink itself notices the disk is full and stops the run."""
    from droptrack.errors import OutputFull
    from droptrack.runtime.sinks import TargetState

    sink = VideoSink(full_tmpfs / "out.avi", fps=10)
    rng = np.random.default_rng(0)
    with pytest.raises(OutputFull, match="no room left writing .*out.part.avi"):
        for i in range(200):   # 200 noisy MJPG frames of 160x120 are far more than 16 KiB
            sink.write(Frame(i, float(i), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)),
                       [TargetState([10, 10, 20, 20], 0.9, False)])
    sink.close()
    assert not (full_tmpfs / "out.avi").exists() and (full_tmpfs / "out.part.avi").exists()


@pytest.fixture
def small_tmpfs(tmp_path, request):
    """A tmpfs of request.param bytes (needs root and a mount-capable container; skipped elsewhere)."""
    with tmpfs(tmp_path / "mnt", request.param) as mnt:
        yield mnt


# the tiny model's model.onnx is 1.4 MB: 2 MB runs out in the simplifier (its error was swallowed and the export
# blamed a 'not static' graph), 3 MB in ONNX's C++ shape inference of the INT8 step (it writes a cut file without
# an error: a protobuf DecodeError traceback), 4 MB in the second INT8 graph
@pytest.mark.parametrize("small_tmpfs", ["2m", "3m", "4m"], indirect=True)
def test_export_int8_on_a_full_disk_is_one_line(tiny_ckpt, small_tmpfs):
    from helpers import cli

    out = small_tmpfs / "exp"
    result = cli("export", tiny_ckpt, "--int8", "--calib-pairs", "8", "-o", out)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert lines[-1].startswith(f"error: no room left writing '{out}/") and "(No space left on device)" in lines[-1]
    assert not out.exists() or not [p.name for p in out.iterdir() if p.name.startswith(".dt-")]   # temp folders
    # removed; a folder the export made and left empty is removed too


@pytest.mark.parametrize("nproc", [1, 2])
def test_train_checkpoint_past_a_size_limit_is_one_line(tmp_path, nproc):
    """torch.save reports a full disk or a size limit as RuntimeError 'unexpected pos' (the OSError is only its
    context): it was a traceback, exit 1; under --nproc 2 the other rank's collective then failed with a traceback
    of its own (connection closed by peer)."""
    from droptrack.data.synth import generate_synth

    data = generate_synth(tmp_path / "synth", sequences=2, frames=24, seed=0, size=(160, 120))
    p = dt_limited(["train", "--config", "tiny_ce_test", "--output", str(tmp_path / "run"), "--data", f"synth={data}",
                    "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "4", "--workers", "0",
                    "--device", "cpu", "--nproc", str(nproc)], 1_000_000, tmp_path)   # the tiny model's last.pt: 4 MB
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error: ")]
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert errors[0].startswith(f"error: no room left writing '{tmp_path / 'run' / 'last.pt'}' (File too large)")
    assert errors[1:] == ["error: rank 1 stopped: another process of this run failed (its error is printed too)"][:nproc - 1]
    assert not (tmp_path / "run" / "last.pt").exists() and not list((tmp_path / "run").glob(".*.tmp"))


def test_video_past_a_size_limit_is_one_line_without_opencvs_log(tiny_ckpt, tmp_path):
    """OpenCV's FFmpeg writer logs each refused write ('[ WARN:0@1.7] global cap_ffmpeg.cpp:219 write FFmpeg: Failed
    to write frame') on stderr, above the sink's own 'no room left' line; it is kept off stderr while writing."""
    from droptrack.data.media import bundled_video

    out = tmp_path / "out" / "v.avi"
    p = dt_limited(["run", str(bundled_video("carphone_pristine.mp4")), "--checkpoint", str(tiny_ckpt), "--init",
                    "60,40,40,50", "--max-frames", "60", "--threads", "1", "--save", str(out)], 20000, tmp_path)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith(("warning: ", "tracking "))]
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: no room left writing '{out.with_name('v.part.avi')}'"), \
        p.stderr
    assert not out.exists()


def test_tensorboard_curves_past_a_size_limit_are_one_line(tmp_path):
    """TensorBoard's events file was written by SummaryWriter's own thread: a full disk there printed 'Exception in
    thread ...' and a traceback, then the run stopped with 'no room left writing an output'. With --config
    OUTPUT/config.yaml (an input, kept) the events file is the first file the run writes, so a limit of 20 bytes
    stops it there."""
    pytest.importorskip("tensorboard")
    from droptrack.config import load_config, save_config
    from droptrack.data.synth import generate_synth

    data = generate_synth(tmp_path / "synth", sequences=2, frames=24, seed=0, size=(160, 120))
    out = tmp_path / "run"
    out.mkdir()
    save_config(load_config("tiny_ce_test"), out / "config.yaml")
    p = dt_limited(["train", "--config", str(out / "config.yaml"), "--output", str(out), "--data", f"synth={data}",
                    "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "4", "--workers", "0",
                    "--device", "cpu"], 20, tmp_path)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and "Traceback" not in p.stderr and "Exception in thread" not in p.stderr, p.stderr
    assert re.match(rf"error: no room left writing '{re.escape(str(out / 'tb'))}/events\.out\.tfevents\.\S+' "
                    r"\(File too large\)", lines[-1]), lines[-1]
    assert lines[-1].endswith("no checkpoint was written yet; run the same command again to start over")


def test_a_full_log_that_stdout_is_redirected_to_is_named(tmp_path):
    """`dt ... > log` where the log found no room: the error said 'no room left writing an output', naming none of the
    outputs (which were complete: here a kept set, nothing else is written); it names the standard output and where
    it was redirected to."""
    import subprocess
    import sys

    from droptrack.data.synth import generate_synth
    from exec_with import exec_with

    out = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72))
    log = tmp_path / "log.txt"
    with open(log, "wb") as f:   # the same set: kept, only its summary lines are printed (more than 40 bytes)
        p = subprocess.run(exec_with([sys.executable, "-B", "-m", "droptrack", "data", "synth", str(out), "-n", "1",
                                      "--frames", "3", "--size", "96x72"], file_size=40),
                           stdout=f, stderr=subprocess.PIPE, text=True, timeout=300, cwd=tmp_path,
                           env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith(f"error: no room left writing the standard output (redirected to '{log}') (File too "
                               "large): ") and len(p.stderr.splitlines()) == 1, p.stderr


def test_safetensors_past_a_size_limit_is_one_line(tiny_ckpt, tmp_path):
    """safetensors (Rust) raises SafetensorError '... (os error 27)' and removes its file: it was a traceback."""
    p = dt_limited(["export", str(tiny_ckpt), "--safetensors", "-o", str(tmp_path / "exp")], 1_000_000, tmp_path)
    last = p.stderr.strip().splitlines()[-1]
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert last.startswith(f"error: no room left writing '{tmp_path / 'exp' / 'model.safetensors'}' (File too large)")
    assert not (tmp_path / "exp").exists()   # the folder the export made, left empty, is removed


QUOTA_CHILD = """
import json, os, sys
from pathlib import Path
import numpy as np
from disk_limits import refuse_writes
from droptrack.errors import OutputFull
from droptrack.runtime.sinks import TargetState, VideoSink
from droptrack.runtime.sources import Frame

out, when = Path(sys.argv[1]), sys.argv[2]
sink, rng, frames, error = VideoSink(out / "v.avi", fps=10), np.random.default_rng(0), 0, None
box = [TargetState([10, 10, 20, 20], 0.9, False)]
try:
    for i in range(40):
        if i == 10:   # the quota is used up: every write to the video and every new block are refused from now on
            fd = next(int(f) for f in os.listdir("/proc/self/fd") if os.readlink(f"/proc/self/fd/{f}") == str(sink.part))
            if not refuse_writes(fd, 122):   # EDQUOT
                print(json.dumps({"skip": True}))
                sys.exit()
            if when == "closing":
                break
        sink.write(Frame(i, float(i), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)), box)
        frames += 1
except OutputFull as exc:
    error = str(exc)
try:
    sink.close()
except OutputFull as exc:
    error = error or str(exc)
print(json.dumps({"frames": frames, "error": error, "files": sorted(os.listdir(out))}))
"""


@pytest.mark.parametrize("when", ["writing", "closing"])
def test_video_whose_disk_quota_runs_out_stops_and_keeps_no_broken_video(tmp_path, when):
    """A used-up disk quota (EDQUOT) leaves the disk's free space (statvfs) as it was, and OpenCV only logs the
    writes it refuses: the video went on 'writing' frames that never reached the disk, and the cut file (no index,
    as when the quota ran out while the writer was closing) was moved into place as NAME. Now the sink asks the file
    system for a block with an unnamed file when the video did not grow (and at close): EDQUOT stops it with the
    one line, and the video stays NAME.part.EXT. Real quotas need root, quota tools and a file system with quotas
    (this kernel's tmpfs has none): a seccomp filter makes the kernel refuse the video's writes and any new block
    with EDQUOT, as a used-up quota does."""
    import errno
    import subprocess
    import sys
    from pathlib import Path

    assert errno.EDQUOT == 122   # the child's refuse_writes(fd, 122)
    tests = Path(__file__).resolve().parent
    env = {"PYTHONPATH": f"{tests.parent}{os.pathsep}{tests}", "OMP_NUM_THREADS": "1", "PATH": os.environ["PATH"]}
    p = subprocess.run([sys.executable, "-c", QUOTA_CHILD, str(tmp_path), when], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.splitlines()[-1])
    if got.get("skip"):
        pytest.skip("no seccomp filter here (not Linux x86_64/aarch64, or refused)")
    assert got["frames"] == 10   # the quota ran out after frame 10: the next one stopped (when writing)
    assert got["error"] and got["error"].startswith(f"no room left writing '{tmp_path / 'v.part.avi'}' (Disk quota "
                                                    "exceeded)"), got
    assert got["files"] == ["v.part.avi"]   # never moved into place as v.avi


class _BufferingWriter:
    """A video writer that puts its bytes into the file only every `every` frames (as OpenCV's mp4v writer buffers
    a static scene's small frames), until `stop` frames: then none reach the file (refused writes)."""

    def __init__(self, path, every: int, stop: int):
        self.path, self.every, self.stop, self.frames = path, every, stop, 0

    def write(self, image) -> None:
        self.frames += 1
        if self.frames < self.stop and self.frames % self.every == 1:
            with open(self.path, "ab") as f:
                f.write(b"x" * 100)

    def release(self) -> None:
        pass


def test_video_asks_for_a_block_only_when_it_stays_flat_longer_than_its_writer_buffers(tmp_path, monkeypatch):
    """Asking the file system for a block (the quota check) allocates and frees one: about 3 ms of journal wait on
    ext4, which --save paid on almost every frame, since OpenCV's mp4v writer puts a static scene's frames into the
    file only every few frames. Now it asks while the video stays flat longer than it ever did before growing."""
    import droptrack.runtime.videosink as sinks

    asked: list[int] = []
    monkeypatch.setattr(sinks, "refused_block", lambda folder: asked.append(writer.frames) or None)
    sink = VideoSink(tmp_path / "v.avi", fps=10)
    writer = _BufferingWriter(sink.part, every=4, stop=22)   # grows at frames 1, 5, 9, 13, 17, 21; never after
    sink.writer, sink.size = writer, (64, 48)
    for i in range(28):
        sink.write(Frame(i, float(i), np.zeros((48, 64, 3), np.uint8)), [])
    # frames 2-4: flat longer than ever (it never was); 6-8, ..., 18-20: 3 flat, as before; from 22 on it stays
    # flat: frames 22-24 as before, then from 25 on longer than ever
    assert asked == [2, 3, 4, 25, 26, 27, 28]
