"""What a user of dt serve met: the outputs it names at its stop, and the API's number fields."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")

from serve_helpers import FACE, SECOND, session, wait_for  # noqa: E402,F401 - `session` is a fixture
from helpers import reaped  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py


def test_a_target_removed_on_the_frame_it_was_drawn_on_names_no_box_file(session, tmp_path):
    """A target drawn on a paused frame and removed before that frame's record was written has no line, so no
    boxes_<id>.txt is made; dt serve's closing 'boxes: ...' line still named it, a file that was not there."""
    assert session.set_paused(True) == {"state": "paused"}
    assert session.add_target(SECOND)["id"] == 0
    assert session.remove_target(0)["id"] == 0
    assert session.add_target(FACE)["id"] == 1
    assert session.set_paused(False) == {"state": "running"}
    wait_for(lambda: session.stats()["state"] == "ended")
    assert not (tmp_path / "boxes_0.txt").exists()
    assert session.box_files() == [str(tmp_path / "boxes_1.txt")]
    assert len((tmp_path / "boxes_1.txt").read_text().splitlines()) == 30


@pytest.mark.parametrize("value, words", [("true", "x: Input should be a valid number"),
                                          ('"12"', "x: Input should be a valid number")])
def test_a_box_field_that_is_no_json_number_is_malformed(session, value, words):
    """{"x": true, ...} started a target at x=1 and {"x": "12", ...} one at x=12 (lax conversion): a page or script
    that sent the wrong field got a box it never drew. A field that is not a JSON number is now a 422 naming it;
    integers stay numbers."""
    from fastapi.testclient import TestClient

    from droptrack.serve.app import create_app

    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    r = client.post("/targets", content=f'{{"x": {value}, "y": 20, "w": 50, "h": 60}}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith(words + "; send JSON"), r.text
    assert client.get("/targets").json() == []
    r = client.post("/targets", content='{"x": 60, "y": 20, "w": 50, "h": 60}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.json()["box"] == [60.0, 20.0, 50.0, 60.0], r.text


def test_a_box_drawn_on_a_black_frame_is_warned_about(tiny_ckpt, tmp_path):
    """dt run warns of a box on pixels of one colour (Megamind.avi opens on a black frame: nothing to follow); dt
    serve, which starts a file on its first frame, took such a box without a word. Its answer (and the page) now
    carry dt run's note, pointing to re-selecting on a frame that shows the target; a box on texture has none."""
    import warnings

    import cv2
    import numpy as np

    from droptrack.errors import FlatTargetWarning
    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session
    from helpers import drifting_clip

    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 30)
    cv2.imwrite(str(clip / "00000.png"), np.zeros((72, 96, 3), np.uint8))   # a fade from black
    s = Session(ServeOptions(str(clip), artifact=str(tiny_ckpt), device="cpu", fps=5.0, max_targets=2))
    s.start()
    try:
        assert s.set_paused(True) == {"state": "paused"}
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            answer = s.add_target([30.0, 22.0, 26.0, 20.0])
        assert answer["warning"].startswith("the box 30,22,26,20 on frame 0 is all one colour (level 0"), answer
        assert answer["warning"].endswith("; pause on a frame that shows it and draw the box again there "
                                          "(re-select)"), answer
        assert [str(w.message) for w in said if w.category is FlatTargetWarning] == [f"target 0: {answer['warning']}"]
        assert s.set_paused(False) == {"state": "running"}
        wait_for(lambda: s.stats()["frame"] >= 1)
        assert s.set_paused(True) == {"state": "paused"}
        again = s.reselect_target(0, [30.0, 22.0, 26.0, 20.0])   # noise and the square from frame 1 on
        assert "warning" not in again and again["id"] == 0, again
    finally:
        s.stop()


def test_ctrl_c_without_outputs_claims_none(tiny_ckpt, video):
    """Ctrl-C ended dt serve with 'SIGINT: stopped after 1 frame; outputs are complete up to there' also when no
    --output, --jsonl or --save was given (a user went looking for files); without them the line ends at the count."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(tiny_ckpt), "--device",
                          "cpu", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    with reaped(p):
        line = p.stdout.readline()
        while line and not line.startswith("serving "):
            line = p.stdout.readline()
        assert line, "dt serve ended before serving: " + p.stderr.read()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.splitlines()[-1] == "SIGINT: stopped after 1 frame", err   # the file waits on its first frame
