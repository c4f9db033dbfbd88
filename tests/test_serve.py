"""dt serve: live target add/remove against single-target runs, the JSON API, access rules and bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.errors import InputError
from droptrack.engine.torch_backend import TorchBackend
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.tracker import Tracker
from helpers import mjpeg_camera

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.auth import trusted_origins  # noqa: E402
from droptrack.serve.server import page_url, resolve_token, serve  # noqa: E402
from droptrack.serve.options import ServeOptions, SourceTimeout  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402

runner = CliRunner()
FACE = [60.0, 20.0, 50.0, 60.0]      # the caller's head in carphone_pristine.mp4 (176x144), frame 0
SECOND = [10.0, 70.0, 40.0, 40.0]
RESELECT = [12.0, 66.0, 44.0, 46.0]
WS = "ws://127.0.0.1"                # TestClient's WebSockets default to the Host 'testserver' (not loopback)


pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, frames, one_thread: conftest.py


# ---------------------------------------------------------------- tracker hooks vs single-target runs

def make_tracker(backend, mode: str):
    return Tracker(backend) if mode == "host" else DeviceTracker(backend, device=backend.device)


def single_run(backend, frames, box, start: int, stop: int, mode: str) -> list[list[float]]:
    t = make_tracker(backend, mode)
    t.initialize(frames[start], box)
    return [t.track(f)[0] for f in frames[start + 1:stop]]


@pytest.mark.parametrize("mode", ["host", "device", pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_targets_added_and_removed_midstream_equal_single_runs(tiny_ckpt, frames, mode):
    backend = TorchBackend.from_checkpoint(tiny_ckpt, device="cuda" if mode == "cuda" else "cpu")
    ref_a = single_run(backend, frames, FACE, 0, 8, mode)
    ref_b = single_run(backend, frames, SECOND, 3, 8, mode)
    t = make_tracker(backend, mode)
    t.initialize(frames[0], FACE)
    got_a, got_b = [], []
    for i in range(1, 8):
        if i == 6:
            t.remove_target(0)                           # A stops before frame 6; B goes on alone
        res, ms = t.track_timed(frames[i])
        assert set(ms) == {"pre", "infer", "post"} and all(v >= 0 for v in ms.values())
        if i < 6:
            got_a.append(res[0].box)
        if i >= 4:
            got_b.append(res[-1].box)
        if i == 3:
            t.add_targets(frames[3], [SECOND])         # B starts on frame 3, A keeps its template and state
            assert t.states[1] == SECOND
    np.testing.assert_allclose(got_a, ref_a[:5], rtol=0, atol=1e-4)
    np.testing.assert_allclose(got_b, ref_b, rtol=0, atol=1e-4)
    t.remove_target(0)
    assert t.num_targets == 0 and t.templates is None


# ---------------------------------------------------------------- the JSON API (in-process, no network)

@pytest.fixture
def session(tiny_ckpt, video, tmp_path):
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", max_targets=2, pace=False,
                             jsonl=str(tmp_path / "serve.jsonl"), output=str(tmp_path / "boxes.txt"),
                             max_frames=30))
    s.start()
    yield s
    s.stop()


def wait_for(cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_api_targets_bad_boxes_limits_records_and_frames(session, tmp_path):
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.get("/stats").json()["state"] == "waiting"          # a file waits on frame 0 for a target
    assert client.post("/pause").json() == {"state": "paused"}
    for box, status, words in (({"x": 500, "y": 20, "w": 50, "h": 60}, 422, "outside the 176x144 frame"),
                               ({"x": 60, "y": 20, "w": 0, "h": 60}, 422, "zero or negative size"),
                               ({"x": 60, "y": 20, "w": 50}, 422, "")):
        r = client.post("/targets", json=box)
        assert r.status_code == status and words in json.dumps(r.json()["detail"])
    assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
    assert client.post("/targets", json=dict(zip("xywh", SECOND))).json()["id"] == 1
    r = client.post("/targets", json=dict(zip("xywh", SECOND)))
    assert r.status_code == 409 and "--max-targets 2" in r.json()["detail"]
    assert client.delete("/targets/7").status_code == 404
    assert client.put("/targets/7", json=dict(zip("xywh", SECOND))).status_code == 404
    assert client.put("/targets/1", json={"x": -90, "y": 0, "w": 80, "h": 9}).status_code == 422   # outside
    r = client.put("/targets/1", json=dict(zip("xywh", RESELECT)))            # re-select: new box, same id
    assert r.status_code == 200 and r.json()["id"] == 1 and r.json()["box"] == RESELECT
    assert [t["id"] for t in client.get("/targets").json()] == [0, 1]
    png = cv2.imdecode(np.frombuffer(client.get("/snapshot.png").content, np.uint8), cv2.IMREAD_COLOR)
    assert png.shape == (144, 176, 3)
    with client.websocket_connect(WS + "/ws/records") as rec_ws, client.websocket_connect(WS + "/ws/video") as vid_ws:
        jpeg = cv2.imdecode(np.frombuffer(vid_ws.receive_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert jpeg.shape == (432, 528, 3)                              # the view enlarges small frames x3
        assert client.post("/resume").json() == {"state": "running"}
        # the video client never asks for a second frame: it misses frames, the tracker does not wait for it
        records = [json.loads(rec_ws.receive_text()) for _ in range(6)]
    # the video client went away mid-stream: the tracker goes on
    frame = client.get("/stats").json()["frame"]
    assert client.delete("/targets/1").json()["id"] == 1
    wait_for(lambda: client.get("/stats").json()["state"] == "ended")
    stats = client.get("/stats").json()
    assert stats["frames"] == 30 and stats["frame"] > frame and stats["stages"]["infer"]["mean_ms"] > 0
    assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 409   # the source ended
    lines = [json.loads(line) for line in (tmp_path / "serve.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(30))
    assert records == lines[:6]                                        # the stream carries the --jsonl records
    assert lines[0]["ids"] == [0, 1] and lines[0]["boxes"] == [FACE, RESELECT]
    assert lines[0]["scores"] == [None, None]
    assert lines[-1]["ids"] == [0]
    assert session.box_files() == [str(tmp_path / "boxes_0.txt"), str(tmp_path / "boxes_1.txt")]   # dt serve's
    box0 = (tmp_path / "boxes_0.txt").read_text().splitlines()
    assert len(box0) == 30 and box0[0] == "60\t20\t50\t60"
    assert len((tmp_path / "boxes_1.txt").read_text().splitlines()) < 30


BAD_BODIES = [('{"x": 1,', "body: not valid JSON (Expecting property name"),
              ('{"x": "a", "y": 1, "w": 2, "h": 3}', "x: Input should be a valid number"),
              ('{"x": 1, "y": 1, "w": 2}', "h: Field required"),
              ('[60, 20, 50, 60]', "body: Input should be a valid dictionary"),
              ('{"x": NaN, "y": 1, "w": 20, "h": 30}', "x: Input should be a finite number"),
              ('{"x": 1, "y": 1, "w": Infinity, "h": 30}', "w: Input should be a finite number"),
              ('{"x": 1, "y": 1, "w": 1e400, "h": 30}', "w: Input should be a finite number")]


def test_commands_on_a_slowly_paced_source_wait_for_no_frame(tiny_ckpt, frames, tmp_path):
    """A time-lapse folder played at its rate (--fps 0.001: a frame every 1000 s): the tracking thread slept
    the whole frame period without applying commands, so a box drawn, pause or remove answered 503 after 10 s
    (and stayed queued). Commands are now applied while the thread waits for the next frame."""
    folder = tmp_path / "timelapse"
    folder.mkdir()
    for i, image in enumerate(frames[:3]):
        cv2.imwrite(str(folder / f"{i:04d}.png"), image[:, :, ::-1])
    s = Session(ServeOptions(str(folder), artifact=str(tiny_ckpt), device="cpu", fps=0.001))
    s.start()
    try:
        client = TestClient(create_app(s), base_url="http://127.0.0.1")
        assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
        wait_for(lambda: client.get("/stats").json()["frame"] == 1)   # frame 2 is due in 1000 s
        r = client.post("/targets", json=dict(zip("xywh", SECOND)))
        assert r.status_code == 201 and r.json()["since"] == 1, r.text
        assert client.post("/pause").json() == {"state": "paused"}
        assert client.delete("/targets/0").status_code == 200
        assert [t["id"] for t in client.get("/targets").json()] == [1]
    finally:
        s.stop()


def test_a_command_refused_for_a_stalled_source_is_never_applied_later(session):
    """While the tracking thread hangs (a stream that stops delivering; here a record listener that blocks it),
    a command answers 503 'try again'; it stayed queued and was applied when the thread came back, so the retry
    the message asks for started a second target (from a box drawn on a long-gone frame)."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
    stalled, gate = threading.Event(), threading.Event()

    def stall(rec: dict) -> None:
        stalled.set()
        gate.wait()

    session.listen(stall)                      # the tracking thread stalls on its next frame
    assert stalled.wait(20)
    session.command_timeout = 0.5
    r = client.post("/targets", json=dict(zip("xywh", SECOND)))
    assert r.status_code == 503 and "nothing was changed, try again" in r.json()["detail"]
    assert client.post("/pause").status_code == 503
    gate.set()
    wait_for(lambda: client.get("/stats").json()["state"] == "ended")
    assert [t["id"] for t in client.get("/targets").json()] == [0]
    records = [json.loads(line) for line in Path(session.opts.jsonl).read_text().splitlines()]
    assert len(records) == 30 and all(r["ids"] == [0] for r in records)


