"""dt serve on a lab network: what the page, the API and the log let out (camera credentials), and what a client
may hold of the server (WebSocket clients, their messages, cached responses)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from droptrack.errors import SourceError
from droptrack.runtime.sources import open_source
from helpers import mjpeg_camera

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402
from serve_helpers import (  # noqa: E402,F401 (session: a fixture)
    WS, one_line_exit_2, serve_cli, serving, session, wait_for)

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


def test_websocket_clients_are_capped_and_a_freed_place_is_taken_again(session):
    """Every /ws/video and /ws/records client was accepted: each costs a task polling for frames 100 times a
    second and a call from the tracking thread per frame, so a script (or a few hundred tabs) opening thousands
    starved the event loop and the tracker. Over `max_clients` at once the handshake is now refused (503, one
    line); a client that leaves frees its place."""
    client = TestClient(create_app(session, max_clients=2), base_url="http://127.0.0.1")
    with client.websocket_connect(WS + "/ws/video") as first, client.websocket_connect(WS + "/ws/records"):
        assert first.receive_bytes()[:2] == b"\xff\xd8"
        for path in ("/ws/video", "/ws/records"):
            with pytest.raises(WebSocketDenialResponse) as denied:
                with client.websocket_connect(WS + path):
                    pass
            assert denied.value.status_code == 503, path
            detail = denied.value.json()["detail"]
            assert "2 live-view/record clients" in detail and "close one" in detail, detail
    with client.websocket_connect(WS + "/ws/video") as again:   # both left: their places are free
        assert again.receive_bytes()[:2] == b"\xff\xd8"
    assert client.get("/stats").status_code == 200


def test_live_answers_are_never_stored_by_a_cache(session):
    """Only the page said Cache-Control: no-store: the snapshot PNG, /stats and /targets (the live frame, the
    source and the targets) had none, so a browser's disk cache or a caching proxy in front of a --token server
    could keep them and give them out after the token is gone. Every answer now says no-store, once (the page's
    own header is not doubled), also refusals and the printed URL's redirect."""
    token = "s3cret-token"
    client = TestClient(create_app(session, token=token), base_url="http://127.0.0.1")
    auth = {"Authorization": f"Bearer {token}"}
    answers = [client.get(path, headers=auth) for path in ("/", "/stats", "/targets", "/snapshot.png", "/app.js",
                                                            "/openapi.json", "/docs", "/nope")]
    answers += [client.get("/stats"), client.get(f"/?token={token}", follow_redirects=False),
                client.post("/targets", json={"x": 1}, headers=auth)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 200, 200, 200, 404, 401, 303, 422]
    for r in answers:
        assert r.headers.get_list("cache-control") == ["no-store"], (r.request.url, r.headers)


def test_other_sites_pages_cannot_load_the_servers_answers_as_resources(session):
    """GETs were answered to any site: a page of another site open in the user's browser could put
    <img src="http://127.0.0.1:8080/snapshot.png"> in a loop (a PNG encoded per request, in up to 40 threads
    beside the tracker, on a loopback server without a token) or load /stats as a script. Requests that a browser
    marks as coming from another site (Sec-Fetch-Site), other than opening or framing a page, are now
    refused (403) before any work; the page's own requests, navigations (a link, a dashboard's frame) and
    clients without Fetch Metadata (curl, scripts, older browsers) are answered."""
    calls = []
    encode = session.latest.encode
    session.latest.encode = lambda *a: calls.append(a) or encode(*a)
    client = TestClient(create_app(session), base_url="http://127.0.0.1:8080")
    for dest, path in (("image", "/snapshot.png"), ("script", "/stats"), ("empty", "/targets")):
        fetch = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": dest}
        r = client.get(path, headers=fetch)
        assert r.status_code == 403 and "another site" in r.json()["detail"], (path, r.text)
    assert calls == []
    for fetch in ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
                  {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
                  {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
                  {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, {}):
        assert client.get("/snapshot.png", headers=fetch).status_code == 200, fetch
    assert client.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}).status_code == 200


