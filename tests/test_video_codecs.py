"""Compressed videos that decode only in part. One that opens and then gives no frame (its codec has no decoder in
this OpenCV build, as AV1 before OpenCV 5.1, or none of its packets decodes): `dt run` and the dataset readers name
the codec instead of an empty file or a short annotation. An H.264 keyframe that is damaged takes the frames that
depend on it along, which FFmpeg drops without a failed read: `dt run` keeps every later frame at its index. Made
with the ffmpeg command line; skipped where it (or its encoder) is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from droptrack.videofiles import frames_lost

runner = CliRunner()


def av1_clip(folder: Path) -> Path:
    """A 10-frame AV1 mp4, when ffmpeg can write one (OpenCV decodes it from 5.1 on: the fixture skips there)."""
    path = folder / "clip.mp4"
    for encoder in ("libsvtav1", "libaom-av1"):
        args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc=size=64x48:rate=10:duration=1", "-c:v", encoder, "-pix_fmt", "yuv420p", str(path)]
        if subprocess.run(args + (["-cpu-used", "8"] if encoder == "libaom-av1" else []),
                          capture_output=True, timeout=120).returncode == 0:
            break
    else:
        pytest.skip("ffmpeg has no AV1 encoder")
    return path


def blanked_clip(folder: Path) -> Path:
    """A 10-frame MPEG-4 Part 2 AVI (FourCC FMP4) whose every packet is zeroed: the container and its index are
    whole, so it opens in any OpenCV build, and no packet holds a frame the decoder can read."""
    path = folder / "blank.avi"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mpeg4", "-tag:v", "FMP4", str(path)],
                   check=True, capture_output=True, timeout=120)
    return zero_packets(path)


def packets(path: Path) -> list[dict]:
    """ffprobe's packets of `path`: their file positions, sizes and flags."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=pos,size,flags", "-of", "json",
                            str(path)], capture_output=True, text=True, timeout=60)
    return json.loads(probe.stdout)["packets"]


def zero_packets(path: Path, which: list[int] | None = None) -> Path:
    """`path` with the bytes of its packets numbered in `which` (ffprobe's order; None: all) set to zero."""
    data, packets_ = bytearray(path.read_bytes()), packets(path)
    for i in range(len(packets_)) if which is None else which:
        pos, size = int(packets_[i]["pos"]), int(packets_[i]["size"])
        data[pos:pos + size] = bytes(size)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module", params=[("AV01", av1_clip), ("FMP4", blanked_clip)], ids=["av1", "blanked"])
