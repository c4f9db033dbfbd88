"""dt serve in a real browser: headless Debian Chromium driven by Playwright draws boxes on a live video.

The boxes of the target drawn on the page must equal `dt run --init` with the same box; only a dashboard named with
--allow-frame-ancestors may show the page in a frame. Skips cleanly without
Playwright or Chromium (.ci/run installs Chromium).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import queue
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.runtime.sources import open_source

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright for Python")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]   # fixtures: conftest.py
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "browser-test-token"
FRAMES = 40
FPS = 5   # the file plays on while the page acts: at the video's 30 FPS it ended ~1 s after the first target, so a
          # page stalled that long under load paused too late (409: the source ended)
FACE = (60, 20, 50, 60)        # the caller's head in carphone_pristine.mp4 (176x144)
HAND = (8, 60, 45, 50)


@pytest.fixture
def clip(video, tmp_path) -> Path:
    """The video's first FRAMES frames as a PNG folder (lossless: dt run reads the same pixels), played at FPS."""
    import cv2

    folder = tmp_path / "clip"
    folder.mkdir()
    with open_source(video) as src:
        for f, _ in zip(src, range(FRAMES)):
            assert cv2.imwrite(str(folder / f"{f.index + 1:08d}.png"), cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture
def serve_args() -> list[str]:
    """Options added to `server`'s command line (a module that serves with other options overrides this)."""
    return []


@pytest.fixture
def server(clip, serve_args, tmp_path):
    """`dt serve CLIP --fps FPS` in a subprocess (the embedded model, CPU, 1 thread); yields (page URL, jsonl)."""
    jsonl = tmp_path / "serve.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(clip), "--fps", str(FPS), "--port",
                             "0", "--device", "cpu", "--threads", "1", "--token", TOKEN, "--max-targets", "2",
                             "--max-frames", str(FRAMES), "--jsonl", str(jsonl), *serve_args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    url, seen = None, []
    deadline = time.monotonic() + 180
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith("serving "):
            assert TOKEN not in line and "?token=YOUR_TOKEN" in line, line   # a token of one's own is not logged
            url = line.split()[1] + "?token=" + TOKEN
    assert url is not None, "dt serve did not print its URL:\n" + "".join(seen)
    try:
        yield url, jsonl
    finally:
        proc.send_signal(signal.SIGTERM)   # as systemd stops it: a clean exit 0
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, "".join(seen)


@contextlib.contextmanager
def chromium():
    """Headless Chromium through Playwright, closed when the block ends."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(width: int = 1200, height: int = 700, **options):
    """A page of a fresh headless Chromium (`options`: `browser.new_page`'s), waiting up to 90 s for anything (a
    2-core CI machine under load tracks at a few frames/s); the browser closed when the block ends."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height}, **options)
        page.set_default_timeout(90_000)
        yield page


def draw(page, box) -> None:
    """Drag the mouse over `box` (image pixels) on the shown frame, which the page may display scaled."""
    r = page.locator("#frame").bounding_box()
    s = r["width"] / 176.0
    x0, y0 = r["x"] + box[0] * s, r["y"] + box[1] * s
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box[2] * s / 2, y0 + box[3] * s / 2, steps=4)
    page.mouse.move(x0 + box[2] * s, y0 + box[3] * s, steps=4)
    page.mouse.up()


def state_is(page, *states: str) -> None:
    page.wait_for_function(f"{list(states)}.some(s => document.getElementById('state').textContent.startsWith(s))",
                           timeout=90_000)


def test_browser_draws_targets_and_matches_dt_run(server, clip, tmp_path):
    url, jsonl = server
    base = url.split("?")[0]
    with chromium_page() as page:
        r = page.goto(base + "?token=wrong-token")
        assert r.status == 401 and "wrong token" in r.text()
        assert page.request.get(base + "stats").status == 401
        assert page.goto(url).status == 200                      # the printed URL (sets the cookie)
        assert page.url == base                                  # ...and reloads without the token
        page.wait_for_function("Number(document.getElementById('received').textContent) >= 1 && "
                               "document.getElementById('frame').naturalWidth === 528")   # 176 px, x3
        state_is(page, "waiting")                                # a file waits on frame 0 for a target
        r = page.locator("#frame").bounding_box()
        page.mouse.click(r["x"] + 50, r["y"] + 50)                 # a click is no box: a hint, no request
        page.wait_for_function("document.getElementById('message').textContent.startsWith('drag over')")
        assert page.request.get(base + "targets").json() == []
        draw(page, FACE)
        page.wait_for_selector("#targets tr[data-id='0']")
        page.wait_for_function("Number(document.getElementById('frame-index').textContent) >= 8")
        page.click("#pause")
        state_is(page, "paused")
        draw(page, HAND)                                         # a second target on the paused frame
        page.wait_for_selector("#targets tr[data-id='1']")
        frame = int(page.inner_text("#frame-index"))
        page.click("#pause")                                     # resume: both are tracked in one batch
        page.wait_for_function(f"Number(document.getElementById('frame-index').textContent) >= {frame + 3}")
        page.click("#pause")
        state_is(page, "paused")
        page.wait_for_timeout(400)                               # the last frame and stats arrive
        page.screenshot(path=str(tmp_path / "serve.png"))
        received = int(page.inner_text("#received"))
        assert received >= 5, received
        assert page.inner_text("#latency").count("infer") == 1
        page.click("#targets tr[data-id='1'] button.remove")
        page.wait_for_selector("#targets tr[data-id='1']", state="detached")
        assert [t["id"] for t in page.request.get(base + "targets").json()] == [0]   # the cookie carries it
        page.click("#pause")
        state_is(page, "ended")
        elsewhere: list[str] = []   # the API reference loads nothing from elsewhere (Swagger UI's CDN did)
        page.on("request", lambda req: None if req.url.startswith(base) else elsewhere.append(req.url))
        page.goto(base + "docs")
        assert page.locator("h3", has_text="POST /targets").count() == 1 and elsewhere == []

    served = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in served] == list(range(FRAMES))
    init = served[0]["boxes"][0]
    assert served[0]["ids"] == [0] and np.abs(np.subtract(init, FACE)).max() <= 1, init
    both = [r["frame"] for r in served if r.get("ids") == [0, 1]]
    assert len(both) >= 3 and served[-1]["ids"] == [0]

    ref = tmp_path / "run.jsonl"                                     # 1 torch thread, as the server
    r = CliRunner().invoke(app, ["run", str(clip), "--init", ",".join(map(str, init)), "--device", "cpu",
                                 "--threads", "1", "--max-frames", str(FRAMES), "--jsonl", str(ref)])
    assert r.exit_code == 0, r.output
    expected = [json.loads(line) for line in ref.read_text().splitlines()]
    assert len(expected) == FRAMES
    for got, want in zip(served, expected):
        k = got["ids"].index(0)
        if got["frame"] >= both[0]:
            # batched with the second target (and every frame after: the state carries it): float sums in another
            # order (score maps differ by ~6e-8), so boxes agree to a few thousandths of a pixel, not bit for bit
            np.testing.assert_allclose(got["boxes"][k], want["boxes"][0], rtol=0, atol=2e-3)
        else:   # alone from the first frame on: exactly dt run's result
            assert (got["boxes"][k], got["scores"][k], got["lost"][k]) == \
                (want["boxes"][0], want["scores"][0], want["lost"][0]), got["frame"]
    docs = os.environ.get("DT_SERVE_SCREENSHOT")
    if docs:   # refresh the README's picture: DT_SERVE_SCREENSHOT=docs/serve.png pytest tests/test_serve_browser.py
        shutil.copyfile(tmp_path / "serve.png", docs)



