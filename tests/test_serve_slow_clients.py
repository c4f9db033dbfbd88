"""Clients that hold dt serve's connections (slowloris): headers sent a byte at a time or never, more connections than
the cap, one address taking every WebSocket place. Real uvicorn servers on 127.0.0.1, configured as dt serve does."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from serve_helpers import WS, serving, session, wait_for  # noqa: E402,F401

HANG_S = 30   # a socket read that takes this long is the hang these tests look for


def read_all(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a hang fails after HANG_S)."""
    s.settimeout(HANG_S)
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except socket.timeout:
        pytest.fail(f"the server kept the connection open (got {data!r})")
    except ConnectionResetError:
        pass
    return data


def get(port: int, path: str = "/stats") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_S)
    conn.request("GET", path)
    r = conn.getresponse()
    r.body = r.read()
    conn.close()
    return r


def test_headers_sent_a_byte_at_a_time_or_never_are_cut_off(session):
    """uvicorn closed idle connections only after a response: one that sent nothing, or its headers a byte at a time,
    stayed open as long as the client liked. Now the headers must arrive within the deadline (0.5 s here): a trickle
    gets a 408 saying so, a silent connection is closed, and a whole request is answered as before."""
    with serving(create_app(session), head_timeout=0.5) as (server, port):
        silent = socket.create_connection(("127.0.0.1", port))
        trickle = socket.create_connection(("127.0.0.1", port))
        head = b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 400 + b"\r\n\r\n"
        for i in range(len(head)):   # 20 s at least for the whole head: far past the deadline
            trickle.sendall(head[i:i + 1])
            if select.select([trickle], [], [], 0.05)[0]:
                break
        answer = read_all(trickle)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        detail = json.loads(answer.partition(b"\r\n\r\n")[2])["detail"]
        assert "headers did not arrive within 0.5 s" in detail, detail
        assert read_all(silent) == b""
        silent.close()
        trickle.close()
        assert get(port).status == 200


def test_a_kept_alive_connection_gets_the_deadline_again_for_each_request(session):
    """The deadline counts from the connection or the previous answer, not once per connection: requests on one
    kept-alive connection, each sent well within it, are all answered though together they take longer."""
    with serving(create_app(session), head_timeout=2.0) as (server, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_S)
        for _ in range(4):
            time.sleep(0.8)
            conn.request("GET", "/stats")
            r = conn.getresponse()
            r.read()
            assert r.status == 200
        conn.close()


def test_connections_past_the_cap_are_answered_503_naming_it(session):
    """Idle connections were never counted: any number of them held sockets and the event loop's attention. Past
    the cap (3 here) a request or a WebSocket handshake gets a 503 naming the cap (JSON, Retry-After, the connection
    closed); once they close the server answers again."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with serving(create_app(session), head_timeout=60.0, max_connections=3) as (server, port):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        wait_for(lambda: len(server.server_state.connections) == 3)
        r = get(port)
        assert r.status == 503, (r.status, r.body)
        assert "already has 3 connections open" in json.loads(r.body)["detail"]
        assert r.getheader("retry-after") == "5" and r.getheader("connection") == "close"
        with pytest.raises(InvalidStatus) as refused:   # a WebSocket's handshake too (uvicorn hands it over unasked)
            connect(f"ws://127.0.0.1:{port}/ws/video", open_timeout=HANG_S)
        assert refused.value.response.status_code == 503
        assert "already has 3 connections open" in json.loads(refused.value.response.body)["detail"]
        for s in idle:
            s.close()
        wait_for(lambda: not server.server_state.connections)
        assert get(port).status == 200


def test_one_address_cannot_take_every_websocket_place(session):
    """Any one client could open all the server's WebSockets (32) and lock every other page out. Now one address
    gets at most `max_per_client` (2 here); the next is refused with 503 naming why, and another address still
    gets in."""
    app = create_app(session, max_clients=5, max_per_client=2)
    one = TestClient(app, base_url="http://127.0.0.1", client=("192.0.2.7", 50000))
    other = TestClient(app, base_url="http://127.0.0.1", client=("192.0.2.8", 50000))
    with one.websocket_connect(WS + "/ws/records"), one.websocket_connect(WS + "/ws/video"):
        with pytest.raises(WebSocketDenialResponse) as refused:
            with one.websocket_connect(WS + "/ws/records"):
                pass
        assert refused.value.status_code == 503
        assert "2 live-view/record clients from this address" in refused.value.json()["detail"]
        with other.websocket_connect(WS + "/ws/video") as ws:
            assert ws.receive_bytes()[:2] == b"\xff\xd8"
    with one.websocket_connect(WS + "/ws/records"):   # the first two left: the address gets in again
        pass


def test_loopback_clients_share_only_the_total_cap(session):
    """Local browsers and SSH tunnels all arrive from 127.0.0.1: a per-address cap there would cap every local page
    together (8 WebSockets = 4 pages). Loopback clients get the total (`max_clients`) only."""
    app = create_app(session, max_clients=4, max_per_client=2)
    local = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
    with local.websocket_connect(WS + "/ws/records"), local.websocket_connect(WS + "/ws/video"), \
            local.websocket_connect(WS + "/ws/records"), local.websocket_connect(WS + "/ws/video"):
        with pytest.raises(WebSocketDenialResponse) as refused:   # the total still holds
            with local.websocket_connect(WS + "/ws/records"):
                pass
        assert refused.value.status_code == 503
        assert "already 4 live-view/record clients;" in refused.value.json()["detail"]


def test_ipv6_loopback_clients_share_only_the_total_cap(session):
    """`dt serve --host ::1` (or a 'localhost' that resolves to ::1) sees every local page from ::1, whose client key
    is its /64 network ('::/64'): it was not taken for loopback, so all local pages shared the per-address cap."""
    app = create_app(session, max_clients=4, max_per_client=2)
    local = TestClient(app, base_url="http://127.0.0.1", client=("::1", 50000))
    with local.websocket_connect(WS + "/ws/records"), local.websocket_connect(WS + "/ws/video"), \
            local.websocket_connect(WS + "/ws/records") as ws:
        assert ws is not None   # a third from ::1: past the per-address cap of 2, within the total of 4
