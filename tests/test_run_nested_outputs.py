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
