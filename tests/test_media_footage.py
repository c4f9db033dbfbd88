"""Footage as phones and cameras write it: rotation metadata, EXIF orientation, damaged frames, lying headers and
frame rates, 16-bit / gray / palette / CMYK images (real files written here with OpenCV and Pillow)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data import get_sequences
from droptrack.runtime.sources import open_source

runner = CliRunner()
RED = (0, 0, 255)   # BGR


def marked(size: tuple[int, int], value: int = 0) -> np.ndarray:
    """A BGR frame of value `value` with a red 16x8 block in its top-left corner (shows the orientation)."""
    img = np.full((size[1], size[0], 3), value, np.uint8)
    img[:8, :16] = RED
    return img


def rotated_mp4(path: Path, frames: int = 4, size: tuple[int, int] = (64, 48)) -> Path:
    """An mp4v video whose track header carries a 90-degree display matrix, as a phone writes portrait video."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for _ in range(frames):
        w.write(marked(size))
    w.release()
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    off = i + 4 + 4 + (32 if data[i + 4] == 1 else 20) + 8 + 8   # version/flags, times, id, duration, layer...
    assert struct.unpack(">9i", data[off:off + 36]) == (65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)   # identity
    data[off:off + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)        # rotate 90
    path.write_bytes(bytes(data))
    return path


def mjpg_avi(path: Path, frames: int = 10, damaged: tuple[int, ...] = (), rate: tuple[int, int] | None = None,
             count: int | None = None) -> Path:
    """A 64x48 MJPG AVI of flat frames of value 20 * index; `damaged` frames lose their JPEG headers (the decoder
    refuses them), `rate` (scale, rate) and `count` overwrite what the header says."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(starts) == frames
    for k in damaged:
        data[starts[k]:starts[k] + 200] = bytes(200)
    strh, avih = data.find(b"strh"), data.find(b"avih")
    if rate is not None:
        data[strh + 28:strh + 36] = struct.pack("<II", *rate)
    if count is not None:
        data[avih + 24:avih + 28] = struct.pack("<I", count)
        data[strh + 40:strh + 44] = struct.pack("<I", count)
    path.write_bytes(bytes(data))
    return path


def run(tiny_ckpt, source: Path, *args: str):
    """dt run on the CPU."""
    return runner.invoke(app, ["run", str(source), "-m", str(tiny_ckpt), "--device", "cpu", *args])


def video_frames(path: Path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from a video file."""
    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, img = cap.read()
        if not ok:
            return out
        out.append(img)


def test_rotated_phone_video_is_tracked_in_its_displayed_orientation(tiny_ckpt, tmp_path):
    """OpenCV applies the display matrix (CAP_PROP_ORIENTATION_AUTO): frames, --init, the boxes, the frame size
    that clips them, --save and the dataset reader all use the upright 48x64 picture."""
    clip = rotated_mp4(tmp_path / "portrait.mp4")
    with open_source(clip) as src:
        first = next(iter(src)).image
    assert first.shape == (64, 48, 3)
    red = np.argwhere((first[:, :, 0] > 200) & (first[:, :, 2] < 60))
    assert red.min(0).tolist() == [0, 40] and red.max(0).tolist() == [15, 47]   # top-left turned to top-right
    r = run(tiny_ckpt, clip, "--init", "30,40,30,30", "--output", str(tmp_path / "b.txt"),
            "--save", str(tmp_path / "v.mp4"))
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 4 and lines[0] == "30\t40\t18\t24"   # clipped to 48 wide, 64 high
    for line in lines:
        x, y, w, h = map(int, line.split("\t"))
        assert x >= 0 and y >= 0 and x + w <= 48 and y + h <= 64, line
    saved = video_frames(tmp_path / "v.mp4")
    assert len(saved) == 4 and saved[0].shape == (64, 48, 3)
    (seq,) = get_sequences("video", clip)
    assert seq.image_size == (48, 64) and seq.frame(2).shape == (64, 48, 3)


