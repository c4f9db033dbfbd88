"""Footage as users have it on disk: image folders of mixed still formats, videos that share a name (test media
written here with OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.runtime.sources import open_source

runner = CliRunner()

# one frame per format cv2.imread decodes (png, jpg, bmp, tiff, webp, gif, netpbm); pgm is written gray
FORMATS = ["png", "jpg", "bmp", "tiff", "webp", "gif", "ppm", "pgm"]


def mixed_format_folder(folder: Path) -> Path:
    """Frames 1..8, one format each, gray level 25 * number (the order they are read in shows)."""
    folder.mkdir()
    for i, ext in enumerate(FORMATS, start=1):
        img = np.full((48, 64, 3), 25 * i, np.uint8)
        if ext == "pgm":
            img = img[:, :, 0]
        if not cv2.haveImageWriter(f"x.{ext}") or not cv2.imwrite(str(folder / f"{i}.{ext}"), img):
            pytest.skip(f"this OpenCV build cannot write .{ext}")
    return folder


def test_folder_of_mixed_still_formats_reads_every_frame_in_order(tmp_path):
    folder = mixed_format_folder(tmp_path / "frames")
    with open_source(folder) as src:
        levels = [int(f.image[20, 30, 0]) if f.image is not None else None for f in src]
    assert src.num_frames == len(FORMATS)
    if not cv2.haveImageReader(str(folder / "6.gif")):   # OpenCV before 4.11: the gif frame is unreadable
        levels[5] = 150
    assert [round(v / 25) for v in levels] == list(range(1, 9))   # jpg/webp are lossy: levels are near


def test_run_over_mixed_formats_writes_one_line_per_frame(tiny_ckpt, tmp_path):
    folder = mixed_format_folder(tmp_path / "frames")
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "-o", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == len(FORMATS)


def mjpg(path: Path, frames: int = 3) -> Path:
    """A small MJPG AVI (its container is only a name here: OpenCV writes the same codec under .mkv too)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    w.release()
    return path


def test_eval_refuses_videos_that_share_a_name_instead_of_dropping_one(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for name in ("clip.avi", "clip.mkv", "other.avi"):
        mjpg(root / name)
    (root / "clip.txt").write_text("10,10,20,20\n" * 3)
    (root / "other.txt").write_text("10,10,20,20\n" * 3)
    r = runner.invoke(app, ["eval", "--dataset", "video", "--root", str(root), "--output", str(tmp_path / "res")])
    assert r.exit_code == 2, r.output
    assert "clip.avi and clip.mkv" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "res").exists()


def test_videos_sharing_a_name_do_not_stop_a_selection_of_others(tmp_path):
    from droptrack.data import get_sequences

    for name in ("clip.avi", "clip.mkv", "other.avi"):
        mjpg(tmp_path / name)
    (tmp_path / "other.txt").write_text("10,10,20,20\n" * 3)
    (seq,) = get_sequences("video", tmp_path, names=["other"])
    assert seq.video.name == "other.avi"


def png_folder(folder: Path, count: int) -> Path:
    """Frames 1.png .. count.png of gray level 20 * number."""
    folder.mkdir()
    for i in range(1, count + 1):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 64, 3), 20 * i, np.uint8))
    return folder


def broken_link_folder(tmp_path: Path) -> Path:
    """png_folder's 4 frames with 3.png a link to a file that is gone (skips where links cannot be made)."""
    folder = png_folder(tmp_path / "frames", 4)
    (folder / "3.png").unlink()
    try:
        (folder / "3.png").symlink_to(tmp_path / "unmounted" / "3.png")
    except OSError:
        pytest.skip("no symbolic links here")
    return folder


def test_frame_that_is_a_broken_link_is_refused_not_left_out(tiny_ckpt, tmp_path):
    folder = broken_link_folder(tmp_path)
    out = tmp_path / "b.txt"
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "3.png" in r.output and "missing" in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists() and not Path(f"{out}.part").exists()


