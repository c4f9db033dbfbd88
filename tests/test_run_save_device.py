"""`dt run --save /dev/null` said "unsupported container ''": a device, or a name without an extension, now gets a
line that says why and what to pass."""

from __future__ import annotations

import os

import pytest

from helpers import cli, one_line_error

pytest.importorskip("cv2")


def _save(tmp_path, tiny_ckpt, target) -> str:
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    import cv2
    import numpy as np

    cv2.imwrite(str(frames / "0.png"), np.full((48, 64, 3), 90, np.uint8))
    return one_line_error(cli("run", frames, "-m", tiny_ckpt, "--device", "cpu", "--init", "10,10,20,20", "--save",
                              target))


def test_save_to_dev_null_says_drop_save(tmp_path, tiny_ckpt):
    if not os.path.exists(os.devnull):
        pytest.skip("no /dev/null")
    line = _save(tmp_path, tiny_ckpt, os.devnull)
    assert "''" not in line and "device" in line and "drop --save" in line and "out.mp4" in line


def test_save_without_extension_names_one(tmp_path, tiny_ckpt):
    line = _save(tmp_path, tiny_ckpt, tmp_path / "clip")
    assert "''" not in line and f"'{tmp_path / 'clip'}.mp4'" in line
    assert not (tmp_path / "clip").exists()


def test_save_ending_in_a_dot_offers_names_with_one_dot(tmp_path, tiny_ckpt):
    line = _save(tmp_path, tiny_ckpt, f"{tmp_path / 'clip'}.")
    assert f"pass '{tmp_path / 'clip'}.mp4' or '{tmp_path / 'clip'}.avi'" in line