def exif_jpeg(path: Path, orientation: int, value: int = 0) -> Path:
    """A 64x48 JPEG stored landscape with an EXIF orientation tag (6: the camera was turned, show it rotated)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(marked((64, 48), value)[:, :, ::-1]).save(path, exif=exif, quality=95)
    return path


def test_exif_oriented_jpegs_read_upright_by_run_and_the_dataset_reader(tiny_ckpt, tmp_path):
    """Every reader of a folder applies EXIF orientation as cv2.imread (the official toolkits) does."""
    folder = tmp_path / "phone"
    folder.mkdir()
    for i in range(3):
        exif_jpeg(folder / f"{i}.jpg", 6, 40 * i)
    (folder / "groundtruth.txt").write_text("30,40,30,30\n" * 3)
    with open_source(folder) as src:
        run_frames = [f.image for f in src]
    (seq,) = get_sequences("folder", folder)
    assert seq.image_size == (48, 64)
    for a, b in zip(run_frames, seq.iter_frames()):
        assert a.shape == (64, 48, 3) and np.array_equal(a, b)
    assert run_frames[0][4, 44, 0] > 200 and run_frames[0][4, 4, 0] < 60   # the red block is top-right now
    r = run(tiny_ckpt, folder, "--init", "30,40,30,30", "--output", str(tmp_path / "b.txt"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b.txt").read_text().splitlines()[0] == "30\t40\t18\t24"


def test_damaged_video_frame_is_skipped_with_its_index_kept_and_outputs_say_so(tiny_ckpt, tmp_path):
    """A frame the decoder refuses used to end the run there (the other frames lost); now only that frame has no
    box, and the frames after it keep their own indices and timestamps."""
    clip = mjpg_avi(tmp_path / "cam.avi", damaged=(4,))
    with open_source(clip) as src:
        got = [(f.index, round(f.timestamp, 3), int(f.image[0, 0, 0])) for f in src]
    assert [g[0] for g in got] == [0, 1, 2, 3, 5, 6, 7, 8, 9]   # plain readers: the damaged frame is left out
    assert got[4][1] == 0.5 and abs(got[4][2] - 100) <= 3   # frame 5 (JPEG: within 3)
    r = run(tiny_ckpt, clip, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"),
            "--jsonl", str(tmp_path / "r.jsonl"), "--save", str(tmp_path / "v.avi"))
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 10 and lines[4] == "nan\tnan\tnan\tnan"
    assert all("nan" not in ln for k, ln in enumerate(lines) if k != 4)
    recs = [json.loads(ln) for ln in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in recs] == list(range(10))
    assert recs[4]["unreadable"] is True and recs[4]["boxes"] == [None] and recs[4]["timestamp"] is None
    assert recs[5]["timestamp"] == 0.5 and "unreadable" not in recs[5]
    assert len(video_frames(tmp_path / "v.avi")) == 10
    assert "note: 1 frame(s) could not be decoded and have no box: 4 (0-based)" in r.output, r.output
    assert "ended after" not in r.output, r.output


def test_damaged_first_frame_of_a_video_is_one_line(tiny_ckpt, tmp_path):
    clip = mjpg_avi(tmp_path / "cam.avi", damaged=(0,))
    r = run(tiny_ckpt, clip, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"))
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "its first 1 frame(s) could not be decoded" in r.output and "ffmpeg -ss" in r.output, r.output
    assert not (tmp_path / "b.txt").exists()


def test_unreadable_image_in_a_folder_is_skipped_with_its_index_kept(tiny_ckpt, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, 6):
        cv2.imwrite(str(folder / f"{i}.jpg"), np.full((48, 64, 3), 30 * i, np.uint8))
    (folder / "3.jpg").write_bytes((folder / "3.jpg").read_bytes()[:40])   # a copy cut short
    r = run(tiny_ckpt, folder, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"),
            "--jsonl", str(tmp_path / "r.jsonl"))
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 5 and lines[2] == "nan\tnan\tnan\tnan" and "nan" not in lines[3]
    recs = [json.loads(ln) for ln in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in recs] == [0, 1, 2, 3, 4] and recs[2]["unreadable"] is True
    assert recs[3]["timestamp"] == pytest.approx(3 / 30)
    assert "could not be decoded and have no box: 2 (0-based)" in r.output, r.output
    (folder / "1.jpg").write_bytes(b"not a jpeg")   # the first frame carries the targets: one line
    r = run(tiny_ckpt, folder, "--init", "10,10,20,20", "--output", str(tmp_path / "c.txt"))
    assert r.exit_code == 2 and r.output.startswith("error: image") and "1.jpg" in r.output, r.output
    assert r.output.count("\n") == 1 and not (tmp_path / "c.txt").exists()


def test_twelve_bit_data_in_16_bit_pngs_is_refused_in_one_line(tiny_ckpt, tmp_path):
    """cv2.imread keeps a 16-bit frame's high byte: 12-bit sensor data (values < 4096) would be tracked black."""
    from droptrack.errors import DatasetError

    folder = tmp_path / "thermal"
    folder.mkdir()
    ramp = np.linspace(0, 4000, 48 * 64).reshape(48, 64).astype(np.uint16)
    for i in range(2):
        cv2.imwrite(str(folder / f"{i}.png"), ramp)
    assert cv2.imread(str(folder / "0.png"), cv2.IMREAD_COLOR).max() == 15   # what the frame would be
    r = run(tiny_ckpt, folder, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"))
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "16-bit with values only up to 4000" in r.output
    assert not (tmp_path / "b.txt").exists()
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 2)
    (seq,) = get_sequences("folder", folder)
    with pytest.raises(DatasetError, match="16-bit"):
        seq.frame(0)


