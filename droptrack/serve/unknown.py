"""Clear answers for what dt serve does not know: a JSON field no body has, a WebSocket path with no route."""

from __future__ import annotations

import json
from typing import Iterable

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from droptrack.serve.auth import refuse

SHOWN = 80   # characters of an unknown name or path quoted back (the rest is cut: the answer stays one short line)


def shown(name: str) -> str:
    """A client's field name or path as quoted back: printable (the answer stays one line) and short."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name[:SHOWN])
    return text + ("..." if len(name) > SHOWN else "")


def _meant(name: str, words: dict[str, str]) -> str:
    """' (did you mean h?)' for a misspelt field (difflib's closest of `words`: a word -> the field it means), or ''."""
    import difflib

    match = difflib.get_close_matches(name.lower(), list(words), n=1)
    return f" (did you mean {words[match[0]]}?)" if match else ""


def unknown_fields(names: list[str], fields: Iterable[str], words: dict[str, str]) -> str:
    """Why a body's fields were refused, one short line: each unknown name with the field it likely means, then the
    fields a body may have (a misspelt 'hieght' was silently ignored). `words`: other words for the fields."""
    fields = list(fields)
    meant = {**{f: f for f in fields}, **words}
    parts = [f"{shown(n)}: unknown field{_meant(n, meant)}" for n in names[:5]]
    return "; ".join(parts) + ("; ..." if len(names) > 5 else "") + "; the fields are " + ", ".join(fields)


async def no_body(request: Request) -> None:
    """Refuse a body sent to an operation that takes none (pause, resume, remove a target) with 422 naming its fields:
    POST /pause {"paused": false} paused, its field ignored. No body, whitespace, {} or null pass."""
    raw = (await request.body()).strip()
    try:
        sent = json.loads(raw) if raw else None
    except (ValueError, RecursionError):   # not JSON (form data, text): a body all the same
        sent = raw
    if sent is None or sent == {}:
        return
    where = f"{request.method} {shown(request.url.path)} takes no body (send none)"
    if not isinstance(sent, dict):
        raise HTTPException(422, where)
    fields = ", ".join(shown(k) for k in list(sent)[:5]) + (", ..." if len(sent) > 5 else "")
    raise HTTPException(422, f"{fields}: unknown field; {where}")


NO_BODY = [Depends(no_body)]   # the `dependencies` of the operations without a body


def known_websockets(app, paths: Iterable[str]):
    """ASGI wrapper: a WebSocket to a path with no route is refused with 404 naming the WebSockets there are; the
    router only closed its handshake, which uvicorn answers as a bare 403, read as a refused token or origin."""
    known = tuple(paths)

    async def wrapped(scope, receive, send) -> None:
        if scope["type"] != "websocket" or scope["path"] in known:
            return await app(scope, receive, send)
        await refuse(scope, receive, send, 404, f"no WebSocket at {shown(scope['path'])}; the WebSockets are "
                     f"{' and '.join(known)}")

    return wrapped