def test_a_box_drawn_while_the_next_frame_loads_starts_a_target(server):
    """The page swaps its image for every frame; while the new one loads, Chromium reports naturalWidth 0. A box
    drawn then was dropped without a word (no request, no hint): on a live stream, or on a paused frame right after
    the pause (whose frame arrives with it), the user's drag did nothing. Here the next frame never arrives."""
    url, _ = server
    base = url.split("?")[0]
    with chromium_page() as page:
        page.route("**/never-loads.jpg", lambda route: None)   # held: the image stays in its loading state
        assert page.goto(url).status == 200
        page.wait_for_function("document.getElementById('frame').naturalWidth === 528")
        state_is(page, "waiting")
        page.evaluate("document.getElementById('frame').src = 'never-loads.jpg'")
        assert page.evaluate("[document.getElementById('frame').naturalWidth, "
                             "document.getElementById('frame').complete]") == [0, False]
        with page.expect_response(lambda r: r.url == base + "targets" and r.request.method == "POST") as resp:
            draw(page, FACE)
        assert resp.value.status == 201, resp.value.text()
        assert np.abs(np.subtract(resp.value.json()["box"], FACE)).max() <= 1, resp.value.json()
        page.wait_for_selector("#targets tr[data-id='0']")


class Dashboard(socketserver.TCPServer):
    """A dashboard page on another port of 127.0.0.1 (the same site, another origin) that frames `src`, which is
    set once the framed server is up (it is told the dashboard's origin first)."""

    def __init__(self):
        self.src = ""
        dashboard = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = f'<!doctype html><iframe src="{dashboard.src}" width="800" height="600"></iframe>'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


def test_only_a_dashboard_named_with_allow_frame_ancestors_can_frame_the_page(video):
    """Chromium shows the page in a dashboard's iframe when the dashboard's origin was given to
    --allow-frame-ancestors (with --token too: the dashboard is on the same site, so the page's cookie works), and
    refuses to frame it by default or for another origin."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with chromium() as browser:
        for allowed in (None, "https://other.example", "DASHBOARD"):
            dashboard = Dashboard()
            origin = dashboard.url[:-1] if allowed == "DASHBOARD" else allowed
            extra = ["--allow-frame-ancestors", origin] if origin else []
            # port 0: a port picked here and given to dt serve could be taken meanwhile (another test's server,
            # a client's ephemeral port)
            proc = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(video), "--port", "0",
                                     "--device", "cpu", "--threads", "1", "--token", TOKEN, *extra],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            try:
                seen = []
                for line in proc.stdout:
                    seen.append(line)
                    if line.startswith("serving "):
                        break
                assert seen and seen[-1].startswith("serving "), "".join(seen)
                dashboard.src = seen[-1].split()[1] + "?token=" + TOKEN   # 'serving http://127.0.0.1:PORT/  (...)'
                page = browser.new_page()
                page.set_default_timeout(60_000)
                page.goto(dashboard.url)
                frame = page.frame_locator("iframe")
                if allowed == "DASHBOARD":   # its API calls work: the state the page polls replaces its placeholder
                    state, deadline = frame.locator("#state"), time.monotonic() + 60
                    while not (state.text_content() or "").startswith("waiting") and time.monotonic() < deadline:
                        page.wait_for_timeout(100)
                    assert state.text_content().startswith("waiting"), state.text_content()
                else:   # Chromium puts its error page in the frame instead of the tracker's
                    deadline = time.monotonic() + 60
                    while not page.frames[-1].url.startswith("chrome-error:") and time.monotonic() < deadline:
                        page.wait_for_timeout(100)
                    assert page.frames[-1].url.startswith("chrome-error:"), (allowed, page.frames[-1].url)
                page.close()
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
                dashboard.shutdown()
                dashboard.server_close()
