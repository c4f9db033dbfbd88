"""A disk found full only as the outputs close (a file system that reports it when a file is synced: NFS, delayed
allocation; a video whose index finds no room): the outputs closed before the one that failed no longer rename their
lines onto an earlier run's complete files. Every output is synced before any is moved onto its name; a full disk
there leaves them all NAME.part, as a full disk mid-run does (dt run: always; dt serve: where an earlier result would
be replaced). (The failing output is a stand-in sink last in line, as the video is: such a file system cannot be made
here.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from droptrack.errors import OutputFull
from droptrack.runtime.sinks import BoxFileSink, JsonlSink, Sink


class FullAtClose(Sink):
    """An output whose disk turns out full as it is finished (its first sync or close, whichever comes first)."""

    def __init__(self, where: Path):
        self.where, self.told = where, False

    def _tell(self) -> None:
        if not self.told:
            self.told = True
            raise OutputFull(f"no room left writing '{self.where}' (No space left on device)")

    def sync(self) -> None:
        self._tell()

    def close(self) -> None:
        self._tell()


OLD = {"f.jsonl": '{"frame": 0}\n' * 5, "boxes.txt": "1\t2\t3\t4\n" * 5}


def test_dt_run_keeps_the_earlier_files_when_the_last_output_finds_the_disk_full(tmp_path):
    from droptrack.runtime.loop import track_frames
    from droptrack.runtime.sources import Frame
    import numpy as np

    for name, text in OLD.items():
        (tmp_path / name).write_text(text)

    class Still:   # a tracker that holds its init box
        states: list = []

        def initialize_many(self, image, boxes):
            self.states = [list(map(float, b)) for b in boxes]

    sinks = [JsonlSink(tmp_path / "f.jsonl"), BoxFileSink(tmp_path / "boxes.txt", 1), FullAtClose(tmp_path / "v")]
    frame = Frame(0, 0.0, np.zeros((40, 50, 3), np.uint8))
    with pytest.raises(OutputFull):
        track_frames([frame], Still(), [[5, 6, 7, 8]], sinks)
    assert {name: (tmp_path / name).read_text() for name in OLD} == OLD
    assert (tmp_path / "boxes.txt.part").read_text() == "5\t6\t7\t8\n"
    assert (tmp_path / "f.jsonl.part").read_text().startswith('{"frame": 0')
    from droptrack.runtime.run import unfinished_note
    assert unfinished_note(sinks) == (f"; the new run's unfinished outputs stay in {tmp_path / 'f.jsonl.part'}, "
                                      f"{tmp_path / 'boxes.txt.part'} (the earlier {tmp_path / 'f.jsonl'}, "
                                      f"{tmp_path / 'boxes.txt'} kept as they were)")


def test_dt_serve_keeps_the_earlier_files_when_the_last_output_finds_the_disk_full(video, tiny_ckpt, tmp_path):
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    from serve_helpers import outputs_over

    old = {"f.jsonl": OLD["f.jsonl"], "boxes_0.txt": OLD["boxes.txt"]}
    with outputs_over(old, video, tiny_ckpt, tmp_path) as outputs:
        outputs.sinks.append(FullAtClose(tmp_path / "other.part"))
        errors = outputs.close()
    assert [type(e) for e in errors] == [OutputFull]
    assert {name: (tmp_path / name).read_text() for name in old} == old
    assert (tmp_path / "f.jsonl.part").read_text() == '{"frame": 0, "new": true}\n'
    assert (tmp_path / "boxes_0.txt.part").read_text() == "5\t6\t7\t8\n"
    assert outputs.unfinished_note().endswith(f"(the earlier {tmp_path / 'f.jsonl'}, {tmp_path / 'boxes_0.txt'} "
                                              "kept as they were)")
    assert outputs.box_files() == [f"{tmp_path / 'boxes_0.txt.part'} (unfinished: no room left)"]


class FullAtCloseOnly(Sink):
    """A Python API output with only write and close, whose disk turns out full as it closes: dt serve kept the
    outputs after it unfinished, dt run renamed them onto the earlier files (a mix of two runs)."""

    def write(self, frame, targets, fps=None):
        pass

    def close(self) -> None:
        raise OutputFull("no room left writing 'api-out' (No space left on device)")


class BrokenAtClose(Sink):
    """An output whose close fails for another reason than a full disk."""

    def write(self, frame, targets, fps=None):
        pass

    def close(self) -> None:
        raise ValueError("a broken output")


def test_dt_run_and_dt_serve_close_alike_when_a_close_finds_the_disk_full(tmp_path):
    from droptrack.runtime.loop import track_frames
    from droptrack.runtime.sources import Frame
    import numpy as np

    (tmp_path / "boxes.txt").write_text(OLD["boxes.txt"])

    class Still:   # a tracker that holds its init box
        states: list = []

        def initialize_many(self, image, boxes):
            self.states = [list(map(float, b)) for b in boxes]

    sinks = [BrokenAtClose(), FullAtCloseOnly(), BoxFileSink(tmp_path / "boxes.txt", 1)]
    frame = Frame(0, 0.0, np.zeros((40, 50, 3), np.uint8))
    with pytest.raises(OutputFull, match="api-out"):   # the full disk is what the user is told, not the other error
        track_frames([frame], Still(), [[5, 6, 7, 8]], sinks)
    assert (tmp_path / "boxes.txt").read_text() == OLD["boxes.txt"]
    assert (tmp_path / "boxes.txt.part").read_text() == "5\t6\t7\t8\n"