def test_commands_waiting_on_a_stalled_source_leave_the_page_served(session):
    """Commands waiting for a stalled tracking thread (up to 10 s each) held threads of the one shared pool: 40 of
    them (clicks, several pages, a script) froze /stats, snapshots and the live view until they timed out. They
    now wait in a few threads of their own. A real uvicorn server (the test client runs each request on its own
    event loop and pool)."""
    import httpx
    import uvicorn

    from droptrack.serve.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning", lifespan="off"))
    runner_thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    runner_thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stalled, gate = threading.Event(), threading.Event()

    def stall(rec: dict) -> None:
        stalled.set()
        gate.wait()

    try:
        wait_for(lambda: server.started)
        assert httpx.post(base + "/targets", json=dict(zip("xywh", FACE))).status_code == 201
        session.listen(stall)
        assert stalled.wait(20)
        session.command_timeout = 3.0
        with ThreadPoolExecutor(45) as pool:
            pending = [pool.submit(httpx.post, base + "/pause", timeout=60) for _ in range(45)]
            wait_for(lambda: session._commands.qsize() >= 4)
            time.sleep(0.3)                                      # the others reach the server
            assert httpx.get(base + "/stats", timeout=60).status_code == 200
            assert not any(f.done() for f in pending), "/stats waited for commands to time out"
            gate.set()
            assert {f.result().status_code for f in pending} <= {200, 503}
    finally:
        gate.set()
        server.should_exit = True
        runner_thread.join(10)
        sock.close()