def test_dataset_reader_keeps_a_broken_link_frame_in_its_place(tmp_path):
    from droptrack.data import get_sequences
    from droptrack.errors import DatasetError

    folder = broken_link_folder(tmp_path)
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 4)
    (seq,) = get_sequences("folder", folder)
    assert [p.name for p in seq.frames] == ["1.png", "2.png", "3.png", "4.png"]
    with pytest.raises(DatasetError, match="3.png is missing"):
        seq.frame(2)


def test_single_channel_float_tiffs_give_no_opencv_error_lines(tiny_ckpt, tmp_path, capfd):
    folder = png_folder(tmp_path / "frames", 3)   # a thermal camera's 1-channel 32-bit float frame in the middle
    (folder / "2.png").unlink()
    cv2.imwrite(str(folder / "2.tiff"), np.full((48, 64), 0.5, np.float32))
    capfd.readouterr()
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "-o", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b.txt").read_text().splitlines()[1] == "nan\tnan\tnan\tnan"
    assert "imread" not in capfd.readouterr().err
    (folder / "1.png").unlink()   # now it is the first frame: one error line and nothing else
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20"])
    err = capfd.readouterr().err
    assert r.exit_code == 2 and r.output.startswith("error: image") and "2.tiff" in r.output, r.output
    assert "imread" not in err, err


def camcorder_clip(path: Path) -> Path:
    """A 10-frame MPEG-4 clip in an MPEG transport stream (.mts, as AVCHD camcorders name theirs; FFmpeg needs a few
    packets to recognise one)."""
    written = path.with_suffix(".mts")   # OpenCV picks the container by the lower-case suffix
    w = cv2.VideoWriter(str(written), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    if not w.isOpened():
        pytest.skip("this OpenCV build cannot write MPEG-TS")
    for i in range(10):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    return written.rename(path)


def test_camcorder_and_recorder_containers_are_videos_for_eval_and_bench(tmp_path):
    from droptrack.data import get_sequences
    from droptrack.eval.bench_data import data_kind

    mjpg(tmp_path / "phone.avi")
    camcorder_clip(tmp_path / "00001.MTS")
    assert [s.name for s in get_sequences("video", tmp_path)] == ["00001", "phone"]
    assert data_kind(str(tmp_path / "00001.MTS")) == "video"


def test_bench_takes_a_video_whose_header_has_no_frame_count(tmp_path):
    """A recording stopped before its header was written (a browser's or OBS's webm/mkv) reports no count: dt bench
    --data rec --init refused it, asking for a ground-truth file with one box per frame."""
    from droptrack.eval.bench_data import load_bench_data
    from test_media_footage import mjpg_avi

    clip = mjpg_avi(tmp_path / "rec.avi", frames=10, count=0)
    assert cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT) == 0
    data = load_bench_data(str(clip), None, tmp_path / "out", init="1,1,8,8")
    (seq,) = data.sequences
    assert len(seq) == 10 and [round(f[0, 0, 0] / 20) for f in seq.iter_frames()] == list(range(10))


def test_counted_frames_of_a_video_without_count_keep_a_damaged_one_in_its_place(tmp_path):
    from droptrack.data import get_sequences
    from droptrack.errors import DatasetError
    from test_media_footage import mjpg_avi

    (seq,) = get_sequences("video", mjpg_avi(tmp_path / "cam.avi", frames=10, count=0, damaged=(4,)))
    assert len(seq) == 10
    with pytest.raises(DatasetError, match="frame 4 of .*cam.avi cannot be decoded"):
        list(seq.iter_frames())


