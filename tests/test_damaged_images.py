"""Damaged image files as downloads and camera dumps leave them: libjpeg's and libpng's own stderr lines (one per
frame, printed from C through the progress bars) become one warning per source or sequence naming the files; the
frames that decode are tracked as OpenCV decodes them. Real photos (scikit-image's astronaut) damaged here."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.media import photo_dir
from droptrack.data.sequence import read_rgb
from droptrack.errors import DatasetError
from droptrack.runtime.sources import open_source

runner = CliRunner()
LIBJPEG = ("Corrupt JPEG data", "Premature end of JPEG file")


def extraneous(jpeg: bytes) -> bytes:
    """Three stray bytes before the first quantisation table (libjpeg: 'Corrupt JPEG data: 3 extraneous bytes before
    marker 0xdb'); the picture itself is intact."""
    i = jpeg.index(b"\xff\xdb")
    return jpeg[:i] + b"\x01\x02\x03" + jpeg[i:]


def frames(folder: Path, count: int = 6, damaged: dict[int, str] | None = None) -> Path:
    """`count` JPEG crops of a real photo, frame i shifted by 4 i pixels; `damaged` {index: 'extra' | 'cut'}: stray
    bytes, or the file cut after 70 % (libjpeg: 'Premature end of JPEG file', the rest of the picture gray)."""
    photo = cv2.imread(str(photo_dir() / "astronaut.png"))
    folder.mkdir(parents=True)
    for i in range(count):
        data = cv2.imencode(".jpg", photo[4 * i:4 * i + 96, 4 * i:4 * i + 128])[1].tobytes()
        kind = (damaged or {}).get(i)
        data = extraneous(data) if kind == "extra" else data[:int(len(data) * 0.7)] if kind == "cut" else data
        (folder / f"{i:04d}.jpg").write_bytes(data)
    return folder


def test_damaged_jpegs_of_a_run_decode_and_make_one_warning_naming_them(tiny_ckpt, tmp_path, capfd):
    folder = frames(tmp_path / "clip", damaged={2: "extra", 4: "cut"})
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "20,20,30,30",
                            "--output", str(tmp_path / "b.txt")])
    err = capfd.readouterr().err
    assert r.exit_code == 0, r.output
    assert not any(text in err for text in LIBJPEG), err   # nothing printed past dt's own output
    warned = [ln for ln in r.output.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and "2 frame(s)" in warned[0], r.output
    assert "0002.jpg, 0004.jpg" in warned[0] and "3 extraneous bytes before marker 0xdb" in warned[0], warned
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 6 and "nan" not in "".join(lines)   # every frame decoded and tracked
    with open_source(folder) as src:   # as cv2.imread decodes them, the cut one's lower part gray
        for f in src:
            assert np.array_equal(f.image, cv2.imread(str(folder / f"{f.index:04d}.jpg"))[:, :, ::-1])


def test_an_intact_folder_gives_no_damage_warning(tiny_ckpt, tmp_path):
    folder = frames(tmp_path / "clip", count=3)
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "20,20,30,30"])
    assert r.exit_code == 0 and "warning" not in r.output and "damaged" not in r.output, r.output