def test_a_dark_frame_of_full_range_16_bit_footage_is_read_not_refused_as_12_bit(tiny_ckpt, tmp_path):
    """Full-range 16-bit frames with one dark frame (all values < 4096: lights off) are not 12-bit data: that frame
    is read as cv2.imread reads it. It stopped dt run there with '16-bit with values only up to 3000 (12-bit or less
    data)', and failed the dataset reader."""
    folder = tmp_path / "night"
    folder.mkdir()
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), ramp if i != 1 else ramp // 22)   # frame 1: values up to 2978
    r = run(tiny_ckpt, folder, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"))
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 3 and "nan" not in (tmp_path / "b.txt").read_text()
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 3)
    (seq,) = get_sequences("folder", folder)
    want = cv2.imread(str(folder / "1.png"), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert want.max() == 2978 >> 8 and np.array_equal(seq.frame(1), want)
    assert np.array_equal(list(seq.iter_frames())[1], want)


def test_full_range_16_bit_footage_whose_first_frame_is_dark_is_read_not_refused_as_12_bit(tiny_ckpt, tmp_path):
    """A dark FIRST frame (values < 4096) of full-range 16-bit footage: the folder was judged 12-bit by that frame
    alone and dt run refused it; the brightest of frames spread over the folder decides."""
    folder = tmp_path / "dawn"
    folder.mkdir()
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), ramp // 22 if i == 0 else ramp)   # frame 0: values up to 2978
    r = run(tiny_ckpt, folder, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"))
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 4
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 4)
    (seq,) = get_sequences("folder", folder)
    assert seq.frame(0).max() == 2978 >> 8   # cv2.imread's high byte, as the frame is


