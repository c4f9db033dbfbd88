"""dt serve: live target add/remove against single-target runs, the JSON API and the tracking session."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from droptrack.errors import InputError
from droptrack.engine.torch_backend import TorchBackend
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.tracker import Tracker
from helpers import mjpeg_camera

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402
from serve_helpers import FACE, RESELECT, SECOND, WS, session, wait_for  # noqa: E402,F401 (session: a fixture)

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


def test_api_targets_bad_boxes_limits_records_and_frames(session, tmp_path):
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.get("/stats").json()["state"] == "waiting"          # a file waits on frame 0 for a target
    assert client.post("/pause").json() == {"state": "paused"}
    for box, status, words in (({"x": 500, "y": 20, "w": 50, "h": 60}, 422, "outside the 176x144 frame"),
                               ({"x": 60, "y": 20, "w": 0, "h": 60}, 422, "zero or negative size"),
                               # dt run refuses it; dt serve tracked it, and at 1e-9 px its anchor filled the memory
                               ({"x": 60, "y": 20, "w": 1e-9, "h": 60}, 422, "under 1 pixel wide or high"),
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
    assert client.put("/targets/1", json={"x": 9, "y": 9, "w": 80, "h": 0.5}).status_code == 422   # under 1 px
    assert [t["id"] for t in client.get("/targets").json()] == [0, 1]   # a refused box changes no target
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
        session.command_timeout = 30.0   # none times out before /stats answers: 3 s made that a race with the load
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
    assert "non-finite box or score (NaN/Inf) for this frame" in client.get("/stats").json()["error"]
    assert (tmp_path / "boxes_0.txt").read_text().splitlines() == ["60\t20\t50\t60"]   # the drawn box only
    assert [json.loads(line)["frame"] for line in (tmp_path / "serve.jsonl").read_text().splitlines()] == [0]


BAD_BODIES = [('{"x": 1,', "body: not valid JSON (Expecting property name"),
              ('{"x": "a", "y": 1, "w": 2, "h": 3}', "x: Input should be a valid number"),
              ('{"x": 1, "y": 1, "w": 2}', "h: Field required"),
              ('[60, 20, 50, 60]', "body: Input should be a valid dictionary"),
              ('{"x": NaN, "y": 1, "w": 20, "h": 30}', "x: Input should be a finite number"),
              ('{"x": 1, "y": 1, "w": Infinity, "h": 30}', "w: Input should be a finite number"),
              ('{"x": 1, "y": 1, "w": 1e400, "h": 30}', "w: Input should be a finite number")]


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


def test_huge_or_unsized_bodies_are_refused_unread(session):
    """A body is read whole into memory before it is validated: a 50 MB POST was read, parsed and answered 201
    (unknown keys were ignored then). Over 64 KiB is now a 413 and a chunked body (no Content-Length) a 411, both
    before the body is read; the server goes on serving."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    box = json.dumps({**dict(zip("xywh", FACE)), "pad": "a" * (1 << 20)}).encode()
    r = client.post("/targets", content=box, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "at most 65536 bytes" in r.json()["detail"], r.text
    r = client.post("/targets", content=iter([box[:10], box[10:]]), headers={"Content-Type": "application/json"})
    assert r.status_code == 411 and "Content-Length" in r.json()["detail"], r.text
    assert client.get("/targets").json() == []
    padded = json.dumps(dict(zip("xywh", FACE))) + " " * 60000   # under 64 KiB: taken (JSON allows the spaces)
    r = client.post("/targets", content=padded, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text


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


def test_a_box_drawn_past_the_frame_edge_is_reported_clipped_as_dt_run_reports_it(session, tmp_path):
    """dt run --init 170,140,200,200 writes its part inside the 176x144 frame (170 140 6 4) on the init frame; dt
    serve wrote, answered and sent the box as drawn. Tracked on, the two are the same (the tracker keeps the box)."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    r = client.post("/targets", json={"x": 170, "y": 140, "w": 200, "h": 200})
    assert r.status_code == 201 and r.json()["box"] == [170.0, 140.0, 6.0, 4.0], r.json()
    r = client.put("/targets/0", json={"x": -20, "y": 10, "w": 50, "h": 40})   # re-selected past the left edge
    assert r.status_code == 200 and r.json()["box"] == [0.0, 10.0, 30.0, 40.0], r.json()
    wait_for(lambda: client.get("/stats").json()["state"] == "ended")
    session.stop()
    first = (tmp_path / "boxes_0.txt").read_text().splitlines()[0]
    assert first.split() == ["170", "140", "6", "4"], first
