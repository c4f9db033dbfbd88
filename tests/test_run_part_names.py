"""An output named as another output's unfinished file (`boxes_3.txt.part` of a dt serve target or a dt run's
`boxes.txt`, `clip.part.mp4` of `--save clip.mp4`) is refused while that output's writer runs: `dt run -o
boxes_3.txt.part --overwrite` replaced the live file, and its writer's boxes were lost."""

from __future__ import annotations

import re

import pytest

from droptrack.errors import InputError
from droptrack.runtime import outlock
from helpers import cli, drifting_clip, one_line_error

INIT = "30,22,26,20"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return drifting_clip(tmp_path_factory.mktemp("clip"), 4)


def test_streamed_as_names_the_outputs_a_file_is_the_unfinished_copy_of(tmp_path):
    assert outlock.streamed_as(tmp_path / "boxes_3.txt.part") == [tmp_path / "boxes_3.txt"]
    assert outlock.streamed_as(tmp_path / "clip.part.mp4") == [tmp_path / "clip.mp4"]
    assert outlock.streamed_as(tmp_path / "boxes.txt") == outlock.streamed_as(tmp_path / ".part") == []


@pytest.mark.parametrize("writer", ["serve", "run"])
@pytest.mark.parametrize("option", ["-o", "--jsonl"])
def test_a_running_writers_part_file_is_refused_and_kept(clip, tiny_ckpt, tmp_path, writer, option):
    part = tmp_path / "boxes_3.txt.part"
    part.write_text("1\t2\t3\t4\n")   # the live file, three frames in
    hold = (outlock.locked([], serving=[tmp_path / "boxes.txt"]) if writer == "serve"
            else outlock.locked([tmp_path / "boxes_3.txt"]))
    with hold:
        for extra in ([], ["--overwrite"]):
            line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, option, part,
                                      *extra))
            assert f"'{part}' is the unfinished file of a running dt run or dt serve" in line
    assert part.read_text() == "1\t2\t3\t4\n" and not (tmp_path / "boxes_3.txt.part.part").exists()


@pytest.mark.parametrize("name,owner", [("b.txt.part", "b.txt"), ("v.part.mp4", "v.mp4")])
def test_locks_of_a_file_and_of_its_unfinished_copy_exclude_each_other(tmp_path, name, owner):
    with outlock.locked([tmp_path / owner]):
        busy = f"^another dt run or dt serve is writing {re.escape(str(tmp_path / owner))},"
        with pytest.raises(InputError, match=busy):
            with outlock.locked([tmp_path / name]):
                pass
    with outlock.locked([tmp_path / name]):
        with pytest.raises(InputError, match="^another dt run or dt serve is writing"):
            with outlock.locked([tmp_path / owner]):
                pass
    assert not list(tmp_path.iterdir())
