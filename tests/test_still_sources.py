"""Single files and odd stills given to `dt run` as SOURCE: a phone photo reads as its viewers show it, decoded as the
same photo in a folder of frames is; a folder whose frames change size says so."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.runtime.sources import open_source

runner = CliRunner()


def phone_photo(path: Path) -> Path:
    """A JPEG stored 64x48 with a red 16x8 block top-left and EXIF orientation 6 (viewers show it 48x64, turned a
    quarter clockwise: the block top-right)."""
    img = np.zeros((48, 64, 3), np.uint8)
    img[:8, :16] = (255, 0, 0)   # RGB
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).save(path, exif=exif, quality=95)
    return path


def test_a_single_exif_rotated_photo_is_tracked_upright_as_viewers_show_it(tiny_ckpt, tmp_path):
    photo = phone_photo(tmp_path / "IMG_0001.jpg")
    with open_source(photo) as src:
        (frame,) = list(src)
    assert frame.image.shape == (64, 48, 3)
    assert frame.image[4, 44, 0] > 200 and frame.image[4, 4, 0] < 60   # the block is top-right, as viewers show it
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0.jpg").write_bytes(photo.read_bytes())
    with open_source(folder) as src:
        assert np.array_equal(next(iter(src)).image, frame.image)   # the same pixels as in a folder of frames
    r = runner.invoke(app, ["run", str(photo), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "30,40,30,30",
                            "--output", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b.txt").read_text().splitlines() == ["30\t40\t18\t24"]   # clipped to 48 wide, 64 high


@pytest.mark.parametrize("name", ["anim.gif", "anim.png"])   # GIF, and APNG: a PNG file holding an animation
def test_an_animated_image_file_is_still_read_as_a_video_of_all_its_frames(tmp_path, name):
    frames = [Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)) for i in range(5)]
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with open_source(tmp_path / name) as src:
        images = [f.image for f in src]
    assert len(images) == 5 and [int(im[0, 0, 0]) for im in images] == [0, 40, 80, 120, 160]


def test_an_unreadable_single_photo_is_one_line_without_folder_advice(tiny_ckpt, tmp_path):
    bad = tmp_path / "photo.png"
    cv2.imwrite(str(bad), np.zeros((24, 32, 3), np.uint8))
    bad.write_bytes(bad.read_bytes()[:30])
    r = runner.invoke(app, ["run", str(bad), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "photo.png" in r.output, r.output
    assert "folder" not in r.output, r.output


def test_a_folder_mixing_frame_sizes_is_noted_once_naming_the_first_odd_frame(tiny_ckpt, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (w, h) in enumerate([(64, 48), (64, 48), (128, 96), (64, 48), (48, 64)]):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((h, w, 3), 30 * i, np.uint8))
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "--output", str(tmp_path / "b.txt")])
    assert r.exit_code == 0 and len((tmp_path / "b.txt").read_text().splitlines()) == 5, r.output
    notes = [ln for ln in r.output.splitlines() if "differ in size" in ln]
    assert len(notes) == 1 and notes[0].startswith("note: 2 frame(s)"), r.output
    assert "first frame (64x48)" in notes[0] and "frame 2 (128x96, 0-based)" in notes[0], notes
    assert "started in a" not in r.output, r.output   # the Python API's FrameSizeWarning: the note says it once
    same = tmp_path / "same"
    same.mkdir()
    for i in range(3):
        cv2.imwrite(str(same / f"{i}.png"), np.full((48, 64, 3), 30 * i, np.uint8))
    r = runner.invoke(app, ["run", str(same), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20"])
    assert r.exit_code == 0 and "differ in size" not in r.output, r.output


def test_tiffs_turned_by_their_orientation_tag_read_upright_as_viewers_show_them(tmp_path):
    """All eight TIFF orientations; 5-8 transpose the picture, which OpenCV 5's imread refuses outright."""
    from PIL import ImageOps

    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    folder = tmp_path / "scans"
    folder.mkdir()
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(img).save(folder / f"{orientation}.tif", exif=exif)
    with open_source(folder) as src:
        frames = list(src)
    assert len(frames) == 8 and all(f.image is not None for f in frames)
    for f in frames:
        with Image.open(folder / f"{f.index + 1}.tif") as shown:
            assert np.array_equal(f.image, np.asarray(ImageOps.exif_transpose(shown).convert("RGB"))), f.index


