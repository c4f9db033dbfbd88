"""dt export --auto-precision --val SET: a set too small for the limit names the fix that applies to a --val set
(not --val-sequences, which only sizes the synthetic set), and --val-sequences given with --val is refused."""

from __future__ import annotations

import pytest

from droptrack.errors import ExportError
from droptrack.export.auto_precision import Int8Options, check_val_size


def test_small_val_set_names_its_own_fix():
    with pytest.raises(ExportError) as exc:
        check_val_size(1, 0.5, "clips/")
    msg = str(exc.value)
    assert "got 1 in --val clips/" in msg and "give --val a set of 2+ sequences" in msg
    assert "--val-sequences" not in msg


def test_small_synthetic_set_names_val_sequences():
    with pytest.raises(ExportError, match="got 1: pass --val-sequences 34"):
        check_val_size(1, 0.03)


def test_val_sequences_with_val_refused():
    opts = Int8Options(auto_precision=True, val="clips/", val_sequences=50)
    with pytest.raises(ExportError, match="--val-sequences sizes the synthetic validation set"):
        opts.check()


def test_val_clips_without_boxes_name_a_fix_dt_export_has(tmp_path, monkeypatch):
    """`dt export --auto-precision --val video` (DT_DATA_VIDEO: a folder of clips) of videos without box files said
    'pass --init x,y,w,h', an option dt bench has and dt export does not: the fix is the clips' own box files."""
    import cv2
    import numpy as np

    from helpers import cli, one_line_error

    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a", "b"):
        w = cv2.VideoWriter(str(clips / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
        for i in range(4):
            w.write(np.full((48, 64, 3), 40 * i, np.uint8))
        w.release()
    monkeypatch.setenv("DT_DATA_VIDEO", str(clips))
    line = one_line_error(cli("export", "--int8", "--auto-precision", "--val", "video", "--max-divergence", "0.5",
                              "-o", tmp_path / "out"))
    assert "no ground truth" in line and "clip.txt beside clip.mp4" in line and "--init" not in line, line
    assert not (tmp_path / "out").exists()
