"""Drawing the targets (dt run without --init) with `--jsonl -`: OpenCV's selectROIs prints its prompts ('Select a
ROI and then press SPACE or ENTER button!') on stdout from C++, so they came out ahead of the JSON records and a
reader of the stream (jq, a script) failed on its first line. They now go to stderr, where the user still sees them."""

from __future__ import annotations

import os

import cv2
import numpy as np

from droptrack.runtime import window


def test_opencv_prompts_go_to_stderr_and_the_boxes_come_back(capfd, monkeypatch):
    def select_rois(title, image, showCrosshair=True):   # stands in for OpenCV's window: prints as it does
        os.write(1, b"Select a ROI and then press SPACE or ENTER button!\n")
        return np.array([[4, 5, 20, 10]])

    monkeypatch.setattr(cv2, "selectROIs", select_rois)
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    print("before", flush=True)
    boxes = window.select_targets(np.zeros((40, 60, 3), np.uint8))
    os.write(1, b'{"frame": 0}\n')   # the first record, after the selection
    out, err = capfd.readouterr()
    assert boxes == [[4.0, 5.0, 20.0, 10.0]]
    assert out == 'before\n{"frame": 0}\n'
    assert "Select a ROI" in err


def test_a_box_confirmed_twice_is_one_target(monkeypatch):
    # selectROIs appends the current box on every Enter: Enter pressed again after a box gave two identical targets
    # (boxes_0.txt and boxes_1.txt holding the same track)
    rois = np.array([[4, 5, 20, 10], [4, 5, 20, 10], [30, 8, 12, 12], [4, 5, 20, 10]])
    monkeypatch.setattr(cv2, "selectROIs", lambda title, image, showCrosshair=True: rois)
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    assert window.select_targets(np.zeros((40, 60, 3), np.uint8)) == [[4.0, 5.0, 20.0, 10.0], [30.0, 8.0, 12.0, 12.0]]