def test_image_formats_of_a_folder_read_as_8_bit_rgb_like_cv2_imread(tiny_ckpt, tmp_path):
    """Full-range 16-bit, grayscale, palette, RGBA, 1-bit and CMYK frames: 8-bit RGB, the same in every reader,
    and what cv2.imread (the official toolkits) gives."""
    from PIL import Image

    folder = tmp_path / "mixed"
    folder.mkdir()
    rgb = marked((64, 48), 90)[:, :, ::-1]
    Image.fromarray(rgb[:, :, 0]).save(folder / "0.jpg")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "1.png")
    Image.fromarray(rgb).convert("RGBA").save(folder / "2.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "3.jpg", quality=95)
    Image.fromarray(rgb).convert("1").save(folder / "4.png")
    cv2.imwrite(str(folder / "5.png"), rgb[:, :, ::-1].astype(np.uint16) * 257)
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 6)
    with open_source(folder) as src:
        frames = [f.image for f in src]
    (seq,) = get_sequences("folder", folder)
    assert len(frames) == 6
    for k, (a, b) in enumerate(zip(frames, seq.iter_frames())):
        want = cv2.imread(str(seq.frames[k]), cv2.IMREAD_COLOR)[:, :, ::-1]
        assert a.dtype == np.uint8 and a.shape == (48, 64, 3) and np.array_equal(a, b) and np.array_equal(a, want)
        pil = np.asarray(Image.open(seq.frames[k]).convert("RGB")).astype(int)
        assert np.abs(a.astype(int) - pil).max() <= 3, k   # same colours as Pillow reads them (JPEG: within 3)
    r = run(tiny_ckpt, folder, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"))
    assert r.exit_code == 0 and len((tmp_path / "b.txt").read_text().splitlines()) == 6, r.output


@pytest.mark.parametrize("rate, fps", [((1, 90000), None), ((1000, 1), None), ((1, 25), 25.0)])
def test_implausible_container_frame_rate_is_no_rate(tiny_ckpt, tmp_path, rate, fps):
    """A 90 kHz time base or a broken header's 0.001 FPS made --save fail ('could not open a video writer': mp4v
    takes no 90000 FPS) and dt serve pace a file at it; such a rate now counts as none (the video gets 30)."""
    clip = mjpg_avi(tmp_path / "cam.avi", frames=4, rate=rate)
    with open_source(clip) as src:
        assert src.fps == fps and len(list(src)) == 4
    r = run(tiny_ckpt, clip, "--init", "10,10,20,20", "--save", str(tmp_path / "v.mp4"))
    assert r.exit_code == 0, r.output
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(fps or 30.0, rel=0.01)


@pytest.mark.parametrize("count, extra, lines", [(2, [], 5), (2, ["--max-frames", "4"], 4), (0, [], 5),
                                                 (1000, ["--max-frames", "3"], 3)])
def test_frame_count_header_that_lies_changes_no_output(tiny_ckpt, tmp_path, count, extra, lines):
    clip = mjpg_avi(tmp_path / "cam.avi", frames=5, count=count)
    r = run(tiny_ckpt, clip, "--init", "10,10,20,20", "--output", str(tmp_path / "b.txt"), *extra)
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == lines
    assert "ended after" not in r.output, r.output


def test_resume_past_an_unreadable_frame_writes_the_uninterrupted_files(tiny_ckpt, tmp_path):
    """Interrupted after a damaged frame, --resume counts it as the first run did: the files end identical."""
    from droptrack.runtime.run import RunOptions, run as run_tracking

    clip = mjpg_avi(tmp_path / "cam.avi", damaged=(3,))

    def opts(out: Path, **kw) -> RunOptions:
        return RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=["10,10,20,20"], device="cpu",
                          output=str(out / "b.txt"), jsonl=str(out / "b.jsonl"), **kw)

    def stop_at_6(summary) -> None:
        if summary.frames == 6:
            raise KeyboardInterrupt

    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run_tracking(opts(whole)).unreadable == [3]
    first = run_tracking(opts(part), on_frame=stop_at_6)
    assert first.interrupted and first.frames == 6 and first.journal is not None
    second = run_tracking(opts(part, resume=True))
    assert second.resumed == 6 and second.frames == 10 and not second.interrupted
    for name in ("b.txt", "b.jsonl"):
        assert (part / name).read_bytes() == (whole / name).read_bytes(), name
    assert (whole / "b.txt").read_text().splitlines()[3] == "nan\tnan\tnan\tnan"


