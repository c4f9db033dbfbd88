"""dt serve on a lab network: what the page, the API and the log let out (camera credentials), and what a client
may hold of the server (WebSocket clients, their messages, cached responses)."""

from __future__ import annotations

import pytest

from droptrack.errors import SourceError
from droptrack.runtime.sources import open_source
from helpers import mjpeg_camera

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py
SECRET = "s3cr3t-pw"


def test_a_cameras_password_in_its_url_stays_out_of_the_page_the_api_and_the_log(tiny_ckpt):
    """`dt serve rtsp://admin:PASSWORD@camera/...` showed the password to every viewer of the page and of /stats
    (on a loopback bind without --token: every user of the machine) and wrote it to the log in the 'tracking ...'
    line and in the errors of a camera that drops or cannot be opened. The user name stays (it says which account),
    the password is shown as ***."""
    with mjpeg_camera() as (url, _):
        given = url.replace("http://", f"http://admin:{SECRET}@")
        s = Session(ServeOptions(given, artifact=str(tiny_ckpt), device="cpu", max_frames=4))
        try:
            s.start()
            stats = TestClient(create_app(s), base_url="http://127.0.0.1").get("/stats").json()
        finally:
            s.stop()
    assert stats["source"] == "stream " + url.replace("http://", "http://admin:***@"), stats
    assert SECRET not in s.source_name
    with pytest.raises(SourceError) as refused:   # nothing listens on port 9
        open_source(f"rtsp://admin:{SECRET}@127.0.0.1:9/cam")
    assert SECRET not in str(refused.value) and "rtsp://admin:***@127.0.0.1:9/cam" in str(refused.value)