def undecodable(request, tmp_path_factory) -> tuple[Path, str]:
    """A video that OpenCV opens and never decodes a frame of, with the FourCC the message should name."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed")
    tag, make = request.param
    path = make(tmp_path_factory.mktemp(tag))
    cap = cv2.VideoCapture(str(path))
    opened, decodes = cap.isOpened(), cap.read()[0]
    cap.release()
    if tag == "AV01" and (not opened or decodes):
        pytest.skip("this OpenCV build decodes AV1 (or cannot open it at all)")
    assert opened and not decodes, f"{path.name}: opened {opened}, a frame decoded {decodes}"
    return path, tag


def test_run_names_the_codec_of_a_video_that_opens_but_never_decodes(tiny_ckpt, undecodable, tmp_path):
    clip, tag = undecodable
    r = runner.invoke(app, ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert f"codec ({tag})" in r.output and "ffmpeg -i IN" in r.output and "empty" not in r.output, r.output


def test_dataset_reader_names_the_codec_not_a_too_long_annotation(undecodable):
    clip, tag = undecodable
    clip.with_suffix(".txt").write_text("1,1,8,8\n" * 10)
    (seq,) = get_sequences("video", clip)
    with pytest.raises(DatasetError, match=rf"codec \({tag}\)") as err:
        next(seq.iter_frames())
    assert "groundtruth" not in str(err.value) and "annotation" not in str(err.value)


@pytest.mark.parametrize("fps, before, now, failed, lost", [
    (25.0, None, 0.4, 1, 10),    # the first keyframe damaged: frames 0..9 lost, the first good one is frame 10
    (25.0, 0.36, 0.76, 1, 9),    # frame 10 damaged after frame 9: 10..18 lost, the good one is frame 19
    (10.0, 0.2, 0.4, 1, 1),      # an intra-only (MJPEG) frame: just the one that failed
    (25.0, 0.36, 0.40, 2, 2),    # never fewer than the failed reads (timestamps of a variable frame rate)
    (None, 0.36, 0.76, 1, 1),    # no frame rate: the failed reads
])
def test_frames_lost_counts_those_dropped_after_a_damaged_keyframe(fps, before, now, failed, lost):
    assert frames_lost(fps, before, now, failed) == lost


@pytest.mark.parametrize("step, before, now, failed, lost", [
    (0.2, 0.8, 1.2, 1, 1),       # a 15 FPS header over frames stored 0.2 s apart: one frame, not 5
    (0.2, 0.8, 1.6, 1, 3),       # three frames' time: two dropped besides the one that failed
    (0.04, 0.36, 0.76, 1, 9),    # the file's own spacing is its rate's: as without it
    (0.2, None, 0.4, 1, 6),      # no good frame yet: the header's rate (its spacing is not known)
])
def test_frames_lost_counts_in_the_files_own_frame_spacing(step, before, now, failed, lost):
    assert frames_lost(15.0 if step == 0.2 else 25.0, before, now, failed, step) == lost


def test_a_damaged_frame_of_a_file_storing_fewer_frames_than_its_rate_is_one_frame(tiny_ckpt, tmp_path):
    """An AVI whose header says 15 FPS and 60 frames stores 20, 0.2 s apart (a variable frame rate as AVI writes
    it); its damaged frame 5 was counted at the header's rate as 5 frames lost, and every later index moved by 4."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed")
    clip = tmp_path / "vfr.avi"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=96x64:rate=5:duration=4", "-c:v", "mjpeg", "-fps_mode", "passthrough",
                    "-enc_time_base", "1/15", str(clip)], check=True, capture_output=True, timeout=120)
    assert len(packets(clip)) == 20
    zero_packets(clip, [5])
    r = runner.invoke(app, ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,30,30",
                            "--output", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 20 and [i for i, ln in enumerate(lines) if "nan" in ln] == [5], lines


def h264_with_damaged_keyframe(folder: Path, keyframe: int) -> Path:
    """A 25-frame 25 FPS H.264 mp4 with a keyframe every 10 frames, the packet of keyframe `keyframe` zeroed."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed")
    path = folder / f"key{keyframe}.mp4"
    made = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                           "testsrc=size=96x64:rate=25:duration=1", "-c:v", "libx264", "-bf", "0", "-g", "10",
                           "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(path)], capture_output=True, timeout=120)
    if made.returncode != 0:
        pytest.skip("ffmpeg has no libx264")
    assert [i for i, p in enumerate(packets(path)) if p["flags"].startswith("K")] == [0, 10, 20]
    return zero_packets(path, [keyframe])


def test_frames_after_a_damaged_keyframe_keep_their_index(tiny_ckpt, tmp_path):
    clip = h264_with_damaged_keyframe(tmp_path, 10)
    r = runner.invoke(app, ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,30,30",
                            "--output", str(tmp_path / "b.txt"), "--jsonl", str(tmp_path / "r.jsonl")])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 25 and [i for i, ln in enumerate(lines) if "nan" in ln] == list(range(10, 19)), lines
    recs = [json.loads(ln) for ln in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert recs[19]["frame"] == 19 and recs[19]["timestamp"] == pytest.approx(19 / 25)   # where its time says


def test_a_damaged_first_keyframe_names_every_frame_lost_and_where_to_cut(tiny_ckpt, tmp_path):
    clip = h264_with_damaged_keyframe(tmp_path, 0)
    r = runner.invoke(app, ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,30,30"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "its first 10 frame(s) could not be decoded" in r.output and "ffmpeg -ss 0.4 -i IN" in r.output, r.output