def test_eval_warns_once_for_each_sequence_with_damaged_frames(tiny_ckpt, tmp_path, capfd):
    root = tmp_path / "set"
    frames(root / "bad", count=4, damaged={1: "extra", 2: "extra", 3: "extra"})
    frames(root / "good", count=4)
    for seq in ("bad", "good"):
        (root / seq / "groundtruth.txt").write_text("20,20,30,30\n" * 4)
    r = runner.invoke(app, ["eval", "--dataset", "folder", "--root", str(root), "--checkpoint", str(tiny_ckpt),
                            "--output", str(tmp_path / "res")])
    err = capfd.readouterr().err
    assert r.exit_code == 0, r.output
    assert not any(text in err for text in LIBJPEG), err
    warned = [ln for ln in r.output.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and "3 frame(s) of sequence bad" in warned[0], r.output
    assert "0001.jpg, 0002.jpg, 0003.jpg" in warned[0], warned


def test_output_of_other_threads_while_frames_decode_reaches_stderr_whole_and_in_order(tmp_path, capfd):
    """fd 2 is taken for the length of each decode: what another thread writes meanwhile is handed on, in order, not
    lost. (A write whose system call races the hand-back itself can still be lost: quiet_decoding's docstring; a
    stress test of 300 racing writes lost 5 under load, so the writes here finish inside the decode window.)"""
    from droptrack.decodelog import quiet_decoding

    folder = frames(tmp_path / "clip", count=1, damaged={0: "extra"})
    path = str(folder / "0000.jpg")

    def talk(text: str) -> None:
        thread = threading.Thread(target=os.write, args=(2, text.encode()))
        thread.start()
        thread.join()

    def decode() -> None:
        talk("tick 0\n")
        cv2.imread(path)
        talk("tick 1\n")
        cv2.imread(path)
        talk("tick 2\n")

    _, said = quiet_decoding(decode)
    err = capfd.readouterr().err
    assert err == "tick 0\ntick 1\ntick 2\n"                              # whole, in order, none of libjpeg's
    assert said == ["Corrupt JPEG data: 3 extraneous bytes before marker 0xdb"] * 2


def test_a_dataset_frame_that_does_not_decode_is_one_error_without_libpng_lines(tmp_path, capfd):
    photo = cv2.imread(str(photo_dir() / "astronaut.png"))
    data = cv2.imencode(".png", photo)[1].tobytes()
    path = tmp_path / "00000001.png"
    path.write_bytes(data[:len(data) // 2])   # a download cut off mid-file: libpng stops with 'Read Error'
    with pytest.raises(DatasetError, match="cannot be decoded"):
        read_rgb(path)
    assert "libpng" not in capfd.readouterr().err


def test_a_first_frame_that_does_not_decode_names_why(tiny_ckpt, tmp_path, capfd):
    folder = frames(tmp_path / "clip", count=2)
    data = cv2.imencode(".png", cv2.imread(str(folder / "0000.jpg")))[1].tobytes()
    (folder / "0000.jpg").unlink()
    (folder / "0000.png").write_bytes(data[:len(data) // 2])
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "20,20,30,30"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "0000.png" in r.output, r.output
    assert "(libpng error: " in r.output and "libpng" not in capfd.readouterr().err, r.output
    (folder / "0000.png").unlink()   # a thermal camera's 32-bit float frame: no 8-bit reading of it
    cv2.imwrite(str(folder / "0000.tiff"), np.full((96, 128, 3), 0.5, np.float32))
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "20,20,30,30"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "float32 samples" in r.output and "convert the frames to 8 or 16 bits" in r.output, r.output


def test_metadata_warnings_of_intact_frames_are_kept_off_stderr_and_are_no_damage(tiny_ckpt, tmp_path, capfd):
    """A PNG whose ICC profile libpng finds too short, a TIFF with a private tag libtiff does not know: the
    pictures are whole, so nothing is printed and nothing is called damaged."""
    from PIL import Image, TiffImagePlugin

    folder = tmp_path / "clip"
    folder.mkdir()
    photo = cv2.imread(str(photo_dir() / "astronaut.png"))[:96, :128, ::-1]
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[65000] = "scanner settings"
    for i in range(2):
        Image.fromarray(photo).save(folder / f"{2 * i}.png", icc_profile=b"not a profile")
        Image.fromarray(photo).save(folder / f"{2 * i + 1}.tif", tiffinfo=tags)
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "20,20,30,30"])
    err = capfd.readouterr().err
    assert r.exit_code == 0, r.output
    assert "libpng" not in err and "TIFF" not in err, err
    assert "damaged" not in r.output and "warning" not in r.output, r.output


@pytest.mark.parametrize("raw, said", [
    (b"Premature end of JPEG file\n", "Premature end of JPEG file"),
    (b"libpng error: Read Error\n", "libpng error: Read Error"),
    (b"[ WARN:0@0.029] global grfmt_tiff.cpp:123 TIFF_Warning TIFFReadDirectory: Unknown field\n",   # OpenCV 4.6+
     "TIFF_Warning TIFFReadDirectory: Unknown field"),
    (b"[ WARN:0] global /src/opencv/modules/imgcodecs/src/loadsave.cpp (239) findDecoder imread_('a.png'): can't "
     b"open\n", "findDecoder imread_('a.png'): can't open"),                                          # OpenCV 4.5
    (b"[ERROR:0@0.06] global loadsave.cpp:612 imread_ imread_('a.tif'): can't read data\n> Internal imread issue:\n"
     b">     'ok' must be 'true'\n\n", "imread_ imread_('a.tif'): can't read data\n> Internal imread issue:\n>     "
                                   "'ok' must be 'true'"),
])
def test_decoder_lines_written_to_fd_2_are_taken_and_other_text_passed_on(capfd, raw, said):
    from droptrack.decodelog import quiet_decoding

    _, lines = quiet_decoding(os.write, 2, b"before\n" + raw + b"after, no newline")
    assert lines == [said]
    assert capfd.readouterr().err == "before\nafter, no newline"
