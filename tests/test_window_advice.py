"""Without a display build, `dt run --show` and drawing the boxes (no --init) told the user to install opencv-python:
beside droptrack's opencv-contrib-python-headless that is a second package owning cv2 (a broken import), and it has
no contrib trackers (--tracker csrt). The advice now names the installed headless build's GUI twin, in place of it."""

from __future__ import annotations

import pytest

from droptrack.runtime.window import display_problem, gui_advice
from helpers import cli, one_line_error


@pytest.mark.parametrize("dists, says", [
    (["opencv-contrib-python-headless"], "pip uninstall -y opencv-contrib-python-headless && pip install "
                                         "opencv-contrib-python"),
    (["opencv-python-headless"], "pip uninstall -y opencv-python-headless && pip install opencv-python"),
    (["opencv-contrib-python-headless", "opencv-python"], "one of them only"),   # two already: no third
    ([], "install an OpenCV build with a GUI")])
def test_advice_names_the_gui_twin_of_the_installed_build(dists, says):
    assert says in gui_advice(dists)


def test_dt_run_without_init_on_this_build(tmp_path, tiny_ckpt):
    problem = display_problem()
    if problem is None or "no GUI" not in problem:
        pytest.skip("this OpenCV has a GUI")
    line = one_line_error(cli("run", tmp_path, "-m", tiny_ckpt))
    assert "install opencv-python" not in line.replace("install opencv-python-headless", "")
    assert "pass --init x,y,w,h" in line
