"""`dt bench --data VIDEO --init` on a video whose header counts more frames than decode (a cut-off file, an AVI
whose header lies): the frames that decode are benched, with one warning line saying how many of the header's count
that is, as dt run tracks such a file; bench believed the header, tracked, and failed every row at the file's end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

from droptrack.data import get_sequences  # noqa: E402
from tests.helpers import cli  # noqa: E402

FRAMES = 30


def _avi(path: Path) -> Path:
    """A 30-frame MJPG AVI: a bright square moving over a grey background."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72))
    if not w.isOpened():
        pytest.skip("this OpenCV build writes no MJPG .avi")
    for i in range(FRAMES):
        frame = np.full((72, 96, 3), 70, np.uint8)
        frame[20:44, 20 + i // 2:44 + i // 2] = 230
        w.write(frame)
    w.release()
    return path


def _cut(full: Path, name: str) -> Path:
    """The first half of its bytes, as an interrupted copy leaves it: the header still counts 30 frames."""
    out = full.with_name(name)
    out.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return out


def _decoded(path: Path) -> tuple[int, int]:
    """(header count, frames OpenCV reads one after another)."""
    cap = cv2.VideoCapture(str(path))
    header, n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return header, n


def test_the_reader_gives_the_frames_that_decode_and_says_so_once(tmp_path):
    full = _avi(tmp_path / "full.avi")
    cut = _cut(full, "cut.avi")
    header, n = _decoded(cut)
    if not 0 < n < header:
        pytest.skip("this OpenCV build reads the cut AVI otherwise")
    for video, frames, said in ((full, FRAMES, []), (cut, n, [
            f"{cut} decodes only {n} of the {FRAMES} frames its header announces (truncated or damaged); those {n} "
            "frames are used"])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (seq,) = get_sequences("video", video)
        assert len(seq) == frames and [str(w.message) for w in caught] == said
        assert len(list(seq.iter_frames())) == frames   # every frame it lists is read


def test_bench_scores_the_frames_that_decode_with_one_warning(tmp_path):
    cut = _cut(_avi(tmp_path / "full.avi"), "cut.avi")
    header, n = _decoded(cut)
    if not 0 < n < header:
        pytest.skip("this OpenCV build reads the cut AVI otherwise")
    out = tmp_path / "bench"
    res = cli("bench", "--tracker", "kcf", "--data", cut, "--init", "20,20,24,24", "-o", out)
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert said == [f"warning: {cut} decodes only {n} of the {FRAMES} frames its header announces (truncated or "
                    f"damaged); those {n} frames are used"], res.output
    assert "failed" not in res.output
    report = json.loads((out / "bench.json").read_text())
    assert report["data"]["n_frames"] == n and report["data"]["sequences"] == {"cut": n}
    boxes = (out / "results" / "kcf" / "cut.txt").read_text().splitlines()
    assert len(boxes) == n
