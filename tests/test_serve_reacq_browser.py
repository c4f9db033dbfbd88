"""dt serve's page while a target is lost and searched for again (re-acquisition, --reacq-*), in a real browser
(Chromium through Playwright, as tests/test_serve_browser.py; skips without them). A synthetic clip: a textured
patch that vanishes for GONE frames and comes back where it was. Every state the page's target table shows (LOST or
tracking, and whether it says re-acquiring) must be the one `dt run --jsonl` reports for the frame the page shows
beside it, with the same box on the same frames: while the patch is gone, and after it is found again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from test_serve_browser import (  # noqa: E402 (skips here too without Playwright or Chromium)
    FRAMES, chromium_page, draw, server, state_is)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]   # fixtures: conftest.py
__all__ = ["server"]   # a fixture, used by name

PATCH = (60, 50, 32, 24)   # x, y, w, h of the target in the 176x144 frames (the size draw() maps onto)
GONE = range(10, 28)       # the frames without it (at FPS 5: 3.6 s, many of the page's 0.3 s polls)
# a wide search (x8) after two frames under 0.3, until one scores 0.5: the embedded model scores the patch ~0.8
# and the bare background under 0.3
REACQ = ["--reacq-factor", "8", "--reacq-frames", "2", "--reacq-threshold", "0.3", "--reacq-recover", "0.5"]

# what the page shows: each time it renders /stats, the frame number and target 0's state (its text, red or not)
# and box, as the user reads them
WATCH = """() => {
  window.shown = [];
  const note = () => {
    const row = document.querySelector("#targets tr[data-id='0']");
    if (row) window.shown.push([Number(document.getElementById("frame-index").textContent),
                                row.children[2].innerText.trim(), row.children[2].classList.contains("lost"),
                                row.children[3].innerText.split(",").map(Number)]);
  };
  new MutationObserver(note).observe(document.querySelector("header"), {childList: true, subtree: true});
}"""


@pytest.fixture
def clip(tmp_path) -> Path:
    """FRAMES 176x144 PNGs: a red-heavy textured patch at PATCH (moving a pixel or so) over blurred noise, absent on
    the GONE frames."""
    import cv2

    folder = tmp_path / "clip"
    folder.mkdir()
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (144, 176, 3), dtype=np.uint8), (0, 0), 2)
    x, y, w, h = PATCH
    patch = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    patch[:, :, 2] = 255
    for i in range(FRAMES):
        image = background.copy()
        if i not in GONE:
            image[y:y + h, x + i % 5:x + i % 5 + w] = patch
        assert cv2.imwrite(str(folder / f"{i + 1:08d}.png"), image)
    return folder


@pytest.fixture
def serve_args() -> list[str]:
    return REACQ


def shown_state(record: dict) -> str:
    """The state cell of a target in the page's table, for a --jsonl record of that target alone."""
    return ("LOST" if record["lost"][0] else "tracking") + (" · re-acquiring" if record["reacq"][0] else "")


def test_the_page_shows_re_acquisition_as_dt_run_reports_it(server, clip, tmp_path):
    url, jsonl = server
    with chromium_page() as page:
        assert page.goto(url).status == 200
        page.wait_for_function("document.getElementById('frame').naturalWidth === 528")
        state_is(page, "waiting")
        page.evaluate(WATCH)
        draw(page, PATCH)
        page.wait_for_selector("#targets tr[data-id='0']")
        # the patch is gone: the page says so while the wide search is on (any render of it, however brief)
        page.wait_for_function("window.shown.some(([f, text]) => text.endsWith('re-acquiring'))")
        state_is(page, "ended")
        page.wait_for_function(f"window.shown.some(([f]) => f === {FRAMES - 1})")
        shown = page.evaluate("window.shown")

    served = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in served] == list(range(FRAMES)) and all(r["ids"] == [0] for r in served)
    init = served[0]["boxes"][0]
    assert np.abs(np.subtract(init, PATCH)).max() <= 1, init
    ref = tmp_path / "run.jsonl"   # 1 torch thread, as the server
    r = CliRunner().invoke(app, ["run", str(clip), "--init", ",".join(map(str, init)), "--device", "cpu",
                                 "--threads", "1", "--max-frames", str(FRAMES), "--jsonl", str(ref), *REACQ])
    assert r.exit_code == 0, r.output
    expected = [json.loads(line) for line in ref.read_text().splitlines()]
    # the clip does what it is for: the search goes wide while the patch is gone, and ends once it is back
    wide = [r["frame"] for r in expected if r["reacq"][0]]
    assert wide and wide[0] in GONE and wide[-1] >= GONE[-1] and wide[-1] < FRAMES - 1, wide
    assert any(expected[f]["lost"][0] for f in wide) and not expected[-1]["lost"][0]
    for got, want in zip(served, expected, strict=True):   # alone from the first frame: exactly dt run's result
        assert (got["boxes"], got["scores"], got["lost"], got["reacq"]) == \
            (want["boxes"], want["scores"], want["lost"], want["reacq"]), got["frame"]

    assert shown[-1][:2] == [FRAMES - 1, "tracking"], shown   # found again: no longer said to search
    for frame, text, red, box in shown:   # every state the page showed, as dt run reports it for that frame
        assert (text, red) == (shown_state(expected[frame]), expected[frame]["lost"][0]), (frame, text, shown)
        # the box as the page prints it: the API's 3 decimals (0.0005) to one (0.05)
        assert np.abs(np.subtract(box, expected[frame]["boxes"][0])).max() <= 0.0505 + 1e-9, (frame, box)
    assert any(f in wide and text.endswith("re-acquiring") for f, text, _, _ in shown), shown
