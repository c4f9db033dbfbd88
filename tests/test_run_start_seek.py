"""`dt run VIDEO --start N` decoded every frame before N (minutes at N = 100000 of a long clip). It seeks now where
the landing is checked to be exact, and decodes forward where it is not; boxes and rows are those of the frames
decoded one by one from frame 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import cli

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MEGAMIND, TREE = DATA / "Megamind.avi", DATA / "tree.avi"   # MPEG-4 part 2 (keyframes apart); dropped frames


def _decoded(path: Path, upto: int) -> list:
    """Frames 0..upto (BGR) decoded one by one, as OpenCV reads them."""
    cap, out = cv2.VideoCapture(str(path)), []
    while len(out) <= upto:
        ok, img = cap.read()
        assert ok
        out.append(img)
    cap.release()
    return out


def test_start_seeks_instead_of_decoding_the_frames_before(reads):
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    from droptrack.runtime.sources import open_source

    want = _decoded(MEGAMIND, 201)
    reads.clear()
    with open_source(MEGAMIND, start=200) as src:
        frames = iter(src)
        first, second = next(frames), next(frames)
    assert (first.index, second.index) == (200, 201)
    assert (first.image == cv2.cvtColor(want[200], cv2.COLOR_BGR2RGB)).all()
    assert (second.image == cv2.cvtColor(want[201], cv2.COLOR_BGR2RGB)).all()
    assert len(reads) < 10   # frame 0 (its time), the landed frame, the next: not 202


def test_a_seek_past_dropped_frames_is_checked_against_the_packets():
    """tree.avi has dropped (null) frames: its 41st decoded frame is at 17.3 s, not 40 / 15 s."""
    if not TREE.is_file():
        pytest.skip("opencv-doc's tree.avi is not installed")
    from droptrack.runtime import readers
    from droptrack.runtime.sources import open_source

    want = _decoded(TREE, 41)
    with open_source(TREE, start=40) as src:
        first = readers.first_at(iter(src), 40, src.name)
        assert first.index == 40 and abs(first.timestamp - 17.333) < 0.001
        assert (first.image == cv2.cvtColor(want[40], cv2.COLOR_BGR2RGB)).all()


def test_a_seek_that_misses_decodes_forward(monkeypatch):
    """A seek that lands one frame late (as OpenCV's does in some files) is noticed: the frames are decoded."""
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    from droptrack.runtime import readers
    from droptrack.runtime.sources import open_source

    want = _decoded(MEGAMIND, 100)[100]
    real = cv2.VideoCapture

    class Late:
        def __init__(self, *args):
            self._cap = real(*args)

        def set(self, prop, value):
            return self._cap.set(prop, value + 1 if prop == cv2.CAP_PROP_POS_FRAMES and value else value)

        def __getattr__(self, name):
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", Late)
    with open_source(MEGAMIND, start=100) as src:
        assert src.landed is None
        first = readers.first_at(iter(src), 100, src.name)
    assert first.index == 100 and (first.image == cv2.cvtColor(want, cv2.COLOR_BGR2RGB)).all()


def test_run_from_a_seek_equals_the_frames_decoded_from_0(tiny_ckpt, tmp_path):
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    cut = tmp_path / "cut"   # frames 150..153, decoded one by one from frame 0, stored losslessly
    cut.mkdir()
    for k, img in enumerate(_decoded(MEGAMIND, 153)[150:]):
        cv2.imwrite(str(cut / f"{k:05d}.png"), img)
    init, rows = "300,180,90,90", {}
    for name, source, extra in (("seek", MEGAMIND, ["--start", 150]), ("ref", cut, [])):
        out = tmp_path / name
        out.mkdir()
        res = cli("run", source, "-m", tiny_ckpt, "--device", "cpu", "--threads", 1, "--init", init, "--max-frames",
                  4, "-o", out / "b.txt", "--jsonl", out / "b.jsonl", *extra)
        assert res.exit_code == 0, res.output
        rows[name] = ((out / "b.txt").read_text().splitlines(),
                      [json.loads(x) for x in (out / "b.jsonl").read_text().splitlines()])
    assert len(rows["seek"][0]) == 4 and rows["seek"][0] == rows["ref"][0]
    assert [r["frame"] for r in rows["seek"][1]] == [150, 151, 152, 153]
    assert [r["boxes"] for r in rows["seek"][1]] == [r["boxes"] for r in rows["ref"][1]]


def _damaged_avi(path: Path, damaged: tuple[int, ...]) -> Path:
    """A 40-frame MJPG AVI of flat frames (value 6 * index); `damaged` frames lose their JPEG header: the decoder
    refuses them."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(40):
        w.write(np.full((48, 64, 3), 6 * i, np.uint8))
    w.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(starts) == 40
    for k in damaged:
        data[starts[k]:starts[k] + 200] = bytes(200)
    path.write_bytes(bytes(data))
    return path



@pytest.mark.parametrize("damaged, seeks", [((5, 6), True), ((0, 5), True), ((0, 1, 2), True), (tuple(range(34)), False)])
def test_damaged_frames_before_start_do_not_stop_it(tmp_path, reads, damaged, seeks):
    from droptrack.runtime import readers
    from droptrack.runtime.sources import open_source

    video = _damaged_avi(tmp_path / "d.avi", damaged)
    cap, want = cv2.VideoCapture(str(video)), {}
    for i in range(40):   # one read per stored frame, a refused one included
        ok, img = cap.read()
        if ok:
            want[i] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    cap.release()
    assert sorted(set(range(40)) - set(want)) == list(damaged)
    reads.clear()
    with open_source(video, start=34) as src:
        src.keep_missing = True
        frames = iter(src)
        first = readers.first_at(frames, 34, src.name)
        decoded = len(reads)
        rest = list(frames)
    assert (decoded < 10) == seeks, decoded
    assert [first.index] + [f.index for f in rest] == list(range(34, 40))
    assert all((f.image == want[f.index]).all() for f in [first, *rest])


def test_start_past_the_end_is_refused_before_decoding(reads):
    """Megamind.avi's header and packets both say 270 frames: --start 300 is refused without decoding them."""
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    from droptrack.errors import InputError
    from droptrack.runtime import readers
    from droptrack.runtime.sources import open_source

    with pytest.raises(InputError, match=r"has 270 frames; pass --start 269 or less"):
        open_source(MEGAMIND, start=300)
    with pytest.raises(InputError, match=r"has 270 frames; pass --start 269 or less"):
        open_source(MEGAMIND, start=270)
    assert len(reads) == 0
    with open_source(MEGAMIND, start=269) as src:   # the last frame is still a start
        frames = iter(src)
        assert readers.first_at(frames, 269, src.name).index == 269 and next(frames, None) is None


def test_start_past_the_end_of_a_header_that_overcounts_decodes_to_the_end():
    """tree.avi's header says 444 frames (its dropped ones counted); 68 decode: the count comes from decoding."""
    if not TREE.is_file():
        pytest.skip("opencv-doc's tree.avi is not installed")
    from droptrack.errors import InputError
    from droptrack.runtime import readers
    from droptrack.runtime.sources import open_source

    with open_source(TREE, start=100) as src, pytest.raises(InputError, match=r"has 68 frames; pass --start 67 "):
        readers.first_at(iter(src), 100, src.name)


def test_start_past_the_end_is_one_line(tiny_ckpt):
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    from helpers import one_line_error

    line = one_line_error(cli("run", MEGAMIND, "-m", tiny_ckpt, "--device", "cpu", "--init", "300,180,90,90",
                              "--start", 1000))
    assert "--start 1000" in line and "has 270 frames" in line
