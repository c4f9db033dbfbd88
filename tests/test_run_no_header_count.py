"""A source whose header gives no frame count (a still image read as a one-frame video) that ends before
--max-frames: --max-frames is no count the file announced, so no 'truncated or damaged file?' note."""

from __future__ import annotations

from helpers import cli, drifting_clip


def test_max_frames_is_not_called_the_headers_count(tiny_ckpt, tmp_path):
    (tmp_path / "clip").mkdir()
    still = drifting_clip(tmp_path / "clip", 1) / "00000.png"
    res = cli("run", still, "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "--init", "30,22,26,20",
              "--max-frames", "5", "-o", tmp_path / "b.txt")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "b.txt").read_text().count("\n") == 1
    assert "header" not in res.output and "truncated" not in res.output, res.output
