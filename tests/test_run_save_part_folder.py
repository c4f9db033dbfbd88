"""`dt run --save a.mp4` with a folder named a.part.mp4 (where the video is written until the run ends): refused
before any work, the folder left as it was. The writer could not open it, yet the run's closing rename moved the
user's folder onto a.mp4, and the error blamed the folder's permissions."""

from __future__ import annotations

from pathlib import Path

from helpers import cli, one_line_error


def test_a_folder_at_the_videos_part_name_is_refused_and_kept(video: Path, tiny_ckpt: Path, tmp_path: Path):
    folder = tmp_path / "a.part.mp4"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious\n")
    line = one_line_error(cli("run", video, "--checkpoint", tiny_ckpt, "--init", "20,20,30,30", "--threads", "1",
                              "--save", tmp_path / "a.mp4", "-o", tmp_path / "c.txt"))
    assert f"'{folder}'" in line and "is a folder" in line, line
    assert (folder / "notes.txt").read_text() == "precious\n"
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "c.txt").exists()


def test_a_writer_that_never_opened_moves_nothing_into_place(tmp_path: Path):
    # the sink itself: a failed open leaves no writer, so closing it renames nothing onto the final name
    import numpy as np
    import pytest

    from droptrack.errors import InputError
    from droptrack.runtime.source_base import Frame
    from droptrack.runtime.videosink import VideoSink

    folder = tmp_path / "v.part.mp4"
    folder.mkdir()
    sink = VideoSink(tmp_path / "v.mp4", fps=25.0)
    with pytest.raises(InputError):
        sink.write(Frame(image=np.zeros((48, 64, 3), np.uint8), index=0, timestamp=0.0), [])
    sink.close()
    assert folder.is_dir() and not (tmp_path / "v.mp4").exists()
