"""Access rules of `dt serve`: loopback by default, a token for anything else, checked on every request.

The token is accepted as `Authorization: Bearer TOKEN` or an `X-DT-Token` header on every request; in the URL
(`?token=`, the printed one) only by the page itself, which answers it with the server's cookie and a reload
without the token in its URL (out of logs, the history and Referer headers; `?token=` elsewhere is ignored). The
cookie (HttpOnly, SameSite=Strict, so the page's own requests and WebSockets carry it and other sites' requests do
not) is named after the server's port and machine and holds a value derived from the token and that name:
browsers send a host's cookies to all its ports (and a proxy may show several machines under one name), so two
servers keep their own, and one's cookie never lets a browser into the other, even with the same token. Wrong
tokens make their client wait (`backoff`). No other site may frame the page (unless it was named with
--allow-frame-ancestors: a dashboard that embeds it), and no URL leaves in a Referer.
WebSockets and state-changing requests (POST, PUT, DELETE) from another origin are refused (a page of another
site in the user's browser cannot steer the tracker) unless that origin was trusted with --allow-origin (the
public address of a reverse proxy), and on a loopback bind only loopback Host names, and the host names of those
trusted origins (a proxy that passes the public Host on), are answered (against DNS rebinding: an attacker's
name that resolves to 127.0.0.1 is none of them).
Other sites' pages may open or frame the page, but not load its answers as resources (an <img> of the snapshot:
the browser's Sec-Fetch-Site says where a request comes from); pages of the same site (another port of this host)
may.
"""

from __future__ import annotations

import hashlib
import html
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from droptrack.errors import InputError
from droptrack.serve.backoff import Backoff, client_key, retry_after

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")   # no side effects: other sites' pages may send them, never read them
SECURITY_HEADERS = [   # no page of another site may frame this one (clickjacking); no URL leaves in a Referer
    (b"content-security-policy", b"frame-ancestors 'none'"), (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]
EXAMPLES = {"--allow-origin": "as the browser's address bar shows the proxy, e.g. https://tracker.example.org",
            "--allow-frame-ancestors": "as the browser's address bar shows the dashboard that embeds the page, "
                                       "e.g. https://grafana.example.org"}
MAX_BODY = 64 * 1024   # bytes; the API's bodies are a few dozen bytes of JSON
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")   # as browsers send it in Origin (IDNs as xn--)


def is_loopback(host: str) -> bool:
    """Whether binding `host` exposes the server to this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _canonical_origin(value: str) -> str | None:
    """scheme://host[:port] as browsers send it in Origin (lower case, no default port); None for anything else."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:   # a port out of range or not a number, a broken IPv6 address
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    if not (HOST_NAME.fullmatch(host) or ":" in host and _is_ip(host)):   # no space or ';' (it goes into a CSP)
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}")


def trusted_origins(values: Iterable[str], option: str = "--allow-origin") -> frozenset[str]:
    """The --allow-origin (or --allow-frame-ancestors) values, checked: each an origin (scheme://host[:port], no
    path), else a one-line error."""
    origins = set()
    for value in values:
        origin = _canonical_origin(value)
        if origin is None:
            raise InputError(f"{option} '{value}' is not an origin; pass scheme://host[:port] without a path, "
                             + EXAMPLES[option])
        origins.add(origin)
    return frozenset(origins)


def security_headers(frame_ancestors: frozenset[str] = frozenset()) -> list[tuple[bytes, bytes]]:
    """The headers of every response: framing forbidden, or allowed to exactly `frame_ancestors` (then without
    X-Frame-Options, which has no list of sites: browsers obey the CSP's)."""
    if not frame_ancestors:
        return SECURITY_HEADERS
    csp = ("frame-ancestors " + " ".join(sorted(frame_ancestors))).encode("ascii")
    return [(b"content-security-policy", csp),
            *((k, v) for k, v in SECURITY_HEADERS if k not in (b"content-security-policy", b"x-frame-options"))]


def _netloc(origin: str) -> str | None:
    """host[:port] of an Origin header, lower case; None for one that is no URL (a broken IPv6 address)."""
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:
        return None


def _origin_host(origin: str) -> str:
    """The host name of a canonical origin as `_host_name` gives it (IPv6 in brackets)."""
    host = urlsplit(origin).hostname or ""
    return f"[{host}]" if ":" in host else host


