"""`dt run VIDEO --resume` decoded every frame the outputs already held to get back to where it stopped. It seeks
now where the landing is checked to be exact (`seek.land_on`); the files equal an uninterrupted run's byte for byte."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2")
MEGAMIND = Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")   # 270 frames, MPEG-4 part 2
INIT = "300,180,90,90"


def _opts(ckpt: Path, out: Path, **kw):
    from droptrack.runtime.run import RunOptions

    return RunOptions(source=str(MEGAMIND), artifact=str(ckpt), init=[INIT], output=str(out / "b.txt"),
                      jsonl=str(out / "b.jsonl"), device="cpu", threads=1, start=150, max_frames=70, **kw)


def test_resume_seeks_past_the_frames_the_outputs_hold(tiny_ckpt, tmp_path, reads):
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    from droptrack.runtime.run import run

    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir(), out.mkdir()
    assert run(_opts(tiny_ckpt, ref)).frames == 70   # frames 150..219 in one go
    first = run(_opts(tiny_ckpt, out), on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 60
                else None)
    assert first.interrupted and first.frames == 60
    reads.clear()
    second = run(_opts(tiny_ckpt, out, resume=True))
    assert second.resumed == 60 and second.frames == 70 and not second.interrupted
    assert len(reads) < 30, len(reads)   # not the 60 frames the outputs hold: a seek, a few read ahead, 10 tracked
    for name in ("b.txt", "b.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert sorted(p.name for p in out.iterdir()) == ["b.jsonl", "b.txt"]


def test_a_resume_seek_that_misses_decodes_forward(tiny_ckpt, tmp_path, monkeypatch):
    """A seek that lands one frame late (as OpenCV's does in some files) is noticed: the frames are decoded, and the
    files still equal the uninterrupted run's."""
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    from droptrack.runtime.run import run

    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir(), out.mkdir()
    assert run(_opts(tiny_ckpt, ref)).frames == 70
    first = run(_opts(tiny_ckpt, out), on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 40
                else None)
    assert first.interrupted and first.frames == 40
    real = cv2.VideoCapture

    class Late:
        def __init__(self, *args):
            self._cap = real(*args)

        def set(self, prop, value):
            return self._cap.set(prop, value + 1 if prop == cv2.CAP_PROP_POS_FRAMES and value else value)

        def __getattr__(self, name):
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", Late)
    second = run(_opts(tiny_ckpt, out, resume=True))
    assert second.resumed == 40 and second.frames == 70 and not second.interrupted
    for name in ("b.txt", "b.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
