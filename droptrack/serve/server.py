"""`dt serve` as a library function: check the bind, start the tracking session, run uvicorn until Ctrl-C."""

from __future__ import annotations

import errno
import importlib
import ipaddress
import os
import socket
import sys
from typing import TYPE_CHECKING, Callable, Iterable

from droptrack.errors import InputError
from droptrack.serve.auth import cookie_name, is_loopback, new_token, trusted_origins
from droptrack.serve.connections import HEAD_TIMEOUT_S, MAX_CONNECTIONS
from droptrack.serve.options import ServeOptions
from droptrack.serve.session import Session
from droptrack.serve.stops import StopSignals

if TYPE_CHECKING:
    import uvicorn


def web_modules() -> None:
    """Fail with the install line when the optional [web] extra is missing."""
    try:
        for name in ("fastapi", "uvicorn"):   # imported, not only found: a broken install fails here too
            importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise InputError(f"dt serve needs the web extra ({exc.name} is missing); "
                         "pip install 'droptrack[web]'") from None


def resolve_token(host: str, token: str | None) -> str | None:
    """The token to enforce: None on loopback without --token; `auto` generates one; other binds need one."""
    if token == "auto":
        return new_token()
    if token is not None and len(token) < 8:
        raise InputError("--token must have at least 8 characters (or pass --token auto to generate one)")
    if token is not None and token != token.strip():   # HTTP strips a header's value: 'Bearer  x' could never match
        raise InputError("--token starts or ends with a space or tab, which an Authorization header cannot carry; "
                         "pass it without them (or --token auto)")
    if token is None and not is_loopback(host):
        raise InputError(f"--host {host} exposes the tracker to the network; pass --token SECRET or --token auto "
                         "(prints a generated one), or keep the default --host 127.0.0.1")
    return token


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn; one-line errors for a port in use or an address not of this machine."""
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port} is not a TCP port; pass 1-65535 (0 picks a free one)")
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        raise InputError(f"--host '{host}' is not a name or address of this machine; pass --host 127.0.0.1 "
                         "or 0.0.0.0") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use (another dt serve?); pass --port N "
                             "(--port 0 picks a free one) or stop the other server") from None
        if exc.errno == errno.EACCES:
            raise InputError(f"port {port} needs root; pass --port 8080 or another port >= 1024") from None
        raise InputError(f"cannot bind {host}:{port} ({exc.strerror}); pass --host 127.0.0.1 or an address of "
                         "this machine") from None
    sock.listen(128)   # connections wait in the backlog until uvicorn accepts them (the URL is printed before)
    return sock


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to open (the machine's name for a wildcard bind; the token in the query)."""
    name = socket.gethostname() if host in ("0.0.0.0", "::", "[::]") else host
    name = f"[{name}]" if ":" in name and not name.startswith("[") else name
    return f"http://{name}:{port}/" + (f"?token={token}" if token else "")


def trusted_proxies(values: Iterable[str]) -> list[str]:
    """The --trusted-proxy values, checked: each an IP address or network (CIDR) a reverse proxy connects from (its
    X-Forwarded-For and X-Forwarded-Proto are believed from there only), else a one-line error. FORWARDED_ALLOW_IPS
    in the environment (which uvicorn would read) without the option is refused too, so that it is never dropped
    silently (the page's cookie would lose its Secure flag)."""
    values = list(values)
    if not values and os.environ.get("FORWARDED_ALLOW_IPS", "").strip():
        raise InputError("dt serve does not read FORWARDED_ALLOW_IPS; name the reverse proxy with --trusted-proxy "
                         "ADDRESS (repeatable) instead, or unset FORWARDED_ALLOW_IPS")
    proxies = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip().strip("[]"), strict=False)
        except ValueError:
            raise InputError(f"--trusted-proxy '{value}' is not an IP address or network; pass the address the "
                             "reverse proxy connects from, e.g. 127.0.0.1 or 10.0.0.0/24") from None
        one = network.num_addresses == 1
        proxies.append(str(network.network_address) if one else str(network))
        if network.version == 4:   # as a dual-stack bind (--host ::) sees an IPv4 peer: ::ffff:a.b.c.d
            mapped = f"::ffff:{network.network_address}"
            proxies.append(mapped if one else f"{mapped}/{96 + network.prefixlen}")
    return proxies


