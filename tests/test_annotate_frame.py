"""`annotate` (the --save video, the --show window, dt serve's frames): a BGR copy of the RGB frame, boxes drawn in
their colours, the frame itself untouched."""

from __future__ import annotations

import numpy as np

from droptrack.runtime.sinks import TargetState, annotate


def test_annotate_swaps_channels_and_draws_in_bgr():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    before = frame.copy()
    for image in (frame, frame[::2, 1::3], np.asfortranarray(frame)):   # contiguous and strided frames
        out = annotate(image, [])
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(out, np.stack([image[..., 2], image[..., 1], image[..., 0]], axis=2))
    boxes = [TargetState([5, 5, 10, 10], 0.9, False), TargetState([40, 50, 30, 20], 0.8, False),
             TargetState([60, 90, 20, 20], 0.1, True)]
    out = annotate(frame, boxes)
    assert out[5, 10].tolist() == [0, 255, 0]          # target 0: RGB (0, 255, 0)
    assert out[70, 55].tolist() == [0, 128, 255]       # target 1: RGB (255, 128, 0) on its bottom edge (y 50 + 20)
    assert out[110, 60].tolist() == [0, 0, 255]        # lost: RGB (255, 0, 0) on its left edge
    assert out[30, 80].tolist() == frame[30, 80, ::-1].tolist()   # away from every box and label
    assert np.array_equal(frame, before)