def test_a_stream_that_drops_comes_back_with_reconnect(tiny_ckpt, tmp_path):
    """dt serve had no --reconnect: a camera's stream that dropped ended tracking for good ('restart dt serve'),
    on the headless box it is made for. With dt run's --reconnect N the stream is reopened (here: 8 frames, a
    drop, a 503 while the camera reboots, 8 more) and tracking goes on; the jsonl marks the gap."""
    jsonl = tmp_path / "live.jsonl"
    with mjpeg_camera() as (url, connections):
        s = Session(ServeOptions(url, artifact=str(tiny_ckpt), device="cpu", reconnect=4, every_frame=True,
                                 max_frames=16, jsonl=str(jsonl)))
        try:
            s.start()
            client = TestClient(create_app(s), base_url="http://127.0.0.1")
            assert client.post("/targets", json={"x": 10, "y": 10, "w": 20, "h": 20}).status_code == 201
            wait_for(lambda: s.state == "ended")
            assert s.error is None and s.stats()["frames"] == 16
        finally:
            s.stop()
    recs = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in recs] == list(range(16)) and connections == [0, 1, 2]
    assert [r["frame"] for r in recs if "reconnect" in r] == [8] and recs[8]["reconnect"]["attempts"] == 2
    with pytest.raises(InputError, match="--reconnect -1"):
        Session(ServeOptions(url, artifact=str(tiny_ckpt), device="cpu", reconnect=-1))


