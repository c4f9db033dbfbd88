"""The connection limits of `dt serve`'s HTTP server (uvicorn's h11 protocol, with two bounds it lacks).

uvicorn closes an idle connection only after a response (`timeout_keep_alive`); one that sends nothing, or its
request headers a byte at a time, stayed open for as long as the client liked, and many of them held the server
(slowloris). Here every request's headers must arrive within `head_timeout` seconds of the connection opening or of
the previous response (a late one gets a 408 and the connection is closed; one that sent nothing is just closed);
the body has its own bound (`app.whole_bodies`). Connections beyond `most` at once are answered 503 naming the cap
(uvicorn's `limit_concurrency` answers a bare 'Service Unavailable' and counts only at a request).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from droptrack.serve.auth import refuse

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0    # a request's headers (a few hundred bytes) must arrive whole within this
MAX_CONNECTIONS = 100    # open connections at once (browsers open up to 6 per server, plus 2 WebSockets per page)


def _closing_answer(status: bytes, message: str, extra: bytes = b"") -> bytes:
    """A whole HTTP answer with {"detail": message} that closes the connection (written to the socket directly)."""
    body = json.dumps({"detail": message}).encode()
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n" + extra
            + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def late_head_answer(timeout: float) -> bytes:
    """The 408 sent (then the connection closed) when a request's headers did not arrive within `timeout` s."""
    return _closing_answer(b"408 Request Timeout", f"the request headers did not arrive within {timeout:g} s; send "
                           "the request whole (dt serve closes connections that stall)")


def busy_message(most: int) -> str:
    """Why a connection past the cap is answered 503."""
    return f"dt serve already has {most} connections open; close some (other pages, scripts) and try again"


def bounded_h11(head_timeout: float = HEAD_TIMEOUT_S, most: int = MAX_CONNECTIONS) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline for each request's headers and a cap on open connections (to pass as
    uvicorn.Config's `http`)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    async def busy(scope, receive, send) -> None:
        await refuse(scope, receive, send, 503, busy_message(most), [(b"connection", b"close"), (b"retry-after", b"5")])

    class Bounded(H11Protocol):
        """H11Protocol whose request heads have a deadline and whose connections beyond `most` are answered 503."""

        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:   # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > most:   # this one is past the cap: its request gets the 503, then it closes
                self.app = busy
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(head_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _head_late(self) -> None:
            """Close the connection unless a request of it is being answered (its body has the app's own bound)."""
            self._deadline = None
            if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
                return
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:   # part of a request head came
                self.transport.write(late_head_answer(head_timeout))
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():   # the next request's head has the same time
                self._arm()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._disarm()
            if self.app is busy:   # the WebSocket protocol would not ask the app: the handshake is refused here
                self.transport.write(_closing_answer(b"503 Service Unavailable", busy_message(most),
                                                     b"retry-after: 5\r\n"))
                self.transport.close()
                return
            super().handle_websocket_upgrade(event)   # the WebSocket protocol takes the connection over

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Bounded
