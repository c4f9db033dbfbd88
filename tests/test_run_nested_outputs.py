"""`dt run -o f/x.txt --jsonl f` (and dt serve): the box file's folder was the --jsonl file's path. The run made the
folder, then could not rename f.part onto it: its JSON lines stayed in f.part while the closing line named f (dt
serve), or dt run warned that another program wrote f. Refused in one line before any work now."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


@pytest.mark.parametrize("first, second", [(["-o", "{d}/f/x.txt"], ["--jsonl", "{d}/f"]),
                                           (["--jsonl", "{d}/f"], ["-o", "{d}/f/deeper/x.txt"]),
                                           (["--save", "{d}/v.mp4"], ["-o", "{d}/v.mp4/x.txt"])])
def test_an_output_inside_another_outputs_path_is_refused(video, tmp_path, first, second):
    argv = [a.format(d=tmp_path) for a in first + second]
    line = one_line_error(cli("run", video, "--init", "40,30,40,50", "--max-frames", "2", *argv))
    assert " lies inside " in line and line.endswith("which is written as a file; give each output its own path")
    assert list(tmp_path.iterdir()) == []


def test_outputs_side_by_side_are_taken(video, tmp_path):
    res = cli("run", video, "--init", "40,30,40,50", "--max-frames", "2", "-o", tmp_path / "f" / "x.txt", "--jsonl",
              tmp_path / "f" / "x.jsonl")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("option, name", [("--save", "v.part.mp4"), ("-o", "b.part"), ("--jsonl", "r.part.jsonl")])
def test_an_output_named_as_an_unfinished_one_is_refused(video, tmp_path, option, name):
    """`--save v.part.mp4` was written; the next run took the finished video for a killed run's leftover (refused
    it), and with --overwrite removed it. Names ending in .part / .part.EXT are refused up front."""
    line = one_line_error(cli("run", video, "--init", "40,30,40,50", "--max-frames", "2", option, tmp_path / name))
    assert line == (f"error: {'--output' if option == '-o' else option} '{tmp_path / name}' ends in .part, the name "
                    "of an unfinished output: a later run would take it for a killed run's leftover; pass another name")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option, part, target", [("-o", "b.txt.part", "notes.txt"),
                                                  ("--save", "s.part.mp4", "holiday.mp4"),
                                                  ("-o", "b.txt.part", "b.txt.part")])   # a loop
def test_a_link_at_an_outputs_part_name_is_refused(video, tmp_path, option, part, target):
    """A link at NAME.part was written through: with --overwrite (or when it named an empty file) the run wrote its
    boxes or video into the file the link named, and the closing rename left NAME a link to it. A loop was a
    traceback. Each is refused in one line; the linked file is untouched."""
    import os

    if target != part:
        (tmp_path / target).write_text("keep me\n")
    os.symlink(target, tmp_path / part)
    out = tmp_path / part.replace(".part", "")
    for extra in ([], ["--overwrite"]):
        line = one_line_error(cli("run", video, "--init", "40,30,40,50", "--max-frames", "2", option, out, *extra))
        link = f"is written as '{tmp_path / part}' until the run ends, and that is a symbolic link to '{target}'"
        assert link in line, line
    assert target == part or (tmp_path / target).read_text() == "keep me\n"
    assert not os.path.lexists(out)


def test_several_targets_beside_a_link_loop_at_the_plain_name(video, tmp_path):
    """-o l.txt with two targets writes l_0.txt and l_1.txt; a link loop named l.txt made the journal's identity a
    RuntimeError traceback ('Symlink loop')."""
    import os

    os.symlink("l.txt", tmp_path / "l.txt")
    res = cli("run", video, "--init", "40,30,40,50", "--init", "10,10,20,20", "--max-frames", "2", "-o",
              tmp_path / "l.txt")
    assert res.exit_code == 0, res.output
    assert [len((tmp_path / f"l_{k}.txt").read_text().splitlines()) for k in (0, 1)] == [2, 2]