def test_a_box_file_that_cannot_be_written_refuses_the_target(session, tmp_path):
    """--output: a new target's box file that cannot be opened (here its .part path is a folder; a folder whose
    permissions changed alike) was a 500, and the target was tracked anyway without its file. Now the file is
    opened first: 507 with a one-line message, no target; once fixed, the same box starts the target."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
    (tmp_path / "boxes_1.txt.part").mkdir()
    r = client.post("/targets", json=dict(zip("xywh", SECOND)))
    assert r.status_code == 507 and "cannot write the box file" in r.json()["detail"] and "boxes_1.txt" in r.text
    assert [t["id"] for t in client.get("/targets").json()] == [0]
    (tmp_path / "boxes_1.txt.part").rmdir()
    assert client.post("/targets", json=dict(zip("xywh", SECOND))).json()["id"] == 1


def test_a_killed_servers_box_files_of_any_target_are_never_truncated(session, video, tiny_ckpt, tmp_path):
    """After a killed dt serve, boxes_<id>.txt.part holds each target's boxes; only target 0's was checked, and
    drawing a second target truncated boxes_1.txt.part silently. Now every such .part with boxes in it is refused
    before serving, as dt run refuses its own (one line naming the file and the fix), and a .part that appears
    while serving refuses the target (409) instead of being truncated; both files keep their boxes."""
    old = tmp_path / "old"
    old.mkdir()
    kept = {old / "boxes_3.txt.part": "1\t2\t3\t4\n5\t6\t7\t8\n", old / "boxes_1.txt.part": ""}   # empty: no boxes
    for path, text in kept.items():
        path.write_text(text)
    (old / "boxes_x.txt.part").write_text("1\t2\t3\t4\n")            # not a target's file: not ours to judge
    with pytest.raises(InputError, match=re.escape(f"'{old / 'boxes_3.txt.part'}' holds the --output of a run that "
                                                   "was killed before it finished; rename it")):
        Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", output=str(old / "boxes.txt")))
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/targets", json=dict(zip("xywh", FACE))).json()["id"] == 0
    other = tmp_path / "boxes_1.txt.part"
    other.write_text("9\t9\t9\t9\n")
    r = client.post("/targets", json=dict(zip("xywh", SECOND)))
    assert r.status_code == 409 and f"'{other}' holds the boxes of another run" in r.json()["detail"], r.text
    assert {p: p.read_text() for p in kept} == kept and other.read_text() == "9\t9\t9\t9\n"
    assert [t["id"] for t in client.get("/targets").json()] == [0]


def test_a_model_that_returns_nan_stops_tracking_as_dt_run_does(session, tmp_path):
    """A broken model (here NaN weights; a broken fp16 engine alike) returned NaN boxes and scores: dt serve went
    on, drew and wrote clamped garbage boxes (0,0,10,10) flagged 'tracking' (NaN < threshold is false). Now, as
    dt run, tracking stops with the error on the page and nothing non-finite is written."""
    with torch.no_grad():
        for p in session.tracker.backend.model.parameters():
            p.fill_(float("nan"))
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
    wait_for(lambda: client.get("/stats").json()["state"] == "ended")
    assert "non-finite box or score (NaN/Inf) on frame 1" in client.get("/stats").json()["error"]
    assert (tmp_path / "boxes_0.txt").read_text().splitlines() == ["60\t20\t50\t60"]   # the drawn box only
    assert [json.loads(line)["frame"] for line in (tmp_path / "serve.jsonl").read_text().splitlines()] == [0]


def test_bad_request_bodies_answer_one_line(session):
    """A bad body is a 422 whose detail is one line naming the field and the request that works (it was
    FastAPI's list of error objects, which the page showed as raw JSON; NaN/Infinity reached the tracker and came
    back with the advice 'pass --init x,y,w,h', a dt run option); the server goes on serving."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    for body, words in BAD_BODIES:
        r = client.post("/targets", content=body, headers={"Content-Type": "application/json"})
        detail = r.json()["detail"]
        assert r.status_code == 422 and isinstance(detail, str) and "\n" not in detail, r.text
        assert words in detail and detail.endswith('send JSON {"x": 60, "y": 20, "w": 50, "h": 60} (image pixels) '
                                                   "with Content-Type: application/json"), detail
    assert client.get("/targets").json() == [] and client.get("/stats").json()["state"] == "waiting"
    r = client.delete("/targets/abc")
    assert r.status_code == 422 and r.json()["detail"] == "target_id: Input should be a valid integer, unable to " \
        "parse string as an integer"


