"""A box set on a frame of one colour (Megamind.avi's first frame is black; clips that fade in) tracked nothing and
nothing said so. dt run now says it in one 'warning:' line that points to --start; a box on real texture, or one
under 64 pixels, gives none."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from droptrack.runtime.checks import flat_target_note
from helpers import cli, drifting_clip


def test_a_box_on_a_black_first_frame_is_warned_about(tiny_ckpt, tmp_path):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    cv2.imwrite(str(clip / "00000.png"), np.zeros((72, 96, 3), np.uint8))   # a fade from black
    res = cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", "30,22,26,20", "-o", tmp_path / "b.txt")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1 and "30,22,26,20 on frame 0 is all one colour (level 0" in lines[0]
    assert "--start N" in lines[0]
    res = cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", "30,22,26,20", "--start", 1)
    assert res.exit_code == 0 and "warning:" not in res.output, res.output


@pytest.mark.parametrize("box, flat", [((10, 10, 20, 20), True), ((10, 10, 7, 9), False),   # 63 px: too small
                                       ((50, 10, 20, 20), False), ((-5, -5, 20, 20), True)])
def test_only_a_box_of_one_colour_is_flat(box, flat):
    image = np.full((60, 80, 3), 200, np.uint8)
    image[:, 45:] = np.arange(35, dtype=np.uint8)[None, :, None] * 7   # texture right of x=45
    image[12, 12] = 204   # JPEG-like noise within 4 levels stays flat
    note = flat_target_note(image, [list(box)], 4)
    assert (note is not None) == flat
    if flat:
        assert "on frame 4" in note and "level 200" in note