def new_token() -> str:
    """A random URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def cookie_name(port: int | None = None, host: str | None = None) -> str:
    """The page's cookie name: one per port and machine (a browser sends a host's cookies to all its ports, and a
    proxy may show servers of several machines under one host name), or, without a port, one per instance."""
    if port is None:
        return "dt_serve_" + secrets.token_hex(6)
    machine = hashlib.sha256((host if host is not None else socket.gethostname()).encode()).hexdigest()[:8]
    return f"dt_serve_{port}_{machine}"


def cookie_value(token: str, name: str) -> str:
    """The cookie's value: the token's HMAC over the cookie's name (never the token itself; another server's
    cookie, of another name, is not this one's even where both have the same token)."""
    return hmac.new(token.encode(), name.encode(), hashlib.sha256).hexdigest()


def route_path(scope) -> str:
    """The request's path inside the app: without the root path a proxy put in front (ASGI's `root_path`)."""
    path, root = scope.get("path", "/"), scope.get("root_path", "")
    return (path[len(root):] or "/") if root and path.startswith(root) else path


def _utf8(value: str) -> str:
    """A header value (bytes read as Latin-1) as the UTF-8 text clients send (a non-ASCII token)."""
    return value.encode("latin-1").decode("utf-8", "replace")


def _given_token(scope, headers: dict[str, str], cookie: str) -> tuple[str | None, str]:
    """The credential a request carries and where: 'header', 'query' (the page's own URL only) or 'cookie'."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return _utf8(auth[7:].strip()), "header"
    if "x-dt-token" in headers:
        return _utf8(headers["x-dt-token"]), "header"
    if scope["type"] == "http" and scope["method"] == "GET" and route_path(scope) == "/":   # the printed URL only
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"][0], "query"
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie:
            return value, "cookie"
    return None, ""


def _with_headers(send, extra: list[tuple[bytes, bytes]]):
    """`send` that adds `extra` to the response's headers, and Cache-Control: no-store where the response has no
    Cache-Control of its own (live frames, stats and targets kept by no browser or proxy cache)."""
    async def wrapped(message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), *extra]
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _from_another_site(headers: dict[str, str]) -> bool:
    """Whether a browser marks the request as made by a page of another site, other than opening or framing a page
    (Fetch Metadata): an <img>, script or fetch of another site's page (no work is done for it). Another port of the
    same host is the same site (a dashboard's <img> of /snapshot.png on the user's own Grafana at :3000)."""
    if headers.get("sec-fetch-site", "same-origin") != "cross-site":
        return False   # the page's own, a same-site page's, a typed URL or bookmark ('none'), no Fetch Metadata (curl)
    return headers.get("sec-fetch-mode") != "navigate" or headers.get("sec-fetch-dest") in ("object", "embed")


def _body_refused(headers: dict[str, str]) -> tuple[int, str] | None:
    """(status, message) for a body the API would have to read whole into memory: too long, or of unknown length."""
    length = headers.get("content-length")
    if length is None and "chunked" in headers.get("transfer-encoding", "").lower():
        return 411, f"send the body with a Content-Length (at most {MAX_BODY} bytes); chunked bodies are refused"
    if length is not None and length.strip().isdigit() and int(length) > MAX_BODY:
        return 413, f"a body of {int(length)} bytes is refused; the API takes at most {MAX_BODY} bytes of JSON"
    return None


class AccessGuard:
    """ASGI middleware: 401 JSON without the right token (429 while its client waits after wrong ones), 403 for
    foreign Hosts/Origins (but `origins`, trusted, and their host names), 411/413 for bodies of unknown length or
    over MAX_BODY; no exceptions. `frame_ancestors`: the sites that may frame the page (none by default); `cookie`:
    the page cookie's name (`cookie_name`); `clock`: the back-off's."""

    def __init__(self, app, token: str | None, loopback_only: bool, origins: frozenset[str] = frozenset(),
                 frame_ancestors: frozenset[str] = frozenset(), cookie: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.app, self.token, self.loopback_only, self.origins = app, token, loopback_only, origins
        self.cookie = cookie or cookie_name()
        self.cookie_value = cookie_value(token, self.cookie) if token is not None else ""   # once, not per request
        self.backoff = Backoff(clock)   # this server's own count of wrong tokens per client
        self.hosts = frozenset(_origin_host(o) for o in origins)   # a proxy's public Host, passed on
        self.headers = security_headers(frame_ancestors)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        if scope["type"] == "http":
            send = _with_headers(send, self.headers)
        host = _host_name(headers.get("host", "localhost"))
        if self.loopback_only and not is_loopback(host) and host not in self.hosts:
            return await refuse(scope, receive, send, 403, "this server answers on localhost only "
                                "(dt serve --host 127.0.0.1); use http://127.0.0.1:PORT/, or (behind a reverse "
                                "proxy that passes its public Host on) dt serve --allow-origin PROXY_URL")
        origin = headers.get("origin")   # browsers send it with every WebSocket and every POST/PUT/DELETE
        if (origin is not None and _netloc(origin) != headers.get("host", "").lower()
                and _canonical_origin(origin) not in self.origins):
            what = "WebSocket" if scope["type"] == "websocket" else scope["method"]
            if what not in SAFE_METHODS:
                return await refuse(scope, receive, send, 403, f"{what} from another origin ({origin}) "
                                    "refused; use the page that dt serve serves, a client without Origin, or "
                                    "(behind a reverse proxy) dt serve --allow-origin PROXY_URL")
        trusted = origin is not None and _canonical_origin(origin) in self.origins
        if scope["type"] == "http" and _from_another_site(headers) and not trusted:
            return await refuse(scope, receive, send, 403, "a resource load from another site's page refused (the "
                                "browser's Sec-Fetch-Site); open the page itself, or use a client without it (curl)")
        if scope["type"] == "http" and (refused := _body_refused(headers)):
            return await refuse(scope, receive, send, *refused)
        if self.token is None:
            return await self.app(scope, receive, send)
        if not await self._authorized(scope, receive, send, headers):
            return None
        return await self.app(scope, receive, send)

    async def _authorized(self, scope, receive, send, headers: dict[str, str]) -> bool:
        """Whether the request carries the token (or the page's cookie); else it is answered here: 401, or 429 while
        its client waits after too many wrong tokens (unchecked: a right guess looks like a wrong one), or, for the
        printed URL, the cookie and a reload without the token."""
        client = client_key(scope)
        if wait := self.backoff.wait_s(client):
            return await _too_many(scope, receive, send, wait)
        given, where = _given_token(scope, headers, self.cookie)
        expected = self.cookie_value if where == "cookie" else self.token
        if given is not None and secrets.compare_digest(given.encode(), expected.encode()):
            if where == "query":
                await self._enter(send, secure=scope.get("scheme") == "https")
                return False
            return True
        if given is not None and (wait := self.backoff.failed(client)):
            return await _too_many(scope, receive, send, wait)
        if given is None:
            in_url = "token" in parse_qs(scope.get("query_string", b"").decode("latin-1"))
            why = "a token in the URL is taken by the page (/?token=) only" if in_url else "missing token"
        else:
            why = "wrong token" if where != "cookie" else "the page's cookie is of another token (restarted?)"
        await refuse(scope, receive, send, 401, f"{why}; open the URL that dt serve printed (…/?token=TOKEN) "
                     "or send the header Authorization: Bearer TOKEN")
        return False

    async def _enter(self, send, secure: bool) -> None:
        """The printed URL: set the cookie that the page's requests carry and reload the page without the token
        (out of the address bar, the history and bookmarks); `secure`: the page came over https (a TLS proxy), so
        the cookie is never sent over plain http. No Path: the browser keeps it to the page's folder, the whole
        server, or only /tracker/ where a proxy shows it there (not the proxy's other sites)."""
        flags = "; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
        cookie = f"{self.cookie}={self.cookie_value}{flags}".encode("ascii")
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", b"./"), (b"set-cookie", cookie), (b"cache-control", b"no-store"),
            (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


async def _too_many(scope, receive, send, wait: float) -> bool:
    """429 with Retry-After for a client that sent too many wrong tokens; False (the request is answered)."""
    seconds = retry_after(wait)
    await refuse(scope, receive, send, 429, f"too many wrong tokens from this address; try again in {seconds} s",
                 [(b"retry-after", seconds.encode())])
    return False


async def refuse(scope, receive, send, status: int, message: str, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Answer a request, or refuse a WebSocket's handshake, with `status`, {"detail": message} and `extra` headers (a
    server without the denial-response extension closes the WebSocket with 1008 and the message instead)."""
    body, kind = json.dumps({"detail": message}).encode(), b"application/json"
    if scope["type"] == "http" and "text/html" in _headers(scope).get("accept", ""):   # a browser opening a URL
        body, kind = _refusal_page(status, message), b"text/html; charset=utf-8"
    start = {"status": status, "headers": [(b"content-type", kind),
                                           (b"content-length", str(len(body)).encode()), *extra]}
    if scope["type"] == "http":
        await send({"type": "http.response.start", **start})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()   # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", **start})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


def _refusal_page(status: int, message: str) -> bytes:
    """A refusal as a short HTML page, for a person whose browser opened the URL (JSON reads as noise there)."""
    text = html.escape(message)
    return (f"<!doctype html><meta charset=utf-8><title>dt serve: {status}</title>"
            f"<p>dt serve refused this request ({status}).</p><p>{text}</p>").encode()
