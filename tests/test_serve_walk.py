"""What a user of dt serve met: the outputs it names at its stop, and the API's number fields."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")

from serve_helpers import FACE, SECOND, session, wait_for  # noqa: E402,F401 - `session` is a fixture

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