def test_printed_url_leaves_no_token_in_the_address_bar_and_the_page_cannot_be_framed(session):
    """The printed URL (?token=) stayed in the address bar, the history and bookmarks; it now sets the cookie
    and reloads the page without it. Every response forbids framing by other sites (a page of another site
    could show the tracker in an invisible frame and have the user draw on it) and sending URLs in a Referer."""
    client = TestClient(create_app(session, token="s3cret-token"), base_url="http://127.0.0.1:8080")
    r = client.get("/?token=s3cret-token", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "./" and "HttpOnly" in r.headers["set-cookie"]
    r = client.get("/?token=s3cret-token")
    assert str(r.url) == "http://127.0.0.1:8080/" and r.status_code == 200 and "<title>dt serve" in r.text
    for path in ("/", "/stats", "/nope", "/stats?token=wrong-token"):
        h = client.get(path).headers
        assert h["x-frame-options"] == "DENY" and h["content-security-policy"] == "frame-ancestors 'none'", path
        assert h["referrer-policy"] == "no-referrer" and h["x-content-type-options"] == "nosniff", path
    client.cookies.clear()
    assert client.get("/stats?token=s3cret-token").status_code == 200   # API clients: no redirect


def test_two_servers_on_one_host_keep_their_own_page_cookie(session):
    """A browser sends a host's cookies to every port: opening the second server's page (port 8081) replaced the
    first one's `dt_token` cookie, so the first page (port 8080) lost its access (401, its WebSocket never came
    back). Each server's cookie now has its own name. A token with ';', spaces or non-ASCII characters made the
    page itself fail (500: not a valid cookie value)."""
    tokens = {8080: "first-token-1234", 8081: "sécond token; €"}
    apps = {port: create_app(session, token=tok) for port, tok in tokens.items()}

    async def host(scope, receive, send):   # one browser, two servers on 127.0.0.1
        await apps[scope["server"][1]](scope, receive, send)

    browser = TestClient(host, base_url="http://127.0.0.1:8080")
    for port, tok in tokens.items():
        assert browser.get(f"http://127.0.0.1:{port}/", params={"token": tok}).status_code == 200
    for port in tokens:
        assert browser.get(f"http://127.0.0.1:{port}/stats").status_code == 200, port
    browser.cookies.clear()
    assert browser.get("http://127.0.0.1:8081/stats").status_code == 401


def test_huge_or_unsized_bodies_are_refused_unread(session):
    """A body is read whole into memory before it is validated: a 50 MB POST was read, parsed and answered 201
    (unknown keys are ignored). Over 64 KiB is now a 413 and a chunked body (no Content-Length) a 411, both
    before the body is read; the server goes on serving."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    box = json.dumps({**dict(zip("xywh", FACE)), "pad": "a" * (1 << 20)}).encode()
    r = client.post("/targets", content=box, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "at most 65536 bytes" in r.json()["detail"], r.text
    r = client.post("/targets", content=iter([box[:10], box[10:]]), headers={"Content-Type": "application/json"})
    assert r.status_code == 411 and "Content-Length" in r.json()["detail"], r.text
    assert client.get("/targets").json() == []
    assert client.post("/targets", json={**dict(zip("xywh", FACE)), "pad": "a" * 60000}).status_code == 201


API = {("GET", "/stats"), ("GET", "/targets"), ("POST", "/targets"), ("PUT", "/targets/{target_id}"),
       ("DELETE", "/targets/{target_id}"), ("POST", "/pause"), ("POST", "/resume"), ("GET", "/snapshot.png")}


def test_api_reference_at_docs_needs_no_internet(session):
    """/docs was FastAPI's Swagger UI, whose script and styles come from a CDN: a blank page on a machine without
    internet (a Jetson in the field). It is now one page built from the app's schema that loads nothing (no
    script, no link, no URL): every operation (the README's list) with its summary, both WebSockets, the body."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    r = client.get("/docs")
    page = r.text
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not re.search(r"<script|<link|<img|<iframe|src=|url\(|@import|//", page, re.I), page
    schema = client.get("/openapi.json").json()
    ops = {(m.upper(), p): op["summary"] for p, item in schema["paths"].items() for m, op in item.items()}
    assert set(ops) == API
    for (method, path), summary in ops.items():
        assert f"<code>{method} {path}</code> {summary}</h3>" in page, (method, path)
    assert "<code>WebSocket /ws/video</code>" in page and "<code>WebSocket /ws/records</code>" in page
    assert "Box {x: number, y: number, w: number, h: number}" in page and 'href="openapi.json"' in page


def test_head_is_answered_wherever_get_is(session):
    """`curl -I` and monitoring tools send HEAD: every route but the two FastAPI adds itself answered 405. Now HEAD
    gets what GET gets (status, every header, Content-Length included) without a body, also for refused requests;
    routes without GET still answer 405. The snapshot's HEAD leaves out the Content-Length (its PNG is not encoded:
    test_serve_http.py)."""
    local = TestClient(create_app(session), base_url="http://127.0.0.1")
    remote = TestClient(create_app(session, token="s3cret-token"), base_url="http://127.0.0.1")
    for client, expected in ((local, {"/": 200, "/app.js": 200, "/stats": 200, "/targets": 200, "/snapshot.png": 200,
                                      "/openapi.json": 200, "/docs": 200, "/nope": 404, "/pause": 405}),
                             (remote, {"/stats": 401, "/?token=s3cret-token": 303, "/stats?token=s3cret-token": 200})):
        for path, status in expected.items():
            got, head = client.get(path, follow_redirects=False), client.head(path, follow_redirects=False)
            if path == "/snapshot.png":
                del got.headers["content-length"]
            assert got.status_code == status and (head.status_code, head.headers) == (status, got.headers), path
            assert head.content == b"" and (got.content != b"" or status == 303), path


def test_video_client_that_leaves_while_no_frame_comes_is_let_go(session):
    """A page closed (or reloaded) after asking for the next frame, while none comes (a file waiting for its
    first target, paused, or ended): its handler polled for a new frame 100 times a second forever, one more per
    reload; now it ends when the client goes away."""
    inner, ended = create_app(session), threading.Event()

    async def app(scope, receive, send):   # notes when the WebSocket handler returns
        await inner(scope, receive, send)
        if scope["type"] == "websocket":
            ended.set()

    with TestClient(app, base_url="http://127.0.0.1").websocket_connect(WS + "/ws/video") as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"
        ws.send_text("next")
        assert session.stats()["state"] == "waiting"               # no new frame will come
        ws.close()
        assert ended.wait(5), "the /ws/video handler outlived its client"


def test_token_host_and_origin_rules(session):
    client = TestClient(create_app(session, token="s3cret-token", loopback_only=True), base_url="http://127.0.0.1")
    assert client.get("/stats").status_code == 401
    r = client.get("/stats", headers={"Authorization": "Bearer wrong-token"})
    assert r.status_code == 401 and "wrong token" in r.json()["detail"]
    assert client.get("/stats", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    r = client.get("/?token=s3cret-token")                     # the printed URL sets an HttpOnly cookie
    assert r.status_code == 200 and "HttpOnly" in r.history[0].headers["set-cookie"]
    assert client.get("/app.js").status_code == 200            # ...that the page's own requests carry
    client.cookies.clear()
    for path in ("/app.js", "/docs", "/openapi.json", "/snapshot.png"):
        assert client.get(path).status_code == 401, path
    assert client.get("/../../etc/passwd?token=s3cret-token").status_code == 404
    with pytest.raises(WebSocketDenialResponse) as denied:   # no token: the WebSocket handshake gets a 401
        with client.websocket_connect(WS + "/ws/records"):
            pass
    assert denied.value.status_code == 401
    r = client.get("/stats", headers={"Host": "attacker.example", "Authorization": "Bearer s3cret-token"})
    assert r.status_code == 403                                # DNS rebinding onto a loopback bind
    with client.websocket_connect(WS + "/ws/video?token=s3cret-token", headers={"Origin": "http://127.0.0.1"}) as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"           # JPEG
    with pytest.raises(WebSocketDenialResponse) as denied:   # another site's page may not open the stream
        with client.websocket_connect(WS + "/ws/video?token=s3cret-token", headers={"Origin": "http://evil.example"}):
            pass
    assert denied.value.status_code == 403


def test_other_sites_pages_cannot_steer_a_loopback_server(session):
    """A page of another site open in the user's browser POSTs to http://127.0.0.1:PORT (no token on loopback):
    pause, resume, targets and deletes were obeyed (a body-less POST needs no CORS preflight); now 403, state
    unchanged. The page's own requests (same Origin) and clients without Origin (curl) still work, and a server
    bound to another loopback address (127.0.0.2) answers its own Host name."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1:8080")
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9999"):
        for method, path, body in (("POST", "/pause", None), ("POST", "/targets", dict(zip("xywh", FACE))),
                                   ("DELETE", "/targets/0", None), ("PUT", "/targets/0", dict(zip("xywh", FACE)))):
            r = client.request(method, path, json=body, headers={"Origin": origin})
            assert r.status_code == 403 and "another origin" in r.json()["detail"], (method, path, r.text)
        assert client.get("/stats", headers={"Origin": origin}).status_code == 200   # unreadable for that page
    assert client.get("/stats").json()["state"] == "waiting" and client.get("/targets").json() == []
    assert client.post("/pause", headers={"Origin": "http://127.0.0.1:8080"}).json() == {"state": "paused"}
    assert client.post("/resume").json() == {"state": "running"}
    assert client.get("/stats", headers={"Host": "127.0.0.2:8080"}).status_code == 200
    assert client.get("/stats", headers={"Host": "127.0.0.1.evil.example"}).status_code == 403


def test_allow_origin_trusts_a_reverse_proxys_address(session, video):
    """Behind a reverse proxy that rewrites Host (here to 127.0.0.1), the page's Origin is the proxy's address: its
    WebSockets and POST/PUT/DELETE were refused (403) with no way to allow them. --allow-origin URL trusts that
    origin (written in any case, with or without the default port, as browsers send it); another scheme, port or
    host stays refused, nothing is trusted by default, and a value that is not an origin is a one-line error."""
    proxy = "https://tracker.example.org"
    client = TestClient(create_app(session, origins=trusted_origins(["HTTPS://Tracker.Example.org:443",
                                                                     "http://10.0.0.5:8080"])),
                        base_url="http://127.0.0.1")
    for origin in (proxy, "http://10.0.0.5:8080"):
        assert client.post("/pause", headers={"Origin": origin}).json() == {"state": "paused"}, origin
    with client.websocket_connect(WS + "/ws/video", headers={"Origin": proxy}) as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"
    for origin in ("http://tracker.example.org", "https://tracker.example.org:8443", "https://evil.example",
                   "https://tracker.example.org.evil.example", "http://10.0.0.5", "null"):
        r = client.post("/resume", headers={"Origin": origin})
        assert r.status_code == 403 and "another origin" in r.json()["detail"], origin
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect(WS + "/ws/video", headers={"Origin": "https://evil.example"}):
            pass
    assert denied.value.status_code == 403 and client.get("/stats").json()["state"] == "paused"
    strict = TestClient(create_app(session), base_url="http://127.0.0.1")
    r = strict.post("/resume", headers={"Origin": proxy})
    assert r.status_code == 403 and "(behind a reverse proxy) dt serve --allow-origin PROXY_URL" in r.json()["detail"]
    for bad in ("tracker.example.org", f"{proxy}/dt", f"{proxy}/", "ftp://tracker.example.org", "https://",
                f"{proxy}:99999", "https://user:pw@tracker.example.org", f"{proxy}?a=1", "*"):
        with pytest.raises(InputError, match=f"--allow-origin '{re.escape(bad)}' is not an origin; pass "
                                             r"scheme://host\[:port\] without a path"):
            trusted_origins([bad])
    one_line_exit_2(serve_cli(video, "--port", 0, "--allow-origin", proxy, "--allow-origin", f"{proxy}/dt"),
                    f"--allow-origin '{proxy}/dt' is not an origin")


def test_ctrl_c_before_the_server_runs_is_an_interruption(tiny_ckpt, video, tmp_path):
    """Ctrl-C while the model loads or the source opens: serve() swallowed it and returned as after a normal end
    (dt serve then exited 0 without a word, or with an AttributeError traceback when the model was still loading);
    now it goes on up (the CLI prints 'interrupted', exit 130), the tracking thread is stopped and the port freed."""
    def ctrl_c(line: str) -> None:   # pressed while the first line is printed, before uvicorn runs
        raise KeyboardInterrupt

    opts = ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", jsonl=str(tmp_path / "x.jsonl"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(KeyboardInterrupt):
        serve(opts, port=port, echo=ctrl_c)
    assert not any(t.name == "dt-serve-tracking" for t in threading.enumerate())
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_a_token_of_ones_own_is_not_printed(tiny_ckpt, video):
    """The 'serving URL' line went to the terminal, and so to journald or CI logs, with --token SECRET in it; a
    token of one's own now stays out (the line says how to send it), a generated one (--token auto) is printed
    as the only way to learn it."""
    opts = ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu")
    for token in ("my-own-secret-123", "auto"):
        lines: list[str] = []

        def echo(line: str) -> None:
            lines.append(line)
            if line.startswith("serving "):   # stop before uvicorn runs
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            serve(opts, port=0, token=token, echo=echo)
        served = lines[-1]
        if token == "auto":
            assert re.search(r"^serving http://127\.0\.0\.1:\d+/\?token=[\w-]{22}  \(API docs", served), served
        else:
            assert token not in served and "open it with ?token=YOUR_TOKEN once" in served, served


# ---------------------------------------------------------------- CLI bad input

def serve_cli(*args):
    return runner.invoke(app, ["serve", *map(str, args)])


def one_line_exit_2(r, *words) -> None:
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for w in words:
        assert w in lines[0], r.output


def test_token_auto_is_generated_and_printed_in_the_url():
    token = resolve_token("0.0.0.0", "auto")
    assert len(token) >= 16 and token != resolve_token("0.0.0.0", "auto")
    assert page_url("127.0.0.1", 8080, token) == f"http://127.0.0.1:8080/?token={token}"
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", None) is None


def test_cli_bad_input_one_line_exit_2(video, tiny_ckpt, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line_exit_2(serve_cli(video, "--port", port), f"port {port}", "in use", "--port")
    one_line_exit_2(serve_cli(video, "--host", "0.0.0.0"), "--token")
    one_line_exit_2(serve_cli(video, "--token", "short"), "8 characters")
    one_line_exit_2(serve_cli(tmp_path / "nope.mp4", "--port", 0), "not found")
    one_line_exit_2(serve_cli(video, "--port", 0, "--max-targets", 0), "--max-targets")
    one_line_exit_2(serve_cli(video, "--port", 0, "--save", tmp_path / "x.gif"), "--save")
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", tiny_ckpt, "--jsonl", "/proc/no/such.jsonl"), "--jsonl")
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", tiny_ckpt, "--crop-grid", "0.5"), "--crop-grid")


def test_outputs_that_are_inputs_or_folders_are_refused_before_work(video, tiny_ckpt, tmp_path):
    """--save over the source video or --jsonl over the model destroyed them (as dt run refuses): one line, exit 2,
    both files untouched; a folder as --jsonl is refused up front, not when the outputs close, and a folder as
    --output (it wrote FOLDER_<id> files beside it)."""
    src, model = tmp_path / "clip.mp4", tmp_path / "model.pt"
    shutil.copy(video, src)
    shutil.copy(tiny_ckpt, model)
    before = {p: p.read_bytes() for p in (src, model)}
    for kw, words in (({"save": src}, "--save .* is the input"), ({"jsonl": model}, "--jsonl .* is the input"),
                      ({"jsonl": tmp_path}, "--jsonl .* is a folder"),
                      ({"output": tmp_path}, "--output .* is a folder"),
                      ({"output": f"{tmp_path}/new/"}, "--output .* is a folder")):  # checked before the model loads
        with pytest.raises(InputError, match=words):
            Session(ServeOptions(str(src), artifact=str(model), device="cpu", **{k: str(v) for k, v in kw.items()}))
    one_line_exit_2(serve_cli(src, "--port", 0, "-m", model, "--save", src), "--save", "is the input")
    assert {p: p.read_bytes() for p in (src, model)} == before


def test_an_earlier_runs_outputs_are_refused_before_the_model_loads_unless_overwrite(video, tiny_ckpt, tmp_path):
    """A second dt serve with the same --output / --jsonl / --save replaced the first one's finished files (its
    targets are numbered from 0 again); as in dt run they are refused now, before the model is read, unless
    --overwrite; an empty file or another stem's files are no results of this --output."""
    broken = tmp_path / "broken.pt"   # never read: a load would be a 'corrupt checkpoint' error
    broken.write_bytes(b"not a checkpoint")
    (tmp_path / "boxes_2.txt").write_text("1\t2\t3\t4\n")
    (tmp_path / "boxes_0.txt").touch()
    (tmp_path / "boxes_old.txt").write_text("5\t6\t7\t8\n")
    (tmp_path / "frames.jsonl").write_text('{"frame": 0}\n')
    for kw, path in (({"output": "boxes.txt"}, "boxes_2.txt"), ({"jsonl": "frames.jsonl"}, "frames.jsonl")):
        kw = {k: str(tmp_path / v) for k, v in kw.items()}
        opts = ServeOptions(str(video), artifact=str(broken), device="cpu", **kw)
        with pytest.raises(InputError, match=re.escape(f"'{tmp_path / path}' already exists and holds data") + ".*"
                           "--overwrite"):
            Session(opts)
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", broken, "--output", tmp_path / "boxes.txt"), "--output",
                    "--overwrite")
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", output=str(tmp_path / "boxes.txt"),
                             jsonl=str(tmp_path / "frames.jsonl"), overwrite=True))
    s.stop()
    assert (tmp_path / "boxes_2.txt").read_text() == "1\t2\t3\t4\n"   # replaced only when its target is drawn