def test_serve_writes_a_damaged_frames_line_and_keeps_the_others_aligned(tiny_ckpt, tmp_path):
    """dt serve over the same file: the damaged frame gets its nan line and `unreadable` record, the rest align."""
    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session
    from serve_helpers import wait_for

    clip = mjpg_avi(tmp_path / "cam.avi", damaged=(4,))
    s = Session(ServeOptions(str(clip), artifact=str(tiny_ckpt), device="cpu", pace=False,
                             jsonl=str(tmp_path / "s.jsonl"), output=str(tmp_path / "boxes.txt")))
    s.start()
    try:
        s.add_target([10.0, 10.0, 20.0, 20.0])
        wait_for(lambda: s.state == "ended")
        assert s.error is None
    finally:
        s.stop()
    lines = (tmp_path / "boxes_0.txt").read_text().splitlines()
    assert len(lines) == 10 and lines[0] == "10\t10\t20\t20" and lines[4] == "nan\tnan\tnan\tnan"
    recs = [json.loads(ln) for ln in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in recs] == list(range(10)) and recs[4]["unreadable"] and recs[4]["boxes"] == [None]
    assert [k for k, r in enumerate(recs) if r.get("unreadable")] == [4]


def test_serve_target_drawn_on_the_frame_held_over_a_damaged_one_starts_its_file_there(tiny_ckpt, tmp_path):
    """Paused just after a damaged frame, the page still shows the frame before it, whose record is already out. A
    target drawn there has its box file start on that frame: the init box, then the damaged frame's nan line, as
    the first target's file has (its file was empty: the init line was never written, and later lines would have
    sat two frames early)."""
    import threading

    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session
    from serve_helpers import wait_for

    clip = mjpg_avi(tmp_path / "cam.avi", frames=4, damaged=(1,), rate=(2, 1))   # 0.5 FPS: 2 s between frames
    s = Session(ServeOptions(str(clip), artifact=str(tiny_ckpt), device="cpu", pace=True,
                             jsonl=str(tmp_path / "s.jsonl"), output=str(tmp_path / "boxes.txt")))
    damaged = threading.Event()
    s.listen(lambda rec: damaged.set() if rec.get("unreadable") else None)
    s.start()
    try:
        s.add_target([10.0, 10.0, 20.0, 20.0])
        assert damaged.wait(20)
        s.set_paused(True)            # within the 2 s before frame 2 is due
        s.add_target([30.0, 20.0, 16.0, 16.0])
        s.set_paused(False)
        wait_for(lambda: s.stats()["frame"] == 2)   # tracked on frame 2, written at the stop
    finally:
        s.stop()
    first = (tmp_path / "boxes_0.txt").read_text().splitlines()
    second = (tmp_path / "boxes_1.txt").read_text().splitlines()
    assert first[:2] == ["10\t10\t20\t20", "nan\tnan\tnan\tnan"] and len(first) == 3, first
    assert second[:2] == ["30\t20\t16\t16", "nan\tnan\tnan\tnan"] and len(second) == 3, second
    recs = [json.loads(ln) for ln in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [(r["frame"], r["ids"]) for r in recs] == [(0, [0]), (1, [0]), (2, [0, 1])], recs


@pytest.mark.parametrize("extra, shown", [([], "5/?"), (["--max-frames", "4"], "4/4")])
def test_progress_past_a_too_low_header_count_shows_an_unknown_end(tiny_ckpt, tmp_path, extra, shown):
    """The bar said '5/2' when the header announced 2 frames of 5; past the count the end is unknown."""
    r = run(tiny_ckpt, mjpg_avi(tmp_path / "cam.avi", frames=5, count=2), "--init", "10,10,20,20", *extra)
    lines = [ln for ln in r.output.splitlines() if not ln.startswith("warning:")]   # its frames are flat
    assert r.exit_code == 0 and lines[0].startswith("tracking"), r.output
    bar = lines[0]
    assert f" {shown} " in bar and "/2 " not in bar, bar


def test_dataset_reader_names_a_damaged_video_frame_not_a_short_file(tmp_path):
    """dt eval --dataset video said the file 'decodes only 4 of the 10 frames its header announces (truncated)'."""
    from droptrack.errors import DatasetError

    (seq,) = get_sequences("video", mjpg_avi(tmp_path / "cam.avi", damaged=(4,)))
    with pytest.raises(DatasetError, match="frame 4 of .*cam.avi cannot be decoded \\(a damaged frame"):
        list(seq.iter_frames())
