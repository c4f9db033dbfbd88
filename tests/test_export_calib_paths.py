"""dt export --calib given a path: a folder or a video is read as folder:PATH / video:PATH, a video without ground
truth and a missing path are refused before any export with one line naming the fix."""

from __future__ import annotations

import pytest

from droptrack.errors import ExportError
from droptrack.export.calibration import calib_spec, check_calib_source

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


def _video(path, frames: int = 6) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    if not w.isOpened():
        pytest.skip("no video writer in this OpenCV")
    for i in range(frames):
        f = np.full((48, 64, 3), 90, np.uint8)
        cv2.rectangle(f, (10 + i, 10), (30 + i, 30), (0, 0, 255), -1)
        w.write(f)
    w.release()


def test_existing_paths_become_dataset_specs(tmp_path):
    _video(tmp_path / "clip.avi")
    assert calib_spec(str(tmp_path / "clip.avi")) == f"video:{tmp_path / 'clip.avi'}"
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "1.jpg"), np.full((48, 64, 3), 90, np.uint8))
    assert calib_spec(str(frames)) == f"folder:{frames}"
    assert calib_spec(str(tmp_path)) == f"folder:{tmp_path}"   # a sub-folder of frames: image sequences win
    assert calib_spec("got10k:/data/got10k") == "got10k:/data/got10k"
    assert calib_spec(None) == "synth" and calib_spec("photos") == "photos"


def test_missing_path_is_named(tmp_path):
    with pytest.raises(ExportError, match="no such file or folder"):
        check_calib_source(str(tmp_path / "nothere"))


def test_video_without_ground_truth_refused_before_export(tmp_path):
    _video(tmp_path / "clip.avi")
    with pytest.raises(ExportError, match="ground-truth boxes"):
        check_calib_source(str(tmp_path / "clip.avi"))


def test_video_with_ground_truth_accepted(tmp_path):
    _video(tmp_path / "clip.avi")
    (tmp_path / "clip.txt").write_text("".join(f"{10 + i},10,20,20\n" for i in range(6)))
    check_calib_source(str(tmp_path / "clip.avi"))


def test_folder_of_videos_is_read_as_videos(tmp_path):
    """--calib DIR of clips (no images) said 'no images under DIR'; their frames and clip.txt boxes are used."""
    from droptrack.config import load_config, meta_from_config
    from droptrack.export.calibration import calibration_pairs

    for name in ("a", "b"):
        _video(tmp_path / f"{name}.avi")
    assert calib_spec(str(tmp_path)) == f"video:{tmp_path}"
    with pytest.raises(ExportError, match=r"ground-truth boxes .*clip\.txt beside clip\.mp4"):
        check_calib_source(str(tmp_path))
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text("".join(f"{10 + i},10,20,20\n" for i in range(6)))
    check_calib_source(str(tmp_path))
    pairs, used = calibration_pairs(meta_from_config(load_config("tiny_ce_test"), arch="droptrack"), str(tmp_path), 8)
    assert len(pairs) == 8 and {p.name.split(":")[0] for p in pairs} == {"a", "b"}
