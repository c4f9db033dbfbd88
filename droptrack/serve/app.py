"""The web API and page of `dt serve` (FastAPI): targets, stats, pause, snapshot, live frames and records."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from importlib import resources
from typing import Callable

import anyio
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIWebSocketRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from droptrack import __version__
from droptrack.serve.auth import AccessGuard, refuse
from droptrack.serve.backoff import client_key
from droptrack.serve.docs import reference_page
from droptrack.serve.options import CommandError
from droptrack.serve.session import Session
from droptrack.serve.unknown import known_websockets, NO_BODY, unknown_fields

RECORD_QUEUE = 1000      # records buffered per /ws/records client before the oldest are dropped
POLL_S = 0.01            # how often a viewer looks for a newer frame
COMMAND_THREADS = 4      # threads for commands waiting on the tracking thread (it applies them one at a time)
SNAPSHOT_ENCODES = 2     # PNG snapshots encoded at once (each an annotated copy of the frame); others wait
MAX_CLIENTS = 32         # WebSocket clients at once (live views and record streams); more are refused with 503
CLIENTS_PER_ADDRESS = 8  # of those from one client address (a page opens 2); more are refused with 503
BODY_TIMEOUT_S = 10.0    # a request body (a few dozen bytes, at most 64 KiB) must arrive whole within this
HEAD_ONLY = "droptrack.head"   # scope key: a GET that answers a HEAD (a route may skip making the body)

DESCRIPTION = """Live view and control of a running tracker.

