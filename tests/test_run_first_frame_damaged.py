"""A first frame that does not decode (the targets are set on it) was one error that said to replace the file, move
it out of the folder (which renumbers every later frame) or cut it off with ffmpeg; `--start N`, which skips it and
keeps the file's frame numbers, went unnamed. The error names the first frame that decodes as the --start to pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli, one_line_error

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


def _frame(i: int):
    img = np.full((48, 64, 3), 40, np.uint8)
    img[10:30, 10 + i:30 + i] = 220
    return img


def _folder(path: Path, damaged: tuple[int, ...]) -> Path:
    path.mkdir()
    for i in range(6):
        cv2.imwrite(str(path / f"{i:04d}.jpg"), _frame(i))
    for i in damaged:
        (path / f"{i:04d}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return path


def _avi(path: Path, damaged: tuple[int, ...]) -> Path:
    """An MJPG AVI of 6 frames whose `damaged` frames lose their JPEG header (the decoder refuses them)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(6):
        writer.write(_frame(i))
    writer.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    for k in damaged:
        data[starts[k]:starts[k] + 200] = bytes(200)
    path.write_bytes(bytes(data))
    return path


def _run(source: Path, ckpt: Path, *extra):
    return cli("run", source, "-m", ckpt, "--device", "cpu", "--init", "10,10,20,20", *extra)


@pytest.mark.parametrize("make", [_folder, _avi])
@pytest.mark.parametrize("damaged", [(0,), (0, 1)])
def test_the_error_names_the_start_that_works(tiny_ckpt, tmp_path, make, damaged):
    source = make(tmp_path / ("frames" if make is _folder else "clip.avi"), damaged)
    out = tmp_path / "b.txt"
    line = one_line_error(_run(source, tiny_ckpt, "-o", out))
    k = len(damaged)
    assert f"pass --start {k} to set the targets on frame {k}, the first that decodes" in line, line
    assert not out.exists()
    res = _run(source, tiny_ckpt, "-o", out, "--jsonl", tmp_path / "b.jsonl", "--start", k)   # as it says
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == 6 - k
    assert (tmp_path / "b.jsonl").read_text().startswith(f'{{"frame": {k},')


def test_loop_names_no_start(tiny_ckpt, tmp_path):
    """--loop takes no --start: the error does not offer one."""
    line = one_line_error(_run(_folder(tmp_path / "frames", (0,)), tiny_ckpt, "--loop", "--max-frames", 3))
    assert "could not be read" in line and "--start" not in line, line