def with_null_frames(path: Path, repeat: int) -> Path:
    """Rewrite an OpenCV MJPG AVI so that each frame is followed by `repeat` empty chunks, as capture programs store
    a repeated frame: the header counts every chunk, the decoder gives only the stored frames, at their times."""
    import struct

    data = path.read_bytes()
    movi, idx = data.find(b"movi") - 8, data.find(b"idx1")
    chunks = []
    for k in range(struct.unpack("<I", data[idx + 4:idx + 8])[0] // 16):
        _, flags, off, size = struct.unpack("<4sIII", data[idx + 8 + 16 * k:idx + 24 + 16 * k])
        chunks.append((flags, data[movi + 16 + off:movi + 16 + off + size]))
    body, index = bytearray(b"movi"), bytearray()
    for flags, payload in chunks:
        for f, p in [(flags, payload)] + [(0, b"")] * repeat:
            index += struct.pack("<4sIII", b"00dc", f, len(body), len(p))
            body += b"00dc" + struct.pack("<I", len(p)) + p + b"\0" * (len(p) & 1)
    out = bytearray(data[:movi]) + b"LIST" + struct.pack("<I", len(body)) + body
    out += b"idx1" + struct.pack("<I", len(index)) + index
    total = struct.pack("<I", len(chunks) * (1 + repeat))
    avih, strh = out.find(b"avih"), out.find(b"strh")
    out[avih + 24:avih + 28], out[strh + 40:strh + 44] = total, total
    out[4:8] = struct.pack("<I", len(out) - 8)
    path.write_bytes(bytes(out))
    return path


def test_video_storing_repeated_frames_once_is_not_called_truncated(tiny_ckpt, tmp_path):
    clip = with_null_frames(mjpg(tmp_path / "capture.avi", frames=4), repeat=2)   # 12 frames' time at 10 FPS
    cap = cv2.VideoCapture(str(clip))
    if cap.get(cv2.CAP_PROP_FRAME_COUNT) != 12:
        pytest.skip("this OpenCV build counts an AVI's frames otherwise")
    r = runner.invoke(app, ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "-o", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    n = len((tmp_path / "b.txt").read_text().splitlines())
    assert n == 4 and "truncated" not in r.output, r.output
    assert "the source gave 4 frames, not the 12 its header counts, but they span 0.9 s" in r.output, r.output


def test_folder_with_phone_photos_opencv_cannot_decode_is_refused_not_shifted(tiny_ckpt, tmp_path):
    from droptrack.data import get_sequences
    from droptrack.errors import DatasetError

    folder = png_folder(tmp_path / "burst", 4)
    (folder / "3.png").unlink()
    (folder / "3.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")   # an iPhone photo's start
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "-o", str(tmp_path / "b.txt")])
    assert r.exit_code == 2 and "3.HEIC" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "b.txt").exists()
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 3)
    with pytest.raises(DatasetError, match="3.HEIC"):
        get_sequences("folder", folder)


def test_run_on_a_benchmark_sequence_folder_names_its_img_subfolder(tiny_ckpt, tmp_path):
    seq = tmp_path / "airplane-1"
    seq.mkdir()
    png_folder(seq / "img", 2)
    (seq / "groundtruth.txt").write_text("10,10,20,20\n" * 2)
    r = runner.invoke(app, ["run", str(seq), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"pass '{seq / 'img'}'" in r.output, r.output


def test_folder_holding_each_frame_in_two_formats_is_refused_not_tracked_twice(tiny_ckpt, tmp_path):
    folder = png_folder(tmp_path / "frames", 3)
    for i in range(1, 4):   # `mogrify -format jpg *.png` run in place: the PNGs stay beside the JPEGs
        cv2.imwrite(str(folder / f"{i}.jpg"), cv2.imread(str(folder / f"{i}.png")))
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "-o", str(tmp_path / "b.txt")])
    assert r.exit_code == 2 and "1.jpg, 1.png" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "b.txt").exists()


def test_shell_expanded_frames_pattern_is_one_short_line_naming_the_folder(tmp_path):
    folder = png_folder(tmp_path / "frames", 12)
    files = [str(p) for p in sorted(folder.iterdir())]   # what `dt run frames/*.png` hands over
    r = runner.invoke(app, ["run", *files, "--init", "10,10,20,20"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"pass the folder of frames: '{folder}'" in r.output and r.output.count(".png") == 1, r.output


def test_a_link_loop_among_the_frames_is_no_traceback(tmp_path):
    """An image link that points at itself raised ELOOP from the folder's listing: a traceback, exit 1."""
    import os

    import cv2
    import numpy as np

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:04d}.png"), np.full((40, 50, 3), 60 * i, np.uint8))
    os.symlink("0001x.png", tmp_path / "0001x.png")
    from droptrack.imagefiles import listed_images

    assert sorted(p.name for p in listed_images(tmp_path)) == ["0000.png", "0001.png", "0001x.png", "0002.png"]
