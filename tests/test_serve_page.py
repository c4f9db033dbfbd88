"""The page of dt serve in a real browser (Chromium through Playwright, as tests/test_serve_browser.py): a finger
on a tablet, a tab in the background, a reverse proxy's path, a server that no longer takes the page's cookie."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from test_serve_browser import (  # noqa: E402 (skips here too without Playwright or Chromium)
    FACE, TOKEN, chromium_page, clip, draw, serve_args, server, state_is)
from serve_helpers import serving  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]   # fixtures: conftest.py
__all__ = ["clip", "serve_args", "server"]   # fixtures, used by name


def test_a_finger_draws_a_box_on_a_tablet(server):
    """The page drew boxes from mouse events only: on a tablet or phone (the screen at hand beside a headless box)
    a finger's drag scrolled the page and started no target. It now follows pointer events, and the image takes
    the touch gesture (no scrolling or zooming under it). Chromium's touch input, through the DevTools protocol."""
    url, _ = server
    base = url.split("?")[0]
    with chromium_page(800, 1000, has_touch=True, is_mobile=True) as page:
        assert page.goto(url).status == 200
        page.wait_for_function("document.getElementById('frame').naturalWidth === 528")
        state_is(page, "waiting")
        r = page.locator("#frame").bounding_box()
        s = r["width"] / 176.0
        x0, y0 = r["x"] + FACE[0] * s, r["y"] + FACE[1] * s
        path = [(x0 + FACE[2] * s * k / 4, y0 + FACE[3] * s * k / 4) for k in range(5)]
        cdp = page.context.new_cdp_session(page)
        with page.expect_response(lambda r: r.url == base + "targets" and r.request.method == "POST") as resp:
            for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * 4, path):
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert resp.value.status == 201, resp.value.text()
        assert np.abs(np.subtract(resp.value.json()["box"], FACE)).max() <= 1, resp.value.json()


def test_a_page_in_a_background_tab_asks_for_nothing_until_shown(server):
    """Every open tab of the page took every frame (a JPEG each, 30 a second) and polled /stats, also in the
    background: a few forgotten tabs ate the link and the box's encoder. A hidden page now asks for no frame and
    polls nothing, and takes up again when shown. Hidden as the Page Visibility API reports it."""
    url, _ = server
    visibility = ("Object.defineProperty(document, 'hidden', {configurable: true, get: () => %s}); "
                  "document.dispatchEvent(new Event('visibilitychange'))")
    received = "() => Number(document.getElementById('received').textContent)"
    with chromium_page() as page:
        assert page.goto(url).status == 200
        page.wait_for_function("document.getElementById('frame').naturalWidth === 528")
        with page.expect_response(lambda r: r.url.endswith("/targets") and r.request.method == "POST"):
            draw(page, FACE)   # the clip plays: a frame every 0.2 s
        page.evaluate(visibility % "true")
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url) if r.url.startswith("http") else None)
        page.wait_for_timeout(300)   # a frame or poll on its way when the page was hidden
        shown, requests[:] = page.evaluate(received), []
        page.wait_for_timeout(2000)   # ten frames of the clip
        assert page.evaluate(received) <= shown + 1 and requests == [], requests   # one was on its way
        page.evaluate(visibility % "false")
        page.wait_for_function(f"({received})() > {shown}")


def test_the_page_works_under_a_proxys_path_and_stops_asking_once_refused(tiny_ckpt, video):
    """Behind a reverse proxy that serves the page under a path (nginx `location /tracker/ { proxy_pass
    http://127.0.0.1:8080/; }`), the page opened its WebSocket at the host's root (/ws/video): no frame ever came.
    It now asks relative to its own URL. And a page whose cookie the server refuses (restarted with another token)
    polled /stats and reopened its WebSocket forever, each a wrong token against the user's address (which then had
    to wait: 429); it now stops at the first 401 and says why. In-process server: the proxy strips /tracker."""
    from droptrack.serve.app import create_app
    from droptrack.serve.auth import cookie_name
    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session

    session = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False, max_frames=30))
    session.start()
    apps = [create_app(session, token=TOKEN, cookie=cookie_name(8080))]

    async def proxy(scope, receive, send):   # the prefix stripped, as nginx's proxy_pass with a URI does
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and not path.startswith("/tracker/"):
            return await create_app(session, token="not-this-one")(scope, receive, send)   # another site's app: 401
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "path": path[len("/tracker"):], "raw_path": path[len("/tracker"):].encode()}
        await apps[-1](scope, receive, send)

    try:
        with serving(proxy) as (_, port), chromium_page() as page:
            base = f"http://127.0.0.1:{port}/tracker/"
            assert page.goto(base + f"?token={TOKEN}").status == 200 and page.url == base
            page.wait_for_function("document.getElementById('frame').naturalWidth === 528")   # over the proxy
            state_is(page, "waiting")
            with page.expect_response(lambda r: r.url == base + "targets") as resp:
                draw(page, FACE)
            assert resp.value.status == 201, resp.value.text()
            refused: list[str] = []
            page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
            page.on("websocket", lambda ws: refused.append(ws.url))
            apps.append(create_app(session, token="restarted-with-another-token", cookie=cookie_name(8080)))
            page.wait_for_function("document.getElementById('message').textContent.includes('restarted?')")
            seen = len(refused)
            page.wait_for_timeout(2000)   # the old page asked again every 300 ms
            assert len(refused) == seen <= 2, refused
    finally:
        session.stop()


def test_a_server_that_does_not_answer_is_not_shown_as_running(server):
    """Once dt serve stopped (Ctrl-C, a dropped link) the page kept showing 'state running' with the browser's
    'Failed to fetch' under the image. It now says the server does not answer, shows the state as unreachable,
    and clears both once the server answers again. The answers held back by the browser (as with the server gone)."""
    url, _ = server
    with chromium_page() as page:
        assert page.goto(url).status == 200
        state_is(page, "waiting")
        page.route("**/stats", lambda route: route.abort("connectionrefused"))
        state_is(page, "unreachable")
        assert page.inner_text("#message").startswith("dt serve does not answer (stopped, or the connection is "
                                                      "down)")
        page.unroute("**/stats")
        state_is(page, "waiting")
        page.wait_for_function("document.getElementById('message').textContent === ''")