def test_a_dashboard_on_another_port_of_the_same_host_shows_the_snapshot(session):
    """An <img src="http://127.0.0.1:8080/snapshot.png"> in the user's own dashboard (Grafana at
    http://127.0.0.1:3000, a notebook at :8888) worked before the resource-load refusal came, and was then refused:
    Chromium marks it Sec-Fetch-Site: same-site (a site is scheme and host, ports aside; checked with Debian Chromium
    against dt serve), and the guard refused same-site as it refuses cross-site. A same-site page's load is
    answered again; other sites' stay refused."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1:8080")
    img = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image",
           "Referer": "http://127.0.0.1:3000/"}
    r = client.get("/snapshot.png", headers=img)
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG"), r.text
    assert client.get("/snapshot.png", headers={**img, "Sec-Fetch-Site": "cross-site"}).status_code == 403


def test_a_websocket_message_over_the_body_limit_closes_that_connection(session):
    """The WebSockets' clients send only 'next' (a few bytes), but uvicorn read messages of up to 16 MiB into
    memory, per client. A message over 64 KiB (the HTTP body limit) now closes that connection (1009, message
    too big); the server goes on. A real uvicorn server, configured as dt serve configures it."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with serving(create_app(session)) as (_, port):
        url = f"ws://127.0.0.1:{port}/ws/video"
        with connect(url) as ws:
            assert ws.recv(timeout=30)[:2] == b"\xff\xd8"
            ws.send("n" * (64 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)   # no new frame comes (the file waits for a target): only the close
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, closed.value
        with connect(url) as ws:
            assert ws.recv(timeout=30)[:2] == b"\xff\xd8"
            ws.send("next")


def test_bodies_json_cannot_read_answer_one_line_naming_why(session):
    """A body nested thousands deep, with a number of thousands of digits, or not UTF-8 got FastAPI's 400 'There was
    an error parsing the body': no reason, no fix, a status the schema does not declare. It is now the 422 of any
    malformed body, one line saying why and the request that works; nothing is started."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    for body, why in (("[" * 5000 + "]" * 5000, "nested too deeply"),
                      ('{"x": ' + "9" * 5000 + ', "y": 1, "w": 2, "h": 3}', "a number of more than 4300 digits"),
                      (b'{"x": 60, "y": 20, "w": 50, "h": 60, "n": "\xff"}', "not UTF-8")):
        r = client.post("/targets", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == (f"body: not valid JSON ({why}); send JSON {{\"x\": 60, \"y\": 20, \"w\": 50, "
                                      '"h": 60} (image pixels) with Content-Type: application/json'), r.text
    assert client.get("/targets").json() == []
    r = client.post("/stats")   # FastAPI's own answers keep their status, detail and headers
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"} and r.headers["allow"] == "GET"
    assert client.get("/nope").json() == {"detail": "Not Found"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "0", "myhost.local"])
def test_a_bind_beyond_loopback_needs_a_token(video, host):
    """The one rule that keeps the tracker off the network by default: any --host but a loopback address or
    'localhost' is refused without --token (and with a token under 8 characters), in one line, before anything
    is bound or loaded."""
    one_line_exit_2(serve_cli(video, "--port", 0, "--host", host), f"--host {host} exposes the tracker to the "
                    "network; pass --token SECRET or --token auto")
    one_line_exit_2(serve_cli(video, "--port", 0, "--host", host, "--token", "1234567"),
                    "--token must have at least 8 characters")


@pytest.mark.parametrize("token", [" leadingspace1", "trailing-tab\t"])
def test_a_token_an_authorization_header_cannot_carry_is_refused(video, token):
    """HTTP strips a header value's outer blanks, so 'Authorization: Bearer  leadingspace1' never matched: the token
    worked through the page's cookie only. Refused in one line before anything is bound."""
    one_line_exit_2(serve_cli(video, "--port", 0, "--token", token), "--token starts or ends with a space or tab")


def test_snapshots_are_encoded_two_at_a_time(session):
    """Every GET /snapshot.png encoded its own PNG (an annotated copy of the frame and the PNG: ~40 MB for a 4K
    frame) in the shared pool of 40 threads: a script or a few pages asking at once held 40 of them in memory and
    took the cores from the tracker. Encodes now run two at a time; the others wait their turn, and all are
    answered. A real uvicorn server (the test client runs each request on an event loop of its own)."""
    import httpx

    running, most, gate, lock = [0], [0], threading.Event(), threading.Lock()
    encode = session.latest.encode

    def held_encode(*args):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        gate.wait(30)
        try:
            return encode(*args)
        finally:
            with lock:
                running[0] -= 1

    session.latest.encode = held_encode
    with serving(create_app(session)) as (_, port):
        url = f"http://127.0.0.1:{port}/snapshot.png"
        try:
            with ThreadPoolExecutor(8) as pool:
                pending = [pool.submit(httpx.get, url, timeout=60) for _ in range(8)]
                wait_for(lambda: running[0] == 2)
                time.sleep(0.3)   # the others reach the server meanwhile
                assert httpx.get(url.replace("snapshot.png", "stats"), timeout=60).status_code == 200
                gate.set()
                assert [f.result().status_code for f in pending] == [200] * 8
            assert most[0] == 2
        finally:
            gate.set()


def test_a_non_ascii_token_works_in_a_header_too(session):
    """A --token with non-ASCII characters worked in the URL and the page's cookie, but never in a header (curl -H
    'Authorization: Bearer ...' sends UTF-8, which was compared as Latin-1): always 401. A wrong one is still 401."""
    token = "sécret-tökén-€"
    client = TestClient(create_app(session, token=token), base_url="http://127.0.0.1")
    for name, value in (("Authorization", b"Bearer " + token.encode()), ("X-DT-Token", token.encode())):
        assert client.get("/stats", headers={name: value}).status_code == 200, name
        assert client.get("/stats", headers={name: value.replace("€".encode(), b"E")}).status_code == 401, name


def test_the_page_cookie_is_secure_when_the_page_came_over_https(session):
    """Behind a TLS proxy (uvicorn takes the scheme from the proxy's X-Forwarded-Proto) the page's token cookie
    had no Secure flag, so the browser also sent it over plain http to that host (any port: a cookie is not bound
    to one), where anyone on the network could read it. Over https it is now Secure; over http it cannot be."""
    token = "s3cret-token"
    for scheme, secure in (("https", True), ("http", False)):
        client = TestClient(create_app(session, token=token), base_url=f"{scheme}://127.0.0.1")
        cookie = client.get(f"/?token={token}", follow_redirects=False).headers["set-cookie"]
        assert ("; Secure" in cookie) == secure and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie


def _behind(session, token: str, proxies=(), client=("127.0.0.1", 40000)) -> TestClient:
    """A TestClient through dt serve's own uvicorn settings (its proxy-header rules), from `client`'s address."""
    from droptrack.serve.server import server_config, trusted_proxies

    config = server_config(create_app(session, token=token), trusted_proxies(proxies))
    config.load()
    return TestClient(config.loaded_app, base_url="http://127.0.0.1", client=client)


def test_a_local_process_cannot_pose_as_other_clients_by_x_forwarded_for(session, monkeypatch):
    """uvicorn believed X-Forwarded-For from any loopback address by default, so any process on the machine could
    send each wrong token as another client (a new X-Forwarded-For each time) and never wait: the back-off counted
    nothing. Without --trusted-proxy the header is now ignored: the 11th wrong token (10 are free) gets 429."""
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    client = _behind(session, "s3cret-token")
    codes = [client.get("/stats", headers={"Authorization": "Bearer wrong-guess", "X-Forwarded-For": f"10.0.0.{i}"})
             .status_code for i in range(11)]
    assert codes == [401] * 10 + [429], codes


def test_forwarded_headers_count_only_from_the_named_trusted_proxy(session, monkeypatch):
    """docs/serve.md: X-Forwarded-For and X-Forwarded-Proto are believed from a --trusted-proxy only: from it, each
    forwarded client gets its own count of wrong tokens and https makes the cookie Secure; from loopback without
    the option, or from another address, neither."""
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    token = "s3cret-token"
    for proxies, peer, believed in (((), "127.0.0.1", False), (("10.1.2.3",), "10.1.2.3", True),
                                    (("10.1.2.0/24",), "10.1.2.3", True), (("10.9.9.9",), "10.1.2.3", False),
                                    (("127.0.0.1",), "127.0.0.1", True), (("10.1.2.3",), "::ffff:10.1.2.3", True),
                                    (("10.1.2.0/24",), "::ffff:10.1.2.9", True)):   # a dual-stack bind (--host ::)
        client = _behind(session, token, proxies, client=(peer, 40000))
        cookie = client.get(f"/?token={token}", headers={"X-Forwarded-Proto": "https"},
                            follow_redirects=False).headers["set-cookie"]
        assert ("; Secure" in cookie) == believed, (proxies, peer, cookie)
        codes = [client.get("/stats", headers={"Authorization": "Bearer wrong-guess",
                                               "X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(11)]
        assert codes[-1] == (401 if believed else 429), (proxies, peer, codes)


def test_a_trusted_proxy_must_be_an_address_and_forwarded_allow_ips_is_not_dropped_silently(video, monkeypatch):
    """--trusted-proxy takes IP addresses and networks (uvicorn compares addresses: a host name or '*' would trust
    nothing or everyone); FORWARDED_ALLOW_IPS, which the docs once named and uvicorn reads, is refused without it
    rather than ignored (a TLS proxy's cookie would silently lose its Secure flag). One line, exit 2."""
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    for bad in ("proxy.example.org", "*", "10.0.0.0/33"):
        one_line_exit_2(serve_cli(video, "--port", 0, "--trusted-proxy", bad),
                        f"--trusted-proxy '{bad}' is not an IP address or network")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.1.2.3")
    one_line_exit_2(serve_cli(video, "--port", 0), "FORWARDED_ALLOW_IPS", "--trusted-proxy")


def test_a_malformed_origin_is_another_origin_not_a_server_error(session):
    """An Origin header that is no URL (`http://[`, a broken IPv6 address) raised inside the access check: a 500 and
    a traceback in the server's log per request, for anyone who can reach the port (before the token is looked
    at). It is now an origin like any other that is not the page's: refused where another origin is, and the
    token still decides the rest."""
    for token in (None, "s3cret-token"):
        client = TestClient(create_app(session, token=token), base_url="http://127.0.0.1")
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        for origin in ("http://[", "http://[::1", "http://[::1]x:80"):
            r = client.post("/pause", headers={"Origin": origin, **auth})
            assert r.status_code == 403 and "another origin" in r.json()["detail"], (origin, r.text)
            assert client.get("/stats", headers={"Origin": origin, **auth}).status_code == 200, origin
            assert client.get("/stats", headers={"Origin": origin}).status_code == (401 if token else 200)
            with pytest.raises(WebSocketDenialResponse) as denied:
                with client.websocket_connect(WS + "/ws/video", headers={"Origin": origin, **auth}):
                    pass
            assert denied.value.status_code == 403, origin
