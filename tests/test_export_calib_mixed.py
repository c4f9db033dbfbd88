"""dt export --calib DIR where DIR holds image folders and videos: the image folders were calibrated on and the
videos silently left out. One note line says so and how to use the videos."""

from __future__ import annotations

import pytest

from helpers import cli

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")


def _mixed(root):
    """root/seq/ (6 frames, groundtruth.txt) and root/clip.avi (with clip.txt)."""
    seq = root / "seq"
    seq.mkdir(parents=True)
    w = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    if not w.isOpened():
        pytest.skip("no video writer in this OpenCV")
    for i in range(6):
        f = np.full((48, 64, 3), 90, np.uint8)
        cv2.rectangle(f, (10 + i, 10), (30 + i, 30), (0, 0, 255), -1)
        cv2.imwrite(str(seq / f"{i:04d}.png"), f)
        w.write(f)
    w.release()
    boxes = "".join(f"{10 + i},10,21,21\n" for i in range(6))
    (seq / "groundtruth.txt").write_text(boxes)
    (root / "clip.txt").write_text(boxes)
    return root


def test_a_folder_of_images_and_videos_names_the_videos_left_out(tiny_ckpt, tmp_path):
    data = _mixed(tmp_path / "calib")
    r = cli("export", tiny_ckpt, "--int8", "--calib", data, "--calib-pairs", 8, "-o",
            tmp_path / "out")
    assert r.exit_code == 0, r.output
    said = [ln for ln in r.output.splitlines() if "videos were not read" in ln]
    assert len(said) == 1, r.output
    assert said[0].startswith("note: ") and "1 video" in said[0] and f"--calib video:{data}" in said[0]


def test_no_note_for_images_only_or_videos_only(tmp_path):
    from droptrack.export.calibration import mixed_folder_note

    data = _mixed(tmp_path / "calib")
    assert mixed_folder_note(str(data)) is not None
    assert mixed_folder_note(str(data / "seq")) is None   # images only
    assert mixed_folder_note(f"video:{data}") is None and mixed_folder_note(None) is None   # the videos, by name
    (data / "seq" / "groundtruth.txt").unlink()
    for p in (data / "seq").iterdir():
        p.unlink()
    (data / "seq").rmdir()
    assert mixed_folder_note(str(data)) is None   # videos only: read as video:DIR
