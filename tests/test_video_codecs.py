"""Videos whose codec this OpenCV build cannot decode (AV1 without a software decoder in the bundled FFmpeg): they
open, then give no frame; `dt run` and the dataset readers name the codec instead of an empty file or a short
annotation. Made with the ffmpeg command line; skipped where it or its AV1 encoder is missing, or OpenCV decodes AV1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data import get_sequences
from droptrack.errors import DatasetError

runner = CliRunner()


@pytest.fixture(scope="module")
def av1_clip(tmp_path_factory) -> Path:
    """A 10-frame AV1 mp4, when ffmpeg can write one and OpenCV cannot decode it."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    path = tmp_path_factory.mktemp("av1") / "clip.mp4"
    for encoder in ("libsvtav1", "libaom-av1"):
        args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc=size=64x48:rate=10:duration=1", "-c:v", encoder, "-pix_fmt", "yuv420p", str(path)]
        if subprocess.run(args + (["-cpu-used", "8"] if encoder == "libaom-av1" else []),
                          capture_output=True, timeout=120).returncode == 0:
            break
    else:
        pytest.skip("ffmpeg has no AV1 encoder")
    cap = cv2.VideoCapture(str(path))
    opened, decodes = cap.isOpened(), cap.read()[0]
    cap.release()
    if not opened or decodes:
        pytest.skip("this OpenCV build decodes AV1 (or cannot open it at all)")
    return path


def test_run_names_the_codec_of_a_video_that_opens_but_never_decodes(tiny_ckpt, av1_clip, tmp_path):
    r = runner.invoke(app, ["run", str(av1_clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "codec (AV01)" in r.output and "ffmpeg -i IN" in r.output and "empty" not in r.output, r.output


def test_dataset_reader_names_the_codec_not_a_too_long_annotation(av1_clip):
    av1_clip.with_suffix(".txt").write_text("1,1,8,8\n" * 10)
    (seq,) = get_sequences("video", av1_clip)
    with pytest.raises(DatasetError, match=r"codec \(AV01\)") as err:
        next(seq.iter_frames())
    assert "groundtruth" not in str(err.value) and "annotation" not in str(err.value)