Draw or POST a box to start a target; records of every frame (the same as `dt run --jsonl`, plus `ids`) stream
on the WebSocket `/ws/records`; annotated JPEG frames on `/ws/video` (send any text message after each frame to
get the next one: a slow client skips frames, the tracker never waits). With `--token`, send
`Authorization: Bearer TOKEN` on every request and WebSocket (`?token=TOKEN` is taken by the page `/` only, which
sets the page's cookie). A bad request is a 4xx whose `detail` is one line (`ApiError`): besides each operation's
own, any request may get 401 (token missing or wrong), 429 (too many wrong tokens from this address: wait for its
Retry-After), 403 (Host or Origin refused), 408 (headers or body not whole within 10 s), 411/413 (a body of unknown
length or over 64 KiB) or 503 (over 100 connections open); a WebSocket over 32 at once, or over 8 from one address,
gets 503, and one to a path other than these two 404."""


class Box(BaseModel):
    """A box in image pixels of the current frame: left, top, width, height; JSON numbers (strict: true or "12" is
    a malformed field, not 1 or 12); any other field is refused, naming these (a misspelt one was ignored)."""

    model_config = ConfigDict(extra="forbid")
    x: float = Field(examples=[60], allow_inf_nan=False, strict=True)
    y: float = Field(examples=[20], allow_inf_nan=False, strict=True)
    w: float = Field(examples=[50], allow_inf_nan=False, strict=True)
    h: float = Field(examples=[60], allow_inf_nan=False, strict=True)

    def values(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]


BOX_WORDS = {"left": "x", "top": "y", "width": "w", "height": "h"}   # a misspelt 'hieght' means h


class ApiError(BaseModel):
    """Every error answer of the API: one line naming the problem and the request that works."""

    detail: str = Field(examples=["body.w: Field required; send JSON {\"x\": 60, \"y\": 20, \"w\": 50, \"h\": 60} "
                                  "(image pixels) with Content-Type: application/json"])


ENDED = "the source ended (restart dt serve to track again)"
SLOW = "the tracking thread did not answer in time; nothing was changed"
BAD_BOX = "a malformed body (naming the field), or a box outside the frame, empty or not finite"
SENT = "a body (this operation takes none; its fields are named)"


def errors(described: dict[int, str]) -> dict:
    """The `responses` of an operation for its error statuses (status -> when): each an `ApiError`, as the API
    answers them (FastAPI's default 422 schema is a list of error objects, which the API never sends)."""
    return {code: {"model": ApiError, "description": why} for code, why in described.items()}


def invalid_request_message(errors) -> str:
    """FastAPI's list of validation errors as one line: where, what, and the request that works; a misspelt field
    alone, with the field it likely means (not also the field that it left out)."""
    unknown = [str(e["loc"][-1]) for e in errors if e.get("type") == "extra_forbidden" and e.get("loc")]
    if unknown:
        return unknown_fields(unknown, Box.model_fields, BOX_WORDS)
    parts, body = [], False
    for e in errors:
        loc = [str(v) for v in e.get("loc", ())]
        body = body or loc[:1] == ["body"]
        where = ".".join(loc[1:]) or (loc[0] if loc else "request")
        why = e.get("msg", "invalid")
        if e.get("type") == "json_invalid":
            where, why = "body", f"not valid JSON ({e.get('ctx', {}).get('error', why)})"
        parts.append(f"{where}: {why}")
    hint = ('; send JSON {"x": 60, "y": 20, "w": 50, "h": 60} (image pixels) with Content-Type: application/json'
            if body else "")
    return "; ".join(parts) + hint


def unreadable_json(cause: BaseException | None) -> str | None:
    """Why json could not read a body (FastAPI answers it with a bare 400), or None for another 400."""
    if isinstance(cause, RecursionError):
        return "nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(cause, ValueError) and "digits" in str(cause):   # int() of a long number (sys.int_info)
        return "a number of more than 4300 digits"
    return None


def _asset(name: str) -> str:
    return resources.files("droptrack.serve").joinpath("static", name).read_text(encoding="utf-8")


def _put_dropping(q: asyncio.Queue, item) -> None:
    if q.full():
        q.get_nowait()
    q.put_nowait(item)


async def _until_disconnect(ws: WebSocket, sender, on_message=None) -> None:
    """Run `sender()` until the client goes away (reading notices a close even when nothing is sent);
    `on_message()` is called for every message the client sends."""
    async with anyio.create_task_group() as tg:
        async def send_all() -> None:
            try:
                await sender()
            except (WebSocketDisconnect, RuntimeError, OSError):   # the client went away while we sent
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(send_all)
        while (await ws.receive())["type"] != "websocket.disconnect":
            if on_message is not None:
                on_message()
        tg.cancel_scope.cancel()


def answer_head(app):
    """ASGI wrapper: HEAD answered wherever GET is (curl -I, monitoring), with the GET response's status and
    headers and no body; FastAPI's routes answer only the methods they declare (HEAD / was a 405). The GET's scope
    carries `HEAD_ONLY`, so that a route whose body is costly (the PNG snapshot) can skip making it."""
    async def wrapped(scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await app(scope, receive, send)

        async def headers_only(message) -> None:
            await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

        await app({**scope, "method": "GET", HEAD_ONLY: True}, receive, headers_only)

    return wrapped


def _loopback(scope) -> bool:
    """Whether a client is this machine (a local browser, an SSH tunnel): every such client shares one address, so a
    per-address cap there would be a cap on all of them; only the total applies. Its own address, not its
    `client_key` (::1's is its /64 network, '::/64', no loopback address)."""
    try:
        address = ipaddress.ip_address((scope.get("client") or ("", 0))[0] or "")
    except ValueError:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def limit_websockets(app, most: int, per_client: int = CLIENTS_PER_ADDRESS):
    """ASGI wrapper: at most `most` WebSockets at once (each costs a task and a call per frame from the tracking
    thread), and at most `per_client` from one client (`backoff.client_key`: one script could take every place and
    lock the page out; not for loopback clients, who all share one address); the handshake of one more is refused with 503 until one leaves."""
    open_now = [0]   # this app's own counts (the event loop runs one handler step at a time)
    by_client: dict[str, int] = {}

    async def wrapped(scope, receive, send) -> None:
        if scope["type"] != "websocket":
            return await app(scope, receive, send)
        if open_now[0] >= most:
            return await refuse(scope, receive, send, 503, f"already {most} live-view/record clients; close one "
                                "(another page or script of this server) and try again")
        who = client_key(scope)
        if by_client.get(who, 0) >= per_client and not _loopback(scope):
            return await refuse(scope, receive, send, 503, f"already {per_client} live-view/record clients from "
                                "this address; close one (another tab or script) and try again")
        open_now[0] += 1
        by_client[who] = by_client.get(who, 0) + 1
        try:
            await app(scope, receive, send)
        finally:
            open_now[0] -= 1
            by_client[who] -= 1
            if not by_client[who]:
                del by_client[who]

    return wrapped


def whole_bodies(app, timeout: float):
    """ASGI wrapper: a POST/PUT/DELETE body is read whole before the route runs, within `timeout` s, else 408; a
    stalled body held its task until the server stopped, which then cancelled it with a traceback in the log (now
    503, one answer). The access guard has capped its size (MAX_BODY) before."""
    async def wrapped(scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await app(scope, receive, send)
        messages: list[dict] = []

        async def read_all() -> None:
            while True:
                messages.append(await receive())
                if messages[-1]["type"] != "http.request" or not messages[-1].get("more_body", False):
                    return

        try:
            await asyncio.wait_for(read_all(), timeout)
        except asyncio.TimeoutError:
            return await refuse(scope, receive, send, 408, f"the request body did not arrive within {timeout:g} s; "
                                "send it whole, with its Content-Length")
        except asyncio.CancelledError:   # the server stops (its grace period is over): answer, do not raise
            return await refuse(scope, receive, send, 503, "dt serve is shutting down; the request was not applied")

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await app(scope, replay, send)

    return wrapped


def create_app(session: Session, token: str | None = None, loopback_only: bool = True,
               origins: frozenset[str] = frozenset(), frame_ancestors: frozenset[str] = frozenset(),
               max_clients: int = MAX_CLIENTS, cookie: str | None = None,
               clock: Callable[[], float] = time.monotonic, body_timeout: float = BODY_TIMEOUT_S,
               max_per_client: int = CLIENTS_PER_ADDRESS):
    """The ASGI app: FastAPI routes wrapped in the access guard (token, Host and Origin checks; `origins`: trusted
    ones, `auth.trusted_origins`; `frame_ancestors`: sites that may frame the page; `cookie`: the page cookie's
    name, `auth.cookie_name`; `clock`: the wrong-token back-off's), HEAD as GET; at most `max_clients` WebSockets
    at once, `max_per_client` of them from one client; a request body read whole within `body_timeout` s."""
    api = FastAPI(title="dt serve", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    page, script = _asset("index.html"), _asset("app.js")
    limiter = anyio.CapacityLimiter(COMMAND_THREADS)
    snapshots = anyio.CapacityLimiter(SNAPSHOT_ENCODES)   # memory and cores stay the tracker's

    async def command(fn, *args):
        """A command waits for the tracking thread in a thread of the commands' own few: however many wait (a
        stalled source), the shared pool stays free for /stats, snapshots and the live view."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    @api.exception_handler(CommandError)
    async def command_error(request: Request, exc: CommandError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": invalid_request_message(exc.errors())}, status_code=422)

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """FastAPI's own answers as they were (404, 405 with Allow), but a body json cannot read: the 422 of any
        malformed body, saying why."""
        why = unreadable_json(exc.__cause__) if exc.status_code == 400 else None
        if why is not None:
            error = {"type": "json_invalid", "loc": ("body",), "ctx": {"error": why}}
            return JSONResponse({"detail": invalid_request_message([error])}, status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API reference, built from the schema (FastAPI's Swagger UI needs a CDN: blank offline)."""
        return HTMLResponse(reference_page(api))

    @api.get("/app.js", include_in_schema=False)
    def app_js() -> Response:
        return Response(script, media_type="text/javascript")

    @api.get("/stats")
    def stats() -> dict:
        """State, frame, FPS, per-stage latency (mean and p99 ms over recent frames), every target and the tracker's
        `procedure` ('official procedure', or the extensions on, as in dt run's summary)."""
        return session.stats()

    @api.get("/targets")
    def targets() -> list[dict]:
        """The live targets: id, box, score, lost flag, the frame they started on."""
        return session.targets()

    @api.post("/targets", status_code=201, responses=errors({
        409: f"over --max-targets, a box file of another run in the way, or {ENDED}", 422: BAD_BOX, 503: SLOW,
        507: "the target's --output box file cannot be written"}))
    async def add_target(box: Box) -> dict:
        """Start a target on the current frame (422: box outside the frame or empty; 409: --max-targets); the
        answer has a `warning` where the box lies on pixels of one colour (a black frame: nothing to follow)."""
        return await command(session.add_target, box.values())

    @api.put("/targets/{target_id}", responses=errors({404: "no target with this id", 409: ENDED,
                                                       422: f"{BAD_BOX}, or an id that is not an integer",
                                                       503: SLOW}))
    async def reselect_target(target_id: int, box: Box) -> dict:
        """Re-select a target: new template from this box on the current frame; the id stays."""
        return await command(session.reselect_target, target_id, box.values())

    @api.delete("/targets/{target_id}", dependencies=NO_BODY, responses=errors({
        404: "no target with this id", 409: ENDED, 422: f"an id that is not an integer, or {SENT}", 503: SLOW}))
    async def remove_target(target_id: int) -> dict:
        """Stop tracking a target (404 if there is none with this id)."""
        return await command(session.remove_target, target_id)

    @api.post("/pause", dependencies=NO_BODY, responses=errors({409: ENDED, 422: SENT, 503: SLOW}))
    async def pause() -> dict:
        """Hold the current frame (targets can still be drawn on it)."""
        return await command(session.set_paused, True)

    @api.post("/resume", dependencies=NO_BODY, responses=errors({409: ENDED, 422: SENT, 503: SLOW}))
    async def resume() -> dict:
        """Continue tracking."""
        return await command(session.set_paused, False)

    @api.get("/snapshot.png", response_class=Response,
             responses={200: {"content": {"image/png": {}}}, **errors({409: "no frame yet"})})
    async def snapshot(request: Request) -> Response:
        """The current frame with its boxes as a PNG download (HEAD: its headers without a Content-Length; nothing
        is encoded)."""
        if request.scope.get(HEAD_ONLY):
            index, data = session.latest.newest_index(), None
        else:
            _, index, data = await anyio.to_thread.run_sync(session.latest.encode, ".png", limiter=snapshots)
        if index is None or data == b"":
            raise CommandError(409, "no frame yet; try again in a moment")
        response = Response(data, media_type="image/png",
                            headers={"Content-Disposition": f'attachment; filename="dt-frame-{index}.png"'})
        if data is None:   # the PNG's size is known only once it is encoded
            del response.headers["content-length"]
        return response

    @api.websocket("/ws/video")
    async def video(ws: WebSocket) -> None:
        """Annotated JPEG frames, one per message after each message from the client (frames in between are
        skipped for that client only)."""
        await ws.accept()
        wanted = asyncio.Event()   # the client asked for a frame (set: the first one)
        wanted.set()

        async def sender() -> None:
            last = 0
            while True:
                await wanted.wait()
                wanted.clear()
                while session.latest.seq == last:   # a client that leaves meanwhile ends this (no lasting poll)
                    await asyncio.sleep(POLL_S)
                last, _, data = await run_in_threadpool(session.latest.encode)
                await ws.send_bytes(data)

        await _until_disconnect(ws, sender, on_message=wanted.set)

    @api.websocket("/ws/records")
    async def records(ws: WebSocket) -> None:
        """Every finished frame's record as JSON text (the --jsonl record plus `ids`); a client that falls more
        than 1000 records behind loses the oldest."""
        await ws.accept()
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue(maxsize=RECORD_QUEUE)

        def push(rec: dict) -> None:   # tracking thread
            try:
                loop.call_soon_threadsafe(_put_dropping, q, rec)
            except RuntimeError:        # the event loop is closing
                pass

        async def sender() -> None:
            while True:
                await ws.send_text(json.dumps(await q.get()))

        unsubscribe = session.listen(push)
        try:
            await _until_disconnect(ws, sender)
        finally:
            unsubscribe()

    sockets = [route.path for route in api.routes if isinstance(route, APIWebSocketRoute)]
    routes = whole_bodies(known_websockets(limit_websockets(api, max_clients, max_per_client), sockets), body_timeout)
    return answer_head(AccessGuard(routes, token, loopback_only, origins, frame_ancestors, cookie, clock))