@pytest.mark.parametrize("option, value", [("--connect-timeout", "inf"), ("--connect-timeout", "nan"),
                                           ("--fps", "0"), ("--width", "0"), ("--lost-threshold", "nan")])
def test_numbers_dt_run_refuses_are_refused(video, tiny_ckpt, option, value):
    """dt run's range checks apply to dt serve (it served with --fps 0 or --width 0, and --connect-timeout inf was
    an OverflowError traceback and an abort)."""
    kw = {option[2:].replace("-", "_"): float(value)}
    with pytest.raises(InputError, match=option):
        Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", **kw))


def test_extension_options_reach_the_served_tracker(tiny_ckpt, video):
    """dt serve tracks with dt run's extension options (here the crop grid and scale search, as TEST keys)."""
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False,
                             ext={"CROP_GRID": "0.1", "SCALE_SEARCH": ["0.8"]}))
    assert "crop grid 0.1" in s.tracker.ext.describe() and "scale search 0.8" in s.tracker.ext.describe()
    assert Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu")).tracker.ext.describe() == (
        "official procedure")


def test_source_that_never_delivers_fails_within_the_timeout(tiny_ckpt):
    """An HTTP stream whose server accepts the connection and never answers (OpenCV alone would wait 30 s)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/live.mjpg"
        session = Session(ServeOptions(url, artifact=str(tiny_ckpt), device="cpu", connect_timeout=1.0))
        t0 = time.monotonic()
        with pytest.raises(SourceTimeout, match="no frame within 1 s"):
            session.start()
        assert time.monotonic() - t0 < 3
        session.stop()


@pytest.mark.slow
def test_cli_source_that_never_delivers_exits_2(tiny_ckpt):
    """The CLI: one line, exit 2, without waiting for the opener that OpenCV keeps blocked (a subprocess: the
    process must exit cleanly while that thread is still inside FFmpeg)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/live.mjpg"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
        p = subprocess.run([sys.executable, "-m", "droptrack", "serve", url, "-m", str(tiny_ckpt), "--device", "cpu",
                            "--port", "0", "--connect-timeout", "1"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [f"error: {url} delivered no frame within 1 s; check the device/URL, "
                                             "or raise --connect-timeout"]