def test_an_animated_webp_is_one_line_whose_command_splits_it_into_trackable_frames(tiny_ckpt, tmp_path):
    import subprocess
    import sys

    frames = [Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)) for i in range(4)]
    frames[0].save(tmp_path / "clip.webp", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    r = runner.invoke(app, ["run", str(tmp_path / "clip.webp"), "-m", str(tiny_ckpt), "--device", "cpu",
                            "--init", "1,1,8,8"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "animated WebP" in r.output, r.output
    command = r.output.split("`")[1].replace("python -c", f"'{sys.executable}' -c")
    subprocess.run(command, shell=True, cwd=tmp_path, check=True, timeout=60)
    with open_source(tmp_path / "frames") as src:
        assert [int(f.image[0, 0, 0]) for f in src] == [0, 40, 80, 120]


def test_a_multi_page_tiff_is_one_line_whose_command_splits_it_into_trackable_frames(tiny_ckpt, tmp_path):
    """A 5-page TIFF stack (a microscope's time-lapse) was tracked as 1 frame, exit 0: OpenCV's FFmpeg reads its first
    page only, and the other 4 were left out without a word."""
    import subprocess
    import sys

    frames = [Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)) for i in range(5)]
    frames[0].save(tmp_path / "stack.tif", save_all=True, append_images=frames[1:])
    with Image.open(tmp_path / "stack.tif") as stack:
        assert stack.n_frames == 5
    r = runner.invoke(app, ["run", str(tmp_path / "stack.tif"), "-m", str(tiny_ckpt), "--device", "cpu",
                            "--init", "1,1,8,8", "-o", str(tmp_path / "boxes.txt")])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "TIFF of 5 pages" in r.output, r.output
    assert not (tmp_path / "boxes.txt").exists()
    command = r.output.split("`")[1].replace("python -c", f"'{sys.executable}' -c")
    subprocess.run(command, shell=True, cwd=tmp_path, check=True, timeout=60)
    with open_source(tmp_path / "frames") as src:
        assert [int(f.image[0, 0, 0]) for f in src] == [0, 40, 80, 120, 160]
    frames[0].save(tmp_path / "one.tif")   # a one-page TIFF is still a photo
    r = runner.invoke(app, ["run", str(tmp_path / "one.tif"), "-m", str(tiny_ckpt), "--device", "cpu", "--init",
                            "1,1,8,8", "-o", str(tmp_path / "one.txt")])
    assert r.exit_code == 0 and len((tmp_path / "one.txt").read_text().splitlines()) == 1, r.output


def test_the_split_command_pastes_from_another_folder_and_keeps_a_name_with_a_quote_and_a_space(tiny_ckpt, tmp_path):
    """The command named the stack by its bare name inside the Python text: pasted anywhere but the stack's own folder
    it failed with FileNotFoundError, and a name with a quote broke the Python text itself."""
    import subprocess
    import sys

    where = tmp_path / "scans of 'day 1'"
    where.mkdir()
    frames = [Image.fromarray(np.full((24, 32, 3), 50 * i, np.uint8)) for i in range(3)]
    frames[0].save(where / "it's a stack.tif", save_all=True, append_images=frames[1:])
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    r = runner.invoke(app, ["run", str(where / "it's a stack.tif"), "-m", str(tiny_ckpt), "--device", "cpu",
                            "--init", "1,1,8,8"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "TIFF of 3 pages" in r.output, r.output
    command = r.output.split("`")[1].replace("python -c", f"'{sys.executable}' -c")
    subprocess.run(command, shell=True, cwd=elsewhere, check=True, timeout=60)
    with open_source(elsewhere / "frames") as src:
        assert [int(f.image[0, 0, 0]) for f in src] == [0, 50, 100]
