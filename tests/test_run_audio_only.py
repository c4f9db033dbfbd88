"""An MP4/MOV file with no video stream (a voice memo or a recording's sound saved as .mp4) was refused as 'OpenCV
cannot decode it' with advice to re-encode it with `ffmpeg -c:v mpeg4`, which keeps it audio-only. Its tracks are
now read from its 'moov' box: the one-line error (exit 2) says it has no video stream; a file with a video track
is never called so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import cli, one_line_error

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from droptrack.videofiles import track_kinds


def box(kind: bytes, body: bytes) -> bytes:
    """One MP4 box: 32-bit size, type, body."""
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def mp4_of_tracks(path: Path, *handlers: bytes) -> Path:
    """A bare MP4 whose 'moov' holds one track per handler type (b'soun', b'vide', ...): what the probe reads."""
    traks = b"".join(box(b"trak", box(b"mdia", box(b"hdlr", bytes(8) + h + bytes(12) + b"\0"))) for h in handlers)
    path.write_bytes(box(b"ftyp", b"isom" + bytes(4) + b"isommp41") + box(b"moov", traks) + box(b"mdat", bytes(64)))
    return path


def test_run_says_an_audio_only_mp4_has_no_video_stream(tmp_path):
    audio = mp4_of_tracks(tmp_path / "memo.mp4", b"soun")
    assert not cv2.VideoCapture(str(audio)).isOpened()
    line = one_line_error(cli("run", audio, "--init", "10,10,20,20"))
    assert "has no video stream, only audio" in line and "c:v mpeg4" not in line, line


def test_dataset_reader_says_so_too(tmp_path):
    with pytest.raises(DatasetError, match="no video stream, only audio"):
        get_sequences("video", mp4_of_tracks(tmp_path / "memo.mov", b"soun"))


def test_tracks_are_read_and_a_video_track_is_never_called_missing(tmp_path):
    assert track_kinds(mp4_of_tracks(tmp_path / "a.mp4", b"vide", b"soun")) == [b"vide", b"soun"]
    assert track_kinds(mp4_of_tracks(tmp_path / "b.mp4", b"soun", b"text")) == [b"soun", b"text"]
    line = one_line_error(cli("run", tmp_path / "b.mp4", "--init", "10,10,20,20"))
    assert "no video stream, only tracks of kind soun, text" in line, line
    w = cv2.VideoWriter(str(tmp_path / "real.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    if w.isOpened():
        for _ in range(3):
            w.write(np.zeros((48, 64, 3), np.uint8))
        w.release()
        assert track_kinds(tmp_path / "real.mp4") == [b"vide"]
    (tmp_path / "junk.mp4").write_bytes(b"\0\0\0\x10moov" + bytes(4))   # a damaged box: no tracks, no error
    assert track_kinds(tmp_path / "junk.mp4") == []


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program")
def test_an_audio_only_mp4_that_ffmpeg_wrote(tmp_path):
    audio = tmp_path / "a.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(audio)],
                   check=True, timeout=60)
    line = one_line_error(cli("run", audio, "--init", "10,10,20,20"))
    assert "has no video stream, only audio" in line, line