def server_config(app, proxies: Iterable[str] = (), head_timeout: float = HEAD_TIMEOUT_S,
                  max_connections: int = MAX_CONNECTIONS) -> uvicorn.Config:
    """uvicorn's settings for dt serve: no access log (a ?token= would be in it), a WebSocket message at most as large
    as an HTTP body (the clients send a few bytes; uvicorn's default reads up to 16 MiB per message), no Server
    header (it named uvicorn, which tells a scanner what to try), and X-Forwarded-For / -Proto believed only from
    `proxies` (checked by `trusted_proxies`): uvicorn's default believed them from any loopback process, which could
    so pose as any client (its own count of wrong tokens) or claim https. Each request's headers must arrive within
    `head_timeout` s and at most `max_connections` are open at once (`connections.bounded_h11`: against slowloris)."""
    import uvicorn

    from droptrack.serve.auth import MAX_BODY
    from droptrack.serve.connections import bounded_h11

    proxies = list(proxies)
    return uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off",
                          ws_max_size=MAX_BODY, server_header=False, proxy_headers=bool(proxies),
                          forwarded_allow_ips=proxies, http=bounded_h11(head_timeout, max_connections))


def serve(opts: ServeOptions, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
          echo: Callable[[str], None] = print, allow_origins: Iterable[str] = (),
          allow_frame_ancestors: Iterable[str] = (), warn: Callable[[str], None] | None = None,
          trusted_proxy: Iterable[str] = (), stop: StopSignals | None = None) -> Session:
    """Serve the page and API until Ctrl-C / SIGTERM / SIGHUP (`session.signal`), or until the reader of `--jsonl -`
    goes away (`session.reader_gone`); the outputs are closed on the way out (a Ctrl-C before the server runs
    raises KeyboardInterrupt, a SIGTERM or SIGHUP `droptrack.signals.Stopped`). `allow_origins`: origins trusted besides
    the page's own (a reverse proxy's public address); `allow_frame_ancestors`: sites whose pages may frame this one
    (a dashboard); `warn` (default: stderr) gets the one line saying why tracking stopped, when it stops on an error
    (a full disk); `trusted_proxy`: addresses or networks whose X-Forwarded-For / -Proto are believed (none by
    default). `stop`: the stop-signal handlers (`stops.StopSignals`) the caller put in place at its own start (the
    CLI, as soon as dt serve starts); without it they go in here, first."""
    if stop is None:
        with StopSignals() as own:
            return serve(opts, host, port, token, echo, allow_origins, allow_frame_ancestors, warn, trusted_proxy, own)
    web_modules()
    import uvicorn

    from droptrack.serve.app import create_app

    given, token = token, resolve_token(host, token)
    origins = trusted_origins(allow_origins)
    ancestors = trusted_origins(allow_frame_ancestors, "--allow-frame-ancestors")
    proxies = trusted_proxies(trusted_proxy)
    sock = bind_socket(host, port)
    session = None
    try:
        session = Session(opts)
        bound = sock.getsockname()[1]
        app = create_app(session, token, loopback_only=is_loopback(host), origins=origins, frame_ancestors=ancestors,
                         cookie=cookie_name(bound))
        server = uvicorn.Server(server_config(app, proxies))
        # `dt serve --jsonl - | head`: when the reader goes away the server ends too (as dt run does)
        session.on_reader_gone = lambda: setattr(server, "should_exit", True)
        # an error that stops tracking (a full disk, a broken source) is logged when it happens; the page shows it
        say = warn or (lambda line: print(line, file=sys.stderr, flush=True))
        session.on_stopped = lambda why: say(f"tracking stopped: {why}")
        session.start()
        echo(f"tracking {session.source_name} with {session.tracker.backend.name} on {session.device}; tracker: "
             f"{session.tracker.ext.describe()}")   # as dt run's summary: the extensions given are on
        stop.serving(server)   # a signal from here on ends the server (before: raised, as from the model loading)
        shown = token if given == "auto" else None   # the user's own token stays out of logs (journald, CI)
        how = "open it with ?token=YOUR_TOKEN once or send Authorization: Bearer; " if token and not shown else ""
        echo(f"serving {page_url(host, bound, shown)}  ({how}API docs: /docs; Ctrl-C stops)")
        server.run(sockets=[sock])
        session.signal = stop.signum
    finally:   # a signal before the server ran (loading the model, opening the source) goes on up: 'interrupted'
        stop.closing()   # the outputs are closed whole, whatever signal comes meanwhile
        if session is not None:
            session.stop()
        sock.close()
    return session
