"""dt serve over HTTP: embedding in a dashboard, a reverse proxy that passes its Host on, the schema of its errors,
HEAD of the snapshot."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.errors import InputError

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.auth import trusted_origins  # noqa: E402
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402
from serve_helpers import serving  # noqa: E402

WS = "ws://127.0.0.1"
PROXY = "https://tracker.example.org"
pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py


@pytest.fixture
def session(tiny_ckpt, video, tmp_path):
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", max_targets=2, pace=False,
                             max_frames=30))
    s.start()
    yield s
    s.stop()


def one_line_exit_2(args: list, words: str) -> None:
    r = CliRunner().invoke(app, ["serve", *map(str, args)])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.output


def test_allow_frame_ancestors_lets_a_dashboard_embed_the_page(session, video):
    """Every response forbade framing, so a Grafana or Home Assistant dashboard could not show the page in an
    iframe. --allow-frame-ancestors URL (repeatable) allows exactly those sites in the CSP (and drops
    X-Frame-Options, which cannot name sites); the default still forbids framing; a value that is not an origin
    is a one-line error, as for --allow-origin."""
    default = TestClient(create_app(session), base_url="http://127.0.0.1").get("/").headers
    assert default["content-security-policy"] == "frame-ancestors 'none'" and default["x-frame-options"] == "DENY"
    ancestors = trusted_origins(["https://Grafana.example.org:443", "http://ha.local:8123"], "--allow-frame-ancestors")
    client = TestClient(create_app(session, frame_ancestors=ancestors), base_url="http://127.0.0.1")
    for path in ("/", "/stats", "/nope"):
        h = client.get(path).headers
        assert h["content-security-policy"] == "frame-ancestors http://ha.local:8123 https://grafana.example.org"
        assert "x-frame-options" not in h and h["referrer-policy"] == "no-referrer", path
        assert h["x-content-type-options"] == "nosniff", path
    assert client.post("/pause", headers={"Origin": "https://grafana.example.org"}).status_code == 403   # framing only
    for bad in ("grafana.example.org", "https://grafana.example.org/d/abc", "*", "'self'", "https://a.org b.org",
                "https://a.org;script-src"):   # a space or ';' would add sources or directives to the CSP
        with pytest.raises(InputError, match=f"--allow-frame-ancestors '{re.escape(bad)}' is not an origin; pass "
                                             r"scheme://host\[:port\] without a path, as .* the dashboard"):
            trusted_origins([bad], "--allow-frame-ancestors")
    one_line_exit_2([video, "--port", 0, "--allow-frame-ancestors", "https://grafana.example.org/d"],
                    "--allow-frame-ancestors 'https://grafana.example.org/d' is not an origin")


def test_a_proxy_that_passes_the_public_host_reaches_a_loopback_server(session):
    """nginx's `proxy_set_header Host $host` (Caddy's default) passes the public Host to dt serve on 127.0.0.1: every
    request was 403 (the DNS-rebinding check), even with the proxy declared by --allow-origin. The host names of
    the declared origins are now answered too, with or without a port; any other name still gets 403 (a
    rebinding attacker's name is none of them) and nothing but loopback is answered without --allow-origin."""
    client = TestClient(create_app(session, origins=trusted_origins([PROXY, "http://[fd00::5]:8080"])),
                        base_url="http://127.0.0.1")
    for host in ("tracker.example.org", "Tracker.Example.org:443", "tracker.example.org:8443", "[fd00::5]:8080"):
        assert client.get("/stats", headers={"Host": host}).status_code == 200, host
    assert client.post("/pause", headers={"Host": "tracker.example.org", "Origin": PROXY}).json() == {
        "state": "paused"}
    with client.websocket_connect("ws://tracker.example.org/ws/video", headers={"Origin": PROXY}) as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"
    for host in ("attacker.example", "tracker.example.org.evil.example", "example.org", "fd00::5"):
        r = client.get("/stats", headers={"Host": host})
        assert r.status_code == 403 and "localhost only" in r.json()["detail"], host
    r = client.post("/resume", headers={"Host": "tracker.example.org", "Origin": "https://evil.example"})
    assert r.status_code == 403 and "another origin" in r.json()["detail"]
    strict = TestClient(create_app(session), base_url="http://127.0.0.1")
    r = strict.get("/stats", headers={"Host": "tracker.example.org"})
    assert r.status_code == 403 and "dt serve --allow-origin PROXY_URL" in r.json()["detail"]
    with pytest.raises(WebSocketDenialResponse) as denied:
        with strict.websocket_connect("ws://tracker.example.org/ws/video", headers={"Origin": PROXY}):
            pass
    assert denied.value.status_code == 403


def conforms(value, schema: dict, components: dict) -> bool:
    """Whether a JSON value has the shape an OpenAPI schema declares (the subset FastAPI emits: $ref, object with
    required and properties, array, string, integer, number)."""
    if "$ref" in schema:
        return conforms(value, components[schema["$ref"].rsplit("/", 1)[-1]], components)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return (isinstance(value, dict) and all(k in value for k in schema.get("required", []))
                and all(conforms(value[k], s, components) for k, s in props.items() if k in value))
    if kind == "array":
        return isinstance(value, list) and all(conforms(v, schema.get("items", {}), components) for v in value)
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
    return isinstance(value, types[kind]) if kind in types else True


def test_the_schema_declares_the_error_bodies_the_api_sends(session):
    """/openapi.json declared FastAPI's default 422 body (`detail`: a list of error objects), but the API answers
    a one-line string: a client generated from the schema failed to parse every 422. Each operation now declares
    its errors as they are sent ({"detail": "one line"}); real answers are checked against the declared shape."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components and "ValidationError" not in components
    box = {"x": 60, "y": 20, "w": 50, "h": 60}
    for method, path, route, body, status in (
            ("POST", "/targets", "/targets", {"x": 60}, 422),
            ("POST", "/targets", "/targets", {**box, "x": 500}, 422),            # outside the 176x144 frame
            ("POST", "/targets", "/targets", {**box, "w": "wide"}, 422),
            ("PUT", "/targets/abc", "/targets/{target_id}", box, 422),
            ("PUT", "/targets/7", "/targets/{target_id}", {"x": 60}, 422),
            ("PUT", "/targets/7", "/targets/{target_id}", box, 404),
            ("DELETE", "/targets/abc", "/targets/{target_id}", None, 422),
            ("DELETE", "/targets/7", "/targets/{target_id}", None, 404)):
        r = client.request(method, path, json=body)
        assert r.status_code == status, (method, path, r.text)
        declared = schema["paths"][route][method.lower()]["responses"].get(str(status))
        assert declared is not None, (method, route, status)
        shape = declared["content"]["application/json"]["schema"]
        assert conforms(r.json(), shape, components), (method, path, r.json(), shape)
        assert not conforms({"detail": [{"loc": ["body", "x"], "msg": "m", "type": "t"}]}, shape, components)
    page = client.get("/docs").text
    assert "422 a malformed body (naming the field), or a box outside the frame" in page


def test_head_of_the_snapshot_encodes_nothing(session):
    """HEAD /snapshot.png (curl -I, a monitor's probe) encoded a full PNG to throw it away. It now answers the GET's
    status and headers (the same Content-Type and file name) without encoding: no Content-Length, as the size is
    known only once the PNG is made; GET still sends the PNG."""
    calls = []
    encode = session.latest.encode
    session.latest.encode = lambda *a: calls.append(a) or encode(*a)
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    head = client.head("/snapshot.png")
    assert head.status_code == 200 and head.content == b"" and calls == []
    assert "content-length" not in head.headers and head.headers["content-type"] == "image/png"
    got = client.get("/snapshot.png")
    assert got.status_code == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n" and calls == [(".png",)]
    assert int(got.headers["content-length"]) == len(got.content)
    assert {k: v for k, v in got.headers.items() if k != "content-length"} == dict(head.headers)
    assert head.headers["content-disposition"] == 'attachment; filename="dt-frame-0.png"'


def test_no_answer_names_the_server_software(session):
    """uvicorn's `Server: uvicorn` header went out with every answer and WebSocket handshake, telling a scanner what
    to try; dt serve's uvicorn settings now leave it out. A real uvicorn server, configured as dt serve does it."""
    import http.client

    from websockets.sync.client import connect

    with serving(create_app(session)) as (_, port):
        for path in ("/", "/stats", "/nope"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            conn.close()
            assert r.status in (200, 404) and r.getheader("server") is None, (path, r.getheaders())
        with connect(f"ws://127.0.0.1:{port}/ws/video") as ws:
            assert ws.response.headers.get("server") is None, ws.response.headers
            assert ws.recv(timeout=30)[:2] == b"\xff\xd8"


def _posted_but_stalled(port: int):
    """A socket that sent a POST's headers and the first byte of its 50-byte body, then nothing."""
    import socket

    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /targets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 50\r\n\r\n{")
    return s


def _answer(sock) -> tuple[bytes, bytes]:
    """The status line and headers, and the body (by its Content-Length), of the answer read from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096) or pytest.fail(f"connection closed after {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(4096) or pytest.fail(f"connection closed after {data!r}")
    return head, body


def test_a_stalled_body_is_answered_408_and_a_stop_meanwhile_logs_no_traceback(session, caplog):
    """A client that sent half a body and stalled held its request until the server stopped; the stop then
    cancelled it and uvicorn logged 'Exception in ASGI application' with a CancelledError traceback. A body must
    now arrive whole in time (408 naming why), and one still arriving when the server stops gets a 503."""
    import json
    import logging
    import time

    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    for body_timeout, status in ((0.5, b"408"), (60.0, b"503")):
        with serving(create_app(session, body_timeout=body_timeout)) as (server, port):
            stalled = _posted_but_stalled(port)
            if status == b"503":   # once the request is in (its task started), the server is told to stop (2 s of
                end = time.monotonic() + 20   # grace, as dt serve); told before, it would close the connection unread
                while not server.server_state.tasks:
                    assert time.monotonic() < end, "the server did not take the request in"
                    time.sleep(0.02)
                server.should_exit = True
            head, body = _answer(stalled)
            stalled.close()
            assert head.startswith(b"HTTP/1.1 " + status), head
            detail = json.loads(body)["detail"]
            assert ("did not arrive within 0.5 s" if status == b"408" else "shutting down") in detail, detail
    assert not [r for r in caplog.records if r.exc_info or "Exception in ASGI" in r.getMessage()], caplog.text


def test_a_misspelt_field_or_websocket_path_is_named_not_ignored(session):
    """A body with a misspelt field ({"x", "y", "w", "h", "hieght"}) started a target as if the field were not
    there, and a WebSocket to a path with no route got uvicorn's bare 403, read as a refused token or origin. Both
    are now refused with one line naming what was sent and what there is: 422 naming the fields, 404 naming the
    WebSockets (a real uvicorn server, as the 403 came from it); nothing is started."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    box = {"x": 60, "y": 20, "w": 50, "h": 60}
    for method, path, body, said in (("POST", "/targets", {**box, "hieght": 60}, "hieght: unknown field (did you "
                                                                                  "mean h?)"),
                                     ("PUT", "/targets/0", {**box, "X": 1}, "X: unknown field (did you mean x?)"),
                                     ("POST", "/targets", {"x": 60, "y": 20, "w": 50, "a\nb": 1},
                                      "a\\nb: unknown field")):   # h left out: not also 'h: Field required'
        r = client.request(method, path, json=body)
        assert r.status_code == 422 and r.json()["detail"] == f"{said}; the fields are x, y, w, h", r.text
    assert client.get("/targets").json() == []
    with serving(create_app(session)) as (_, port):
        with pytest.raises(InvalidStatus) as refused:
            with connect(f"ws://127.0.0.1:{port}/ws/recods", open_timeout=30):
                pass
        assert refused.value.response.status_code == 404
        assert json.loads(bytes(refused.value.response.body)) == {
            "detail": "no WebSocket at /ws/recods; the WebSockets are /ws/video and /ws/records"}
        with connect(f"ws://127.0.0.1:{port}/ws/video", open_timeout=30) as ws:   # the known ones still open
            assert ws.recv(timeout=30)[:2] == b"\xff\xd8"


def test_a_body_sent_where_none_is_taken_is_refused_naming_its_fields(session):
    """POST /pause {"paused": false} paused: the operations without a body (pause, resume, remove a target) ignored
    whatever was sent, so a client that thought it unpaused, or removed a target 'by label', got the opposite
    without a word. A body there is now a 422 naming its fields and that the operation takes none; nothing is
    done. No body, {} or null (what some clients send by default) are taken as before."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    schema = client.get("/openapi.json").json()["paths"]
    for method, path, route, body, detail in (
            ("POST", "/pause", "/pause", {"paused": False}, "paused: unknown field; POST /pause takes no body"),
            ("POST", "/resume", "/resume", {"a": 1, "b\n": 2}, "a, b\\n: unknown field; POST /resume takes no body"),
            ("DELETE", "/targets/0", "/targets/{target_id}", {"lable": "x"},
             "lable: unknown field; DELETE /targets/0 takes no body"),
            ("POST", "/pause", "/pause", [1], "POST /pause takes no body (send none)")):
        r = client.request(method, path, json=body)
        assert r.status_code == 422 and r.json()["detail"].startswith(detail), r.text
        assert "422" in schema[route][method.lower()]["responses"], (method, route)
    r = client.post("/pause", content=b"paused=false", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422 and r.json()["detail"] == "POST /pause takes no body (send none)", r.text
    assert client.get("/stats").json()["state"] != "paused"   # none of them paused
    for body in (None, {}, "null"):
        r = client.post("/pause", json=body) if body != "null" else client.post("/pause", content=b" null ")
        assert r.json() == {"state": "paused"}, (body, r.text)


@pytest.mark.parametrize("body, detail", [
    ({"x": 1, "y": 2, "w": 3, "hieght": 4}, "hieght: unknown field (did you mean h?); the fields are x, y, w, h"),
    ({"x": 1, "y": 2, "wdth": 3, "hight": 4, "z": 0}, "wdth: unknown field (did you mean w?); hight: unknown field "
                                                      "(did you mean h?); z: unknown field; the fields are x, y, w, h"),
    ({"left": 1, "y": 2, "w": 3, "h": 4}, "left: unknown field (did you mean x?); the fields are x, y, w, h"),
])
def test_a_misspelt_box_field_is_one_short_line(body, detail):
    """A misspelt field was answered with the field it left out ('body.h: Field required'), its own name, all four
    fields and a JSON example: now it alone, with the field it likely means (FastAPI's errors: pydantic's, under
    'body')."""
    from pydantic import ValidationError

    from droptrack.serve.app import Box, invalid_request_message

    with pytest.raises(ValidationError) as refused:
        Box.model_validate(body)
    errors = [{**e, "loc": ("body", *e["loc"])} for e in refused.value.errors()]
    assert invalid_request_message(errors) == detail
