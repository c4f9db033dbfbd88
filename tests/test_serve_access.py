"""dt serve's access rules: tokens, cookies, Host and Origin checks, framing, --allow-origin."""

from __future__ import annotations

import re

import pytest

from droptrack.errors import InputError

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.auth import cookie_name, trusted_origins  # noqa: E402
from droptrack.serve.server import page_url, resolve_token, serve  # noqa: E402
from droptrack.serve.options import ServeOptions  # noqa: E402
from serve_helpers import FACE, WS, one_line_exit_2, serve_cli, session  # noqa: E402,F401 (session: a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py


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
    assert client.get("/stats", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200   # API clients


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
    assert client.get("/../../etc/passwd", headers={"Authorization": "Bearer s3cret-token"}).status_code == 404
    with pytest.raises(WebSocketDenialResponse) as denied:   # no token: the WebSocket handshake gets a 401
        with client.websocket_connect(WS + "/ws/records"):
            pass
    assert denied.value.status_code == 401
    r = client.get("/stats", headers={"Host": "attacker.example", "Authorization": "Bearer s3cret-token"})
    assert r.status_code == 403                                # DNS rebinding onto a loopback bind
    auth = {"Authorization": "Bearer s3cret-token"}
    with client.websocket_connect(WS + "/ws/video", headers={"Origin": "http://127.0.0.1", **auth}) as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"           # JPEG
    with pytest.raises(WebSocketDenialResponse) as denied:   # another site's page may not open the stream
        with client.websocket_connect(WS + "/ws/video", headers={"Origin": "http://evil.example", **auth}):
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


def test_token_auto_is_generated_and_printed_in_the_url():
    token = resolve_token("0.0.0.0", "auto")
    assert len(token) >= 16 and token != resolve_token("0.0.0.0", "auto")
    assert page_url("127.0.0.1", 8080, token) == f"http://127.0.0.1:8080/?token={token}"
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", None) is None


def test_a_token_in_the_url_is_taken_by_the_page_only(session):
    """`?token=` was accepted on every endpoint, so every API call and WebSocket URL carried the secret into proxy
    logs, the history and Referer headers. Only the page's own URL takes it now (it sets the cookie and reloads
    without it); elsewhere it is ignored (401, naming the header to send), and the page's cookie or the header
    carry every other request, WebSockets included."""
    client = TestClient(create_app(session, token="s3cret-token"), base_url="http://127.0.0.1")
    for path in ("/stats", "/targets", "/snapshot.png", "/docs", "/app.js"):
        r = client.get(path, params={"token": "s3cret-token"})
        assert r.status_code == 401 and "taken by the page (/?token=) only" in r.json()["detail"], path
    for path in ("/ws/video", "/ws/records"):
        with pytest.raises(WebSocketDenialResponse) as denied:
            with client.websocket_connect(WS + path + "?token=s3cret-token"):
                pass
        assert denied.value.status_code == 401, path
    assert client.post("/?token=s3cret-token", follow_redirects=False).status_code == 401   # opening it only
    assert client.get("/?token=s3cret-token", follow_redirects=False).status_code == 303
    assert client.get("/stats").status_code == 200                      # the cookie
    with client.websocket_connect(WS + "/ws/video") as ws:              # the page's WebSocket: the cookie too
        assert ws.receive_bytes()[:2] == b"\xff\xd8"
    client.cookies.clear()
    with client.websocket_connect(WS + "/ws/video", headers={"Authorization": "Bearer s3cret-token"}) as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"


def test_one_servers_cookie_never_opens_another_with_the_same_token(session):
    """The cookie was named after the token and held it: two dt serve with one token on one machine shared it, so
    opening one's page let the browser into the other (cookies ignore ports). It is now named per port (dt serve
    passes its own; without one, per instance) and holds an HMAC over that name, not the token."""
    token = "same-token-on-both"
    for cookies in ({8080: cookie_name(8080), 8081: cookie_name(8081)}, {8080: None, 8081: None}):
        apps = {port: create_app(session, token=token, cookie=name) for port, name in cookies.items()}

        async def host(scope, receive, send):   # one browser, two servers on 127.0.0.1
            await apps[scope["server"][1]](scope, receive, send)

        browser = TestClient(host, base_url="http://127.0.0.1:8080")
        entered = browser.get("http://127.0.0.1:8080/", params={"token": token}, follow_redirects=False)
        name, _, value = entered.headers["set-cookie"].partition(";")[0].partition("=")
        assert token not in value and (cookies[8080] is None or name.startswith("dt_serve_8080_")), entered.headers
        assert browser.get("http://127.0.0.1:8080/stats").status_code == 200
        assert browser.get("http://127.0.0.1:8081/stats").status_code == 401
        assert browser.get("http://127.0.0.1:8081/", params={"token": token}).status_code == 200
        for port in cookies:
            assert browser.get(f"http://127.0.0.1:{port}/stats").status_code == 200, port


def test_wrong_tokens_make_their_client_wait(session):
    """Nothing slowed down guessing a --token: any number of wrong ones per second were checked. After 10 free ones
    a client now waits 1 s, doubling with each further wrong token; while it waits it gets 429 with Retry-After,
    even for the right token (else a right guess would still show). Other clients, and requests without a token,
    are not held back; each server keeps its own count (on a clock of the test's, no sleeping)."""
    now = [1000.0]
    app = create_app(session, token="s3cret-token", clock=lambda: now[0])
    guesser = TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.7", 40000))
    other = TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.8", 40000))
    right, wrong = {"Authorization": "Bearer s3cret-token"}, {"Authorization": "Bearer guess-0000"}
    for _ in range(20):
        assert guesser.get("/stats").status_code == 401   # no token: no guess
    for _ in range(10):
        assert guesser.get("/stats", headers=wrong).status_code == 401
    r = guesser.get("/stats", headers=wrong)
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and "too many wrong tokens" in r.json()["detail"]
    r = guesser.get("/stats", headers=right)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    with pytest.raises(WebSocketDenialResponse) as denied:
        with guesser.websocket_connect(WS + "/ws/records", headers=right):
            pass
    assert denied.value.status_code == 429
    assert other.get("/stats", headers=right).status_code == 200
    assert TestClient(create_app(session, token="s3cret-token"), client=("10.0.0.7", 40000),
                      base_url="http://127.0.0.1").get("/stats", headers=right).status_code == 200
    now[0] += 1.0
    assert guesser.get("/stats", headers=right).status_code == 200
    assert guesser.get("/stats", headers=wrong).headers["retry-after"] == "2"
    now[0] += 2.0
    assert guesser.get("/stats", headers=wrong).headers["retry-after"] == "4"
    now[0] += 4.0
    wrong_cookie = {"Cookie": "dt_serve_1=0123"}   # any cookie name but this server's is no credential
    assert guesser.get("/stats", headers=wrong_cookie).status_code == 401
    assert guesser.get("/stats", headers=right).status_code == 200


def test_servers_of_two_machines_behind_one_proxy_keep_their_own_cookie(session):
    """Behind one reverse proxy (https://proxy/a/ and /b/: one host name for the browser), dt serve on two machines
    on the same port named their cookies alike: opening one's page logged the other's out. The name now also
    depends on the machine."""
    token = "same-token-on-both"
    apps = {p: create_app(session, token=token, cookie=cookie_name(8080, host)) for p, host in (("/a", "edge-a"),
                                                                                               ("/b", "edge-b"))}

    async def proxy(scope, receive, send):   # strips /a or /b, as nginx's proxy_pass with a URI does
        prefix = scope["path"][:2]
        await apps[prefix](dict(scope, path=scope["path"][2:] or "/"), receive, send)

    browser = TestClient(proxy, base_url="http://127.0.0.1")
    assert browser.get("/a/", params={"token": token}).status_code == 200
    assert browser.get("/b/stats").status_code == 401
    assert browser.get("/b/", params={"token": token}).status_code == 200
    assert browser.get("/a/stats").status_code == 200 and browser.get("/b/stats").status_code == 200


def test_the_page_cookie_stays_in_the_proxys_folder_of_the_page(session):
    """The cookie had Path=/: behind a proxy that shows the page at /tracker/, the browser sent it to every other
    site of that proxy too. Without a Path it stays in the page's folder (the whole server when served at /)."""
    seen: list[str] = []
    tracker = create_app(session, token="s3cret-token")

    async def proxy(scope, receive, send):
        if scope["path"].startswith("/tracker/"):
            return await tracker(dict(scope, path=scope["path"][len("/tracker"):]), receive, send)
        seen.append(dict(scope["headers"]).get(b"cookie", b"").decode())   # the proxy's other site
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    browser = TestClient(proxy, base_url="http://127.0.0.1")
    r = browser.get("/tracker/?token=s3cret-token")
    assert r.status_code == 200 and "path=" not in r.history[0].headers["set-cookie"].lower()
    assert browser.get("/tracker/stats").status_code == 200
    with browser.websocket_connect(WS + "/tracker/ws/video") as ws:
        assert ws.receive_bytes()[:2] == b"\xff\xd8"
    browser.get("/grafana/")
    assert seen == [""], seen


def test_a_browser_opening_the_page_without_its_token_reads_a_page_not_json(session):
    """A person whose browser opens http://host:port/ without ?token= reads what to do; API clients keep JSON."""
    client = TestClient(create_app(session, token="s3cret-token"), base_url="http://127.0.0.1")
    r = client.get("/", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert "open the URL that dt serve printed" in r.text and "<script" not in r.text
    api = client.get("/stats", headers={"accept": "*/*"})
    assert api.status_code == 401 and api.json()["detail"].startswith("missing token")
    sneaky = client.get("/", params={"token": "<b>x</b>"}, headers={"accept": "text/html"})
    assert sneaky.status_code == 401 and "<b>" not in sneaky.text
