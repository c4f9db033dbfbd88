"""dt bench's failure wording: a video that stores fewer frames than its rate implies (Debian opencv-doc's tree.avi:
68 stored frames over 29.5 s, header 444 at 15 FPS) is explained as dt run explains it, not called truncated (in the
warning that its stored frames are the ones used); a reason every row met is said once (the error line said it once
per artifact), and no empty 'plots:' line."""

from __future__ import annotations

import shutil
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.errors import GateError
from droptrack.eval.bench import BenchReport, BenchRow, check_gates
from droptrack.eval.bench_view import summary_lines

TREE = Path("/usr/share/doc/opencv-doc/examples/data/tree.avi")


def short_avi(path: Path, frames: int, count: int) -> Path:
    """A 10 FPS MJPG AVI of `frames` flat frames whose header counts `count` (a file cut short)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    data = bytearray(path.read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")   # dwTotalFrames, the stream's dwLength
    data[avih + 24:avih + 28] = struct.pack("<I", count)
    data[strh + 40:strh + 44] = struct.pack("<I", count)
    path.write_bytes(bytes(data))
    return path


def read_warning(video: Path, frames: int) -> str:
    """The one warning reading `video` gives; its sequence holds the `frames` that decode, and all of them read."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (seq,) = get_sequences("video", video)
    assert len(seq) == frames and len(list(seq.iter_frames())) == frames
    assert len(caught) == 1, [str(w.message) for w in caught]
    return str(caught[0].message)


@pytest.mark.skipif(not TREE.is_file(), reason="needs Debian's opencv-doc (tree.avi)")
def test_variable_rate_video_is_explained_as_dt_run_does(tmp_path):
    shutil.copy(TREE, tmp_path / "tree.avi")
    msg = read_warning(tmp_path / "tree.avi", 68)
    assert "gave 68 frames, not the 444 its header counts, but they span 29.5 s" in msg, msg
    assert "stores fewer frames than its rate" in msg and msg.endswith("; those 68 frames are used"), msg
    assert "truncated" not in msg and "damaged" not in msg, msg


def test_a_file_cut_short_is_still_called_truncated(tmp_path):
    msg = read_warning(short_avi(tmp_path / "cut.avi", frames=5, count=20), 5)
    assert "decodes only 5 of the 20 frames" in msg and "truncated or damaged" in msg, msg


def failed_report(tmp_path: Path) -> BenchReport:
    rows = [BenchRow(n, f"{n}.pt", "torch", status="failed", reason="the video is short") for n in ("a", "b", "c")]
    rows.append(BenchRow("d", "d.onnx", "onnx", status="failed", reason="another reason"))
    return BenchReport(tmp_path, None, {}, None, rows, [])


def test_a_reason_every_row_met_is_said_once(tmp_path):
    report = failed_report(tmp_path)
    with pytest.raises(GateError) as err:
        check_gates(report)
    msg = str(err.value)
    assert msg.count("the video is short") == 1 and msg.count("another reason") == 1, msg
    assert "(a, b, c failed: the video is short; d failed: another reason)" in msg, msg
    lines = summary_lines(report)
    assert sum("the video is short" in ln for ln in lines) == 1, lines


def test_no_empty_plots_line(tmp_path):
    lines = summary_lines(failed_report(tmp_path))
    assert not any(ln.strip() in ("plots:", "") for ln in lines), lines
    assert any(ln.startswith("report: ") for ln in lines), lines
