"""`dt export`, `dt analyze`, `dt eval`, `dt bench` and `dt demo` with --output a folder of video frames (images, no box
file) were accepted: model.onnx and the plots landed among the frames, and a later `dt run` of that folder tracked
norm_precision.png as frame 0. Refused in one line, exit 2, before any work, naming the folder, what it holds and the
fix; a folder of droptrack's own plots (a rerun into an analysis folder) is no frame folder."""

from __future__ import annotations

import pytest

from droptrack.data import generate_synth
from droptrack.data.folder import OWN_IMAGES
from droptrack.eval.report_plots import PLOT_FILES
from helpers import cli, img, one_line_error


def _tree(folder) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("frames")
    data = generate_synth(base / "set", 1, 3, seed=0, size=(96, 64), split="val")
    res = cli("eval", "--dataset", "synth", "--root", data, "--tracker", "kcf", "-o", base / "results")
    assert res.exit_code == 0, res.output
    return base, data


def _frames(folder, sub=""):
    for i in range(1, 4):
        img(folder / sub / f"{i:08d}.jpg", color=(40 * i, 20, 10))
    return folder


@pytest.mark.parametrize("sub", ["", "img"])
def test_every_output_writer_refuses_a_frame_folder(made, tiny_ckpt, sub):
    base, data = made
    frames = _frames(base / f"fr ames{sub}", sub)
    before = _tree(frames)
    runs = {"export": ("export", tiny_ckpt, "--output", frames),
            "analyze": ("analyze", base / "results" / "kcf", "--dataset", "synth", "--root", data, "--output", frames),
            "eval": ("eval", "--dataset", "synth", "--root", data, "--tracker", "kcf", "--output", frames),
            "bench": ("bench", "--tracker", "kcf", "--data", data, "--output", frames),
            "demo": ("demo", "--output", frames)}
    for name, args in runs.items():
        line = one_line_error(cli(*args))
        assert f"--output '{frames}' holds video frames (3 images such as '{sub and sub + '/'}00000001.jpg'" in line, \
            (name, line)
        assert "pass an output folder that holds no frames" in line, (name, line)
    assert _tree(frames) == before   # nothing written among them


def test_a_rerun_into_droptracks_own_plots_is_no_frame_folder(made):
    base, data = made
    out = base / "analysis"
    for _ in range(2):   # the second run finds the first's PNGs there
        res = cli("analyze", base / "results" / "kcf", "--dataset", "synth", "--root", data, "--output", out)
        assert res.exit_code == 0, res.output
    assert any(p.suffix == ".png" for p in out.iterdir())


def test_own_images_name_every_plot_droptrack_writes():
    assert set(PLOT_FILES.values()) | {"latency.png"} <= set(OWN_IMAGES)


def test_a_lone_cover_image_is_no_frame_folder_and_a_cover_among_frames_is_not_counted(made):
    """A folder holding one image (a cover.jpg, a photo) was refused as 'holds video frames (1 images such as
    'cover.jpg')'; a cover beside the frames was named as the first frame and counted among them."""
    base, data = made
    lone = base / "project"
    img(lone / "cover.jpg", color=(200, 20, 10))
    res = cli("eval", "--dataset", "synth", "--root", data, "--tracker", "kcf", "--output", lone)
    assert res.exit_code == 0, res.output
    frames = _frames(base / "with_cover")
    img(frames / "cover.jpg", size=(30, 20), color=(200, 20, 10))
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", data, "--tracker", "kcf", "--output", frames))
    assert f"--output '{frames}' holds video frames (3 images such as '00000001.jpg'" in line, line
