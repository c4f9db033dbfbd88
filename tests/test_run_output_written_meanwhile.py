"""Two programs writing one file: `dt run` renamed its NAME.part over a NAME that another program (a running dt eval
writing that sequence's result) wrote while it ran, without a word, and a dt run output inside dt eval's results
folder was replaced by dt eval or replaced its result, which dt eval's report then scored. A NAME written meanwhile
is kept, this run's lines stay in NAME.part with a warning; an output inside a results folder is refused."""

from __future__ import annotations

import json

import pytest

from droptrack.errors import InputError
from droptrack.runtime.run import RunOptions, run
from helpers import cli, drifting_clip


@pytest.fixture()
def clip(tmp_path):
    (tmp_path / "clip").mkdir()
    return drifting_clip(tmp_path / "clip", 6)


def test_a_file_written_meanwhile_is_kept_and_the_runs_lines_stay_in_part(tmp_path, tiny_ckpt, clip):
    out = tmp_path / "b.txt"

    def other_program(summary):   # writes NAME while the run writes NAME.part
        if summary.frames == 3:
            out.write_text("1\t2\t3\t4\n")

    opts = RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=["30,22,26,20"], output=str(out), device="cpu",
                      threads=1)
    summary = run(opts, on_frame=other_program)
    assert out.read_text() == "1\t2\t3\t4\n"   # the other program's file, as it left it
    assert len(tmp_path.joinpath("b.txt.part").read_text().splitlines()) == 6   # this run's, whole
    assert summary.clashed == [out] and "unfinished" not in summary.unfinished


def test_an_output_inside_a_results_folder_is_refused(tmp_path, tiny_ckpt, clip):
    folder = tmp_path / "ev" / "default"
    folder.mkdir(parents=True)
    (folder / "eval.json").write_text(json.dumps({"artifact": "x"}))
    r = cli("run", clip, "-m", tiny_ckpt, "--init", "30,22,26,20", "--device", "cpu", "-o",
            folder / "synth_val_00001.txt")
    assert r.exit_code == 2 and "is inside dt eval's results folder (eval.json there)" in r.output, r.output
    with pytest.raises(InputError, match="inside dt bench's results folder"):
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "bench.json").write_text("{}")
        run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=["30,22,26,20"],
                       jsonl=str(tmp_path / "b" / "r.jsonl"), device="cpu", threads=1))
