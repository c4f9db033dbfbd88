"""`dt run -o boxes.txt --overwrite` where the earlier run had other targets (boxes_0..2.txt, or boxes.txt alone):
once the new run is complete, the earlier run's files of that name the new run does not write are removed (and the
summary says which), so the folder does not mix two runs; a run cut short leaves them all as they were."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from helpers import cli, drifting_clip, square_avi

from droptrack.runtime.run import RunOptions, run

INITS = ["30,22,26,20", "4,4,20,20", "60,40,20,20"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return drifting_clip(tmp_path_factory.mktemp("clip"), 40)


def _args(clip: Path, ckpt: Path, out: Path, inits: list[str]) -> list[str]:
    return ["run", str(clip), "-m", str(ckpt), "--device", "cpu", "--threads", "1", "-o", str(out / "boxes.txt"),
            *[a for i in inits for a in ("--init", i)]]


@pytest.mark.parametrize("before,after,left,gone", [
    (3, 2, ["boxes_0.txt", "boxes_1.txt"], ["boxes_2.txt"]),
    (2, 1, ["boxes.txt"], ["boxes_0.txt", "boxes_1.txt"]),
    (1, 3, ["boxes_0.txt", "boxes_1.txt", "boxes_2.txt"], ["boxes.txt"])])
def test_overwrite_leaves_one_run_in_the_folder(clip, tiny_ckpt, tmp_path, before, after, left, gone):
    assert cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:before])).exit_code == 0
    (tmp_path / "notes.txt").write_text("mine\n")   # not of the run's names: never touched
    (tmp_path / "boxes_7.txt").write_text("mine\n")   # past a gap: not an earlier run's target
    res = cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:after]), "--overwrite")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        [*left, "notes.txt", "boxes_7.txt"])
    assert all(len((tmp_path / n).read_text().splitlines()) == 40 for n in left)
    assert f"removed the earlier run's {', '.join(str(tmp_path / n) for n in gone)}" in res.output, res.output


def test_without_overwrite_or_cut_short_nothing_is_removed(clip, tiny_ckpt, tmp_path):
    assert cli(*_args(clip, tiny_ckpt, tmp_path, INITS)).exit_code == 0
    earlier = {p.name: p.read_bytes() for p in tmp_path.glob("boxes_*.txt")}
    s = run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=INITS[:2], output=str(tmp_path / "boxes.txt"),
                       device="cpu", threads=1, overwrite=True),
            on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 10 else None)
    assert s.interrupted and not s.removed
    assert {p.name: p.read_bytes() for p in tmp_path.glob("boxes_*.txt")} == earlier   # the new lines: NAME.part
    assert sorted(p.name for p in tmp_path.glob("*.part")) == ["boxes_0.txt.part", "boxes_1.txt.part"]
    res = cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:1]))   # boxes.txt is new: no --overwrite, nothing removed
    assert res.exit_code == 0 and "removed" not in res.output
    assert {p.name: p.read_bytes() for p in tmp_path.glob("boxes_*.txt")} == earlier


def test_a_loop_run_stopped_replaces_the_earlier_run_whole(clip, tiny_ckpt, tmp_path):
    """--loop (as a camera or stream) ends only when stopped, and a stopped run's files are moved onto their names
    (no earlier complete result is kept there: tests/test_run_overwrite_interrupted.py is for runs that end with
    their file): the earlier run's other targets go too, or the folder mixes the two runs."""
    assert cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:2])).exit_code == 0
    s = run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=INITS[:1], output=str(tmp_path / "boxes.txt"),
                       device="cpu", threads=1, overwrite=True, loop=True),
            on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 50 else None)
    assert s.interrupted and not s.kept
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["boxes.txt"]
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 50
    assert s.removed == [tmp_path / "boxes_0.txt", tmp_path / "boxes_1.txt"]


def test_a_stream_that_stops_replaces_the_earlier_run_whole(tiny_ckpt, tmp_path):
    """A live stream that hangs up ends the run with an error, its files moved onto their names ('hold every frame
    tracked until then'): the earlier run's other targets go too, and the error says so."""
    from helpers import mjpeg_camera

    for k in (0, 1):
        (tmp_path / f"boxes_{k}.txt").write_text("1,2,3,4\n")
    with mjpeg_camera() as (url, _):
        r = cli("run", url, "-m", tiny_ckpt, "--device", "cpu", "--init", "20,10,16,16", "--every-frame",
                "--output", tmp_path / "boxes.txt", "--overwrite")
    line = r.output.strip().splitlines()[-1]   # after the progress bar of the frames tracked
    assert r.exit_code == 2 and line.startswith("error: ") and "Traceback" not in r.output, r.output
    assert f"{tmp_path / 'boxes.txt'} holds every frame tracked until then" in line, line
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["boxes.txt"], line
    assert f"--overwrite removed the earlier run's {tmp_path / 'boxes_0.txt'}, {tmp_path / 'boxes_1.txt'}" in line


def test_a_cut_overwrite_run_resumed_removes_them_once_complete(clip, tiny_ckpt, tmp_path):
    """An --overwrite run cut short says 'continue with the same command with --resume in place of --overwrite': the
    resumed run, once complete, removes the earlier run's other targets' files as the uninterrupted one does (its
    journal names them); they stayed beside its boxes.txt."""
    assert cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:2])).exit_code == 0
    s = run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=INITS[:1], output=str(tmp_path / "boxes.txt"),
                       device="cpu", threads=1, overwrite=True),
            on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 10 else None)
    assert s.interrupted and not s.removed and (tmp_path / "boxes_0.txt").is_file()
    res = cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:1]), "--resume")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["boxes.txt"], res.output
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 40
    assert f"removed the earlier run's {tmp_path / 'boxes_0.txt'}, {tmp_path / 'boxes_1.txt'}" in res.output


def test_overwrite_never_removes_the_source_or_a_file_that_is_not_boxes(tiny_ckpt, tmp_path):
    import shutil

    src = square_avi(tmp_path / "in.avi", 12)   # -o names the input with two targets: in_0, in_1 are written and
    video = src.read_bytes()                    # in.avi, "the earlier run's one-target file", was deleted
    res = cli("run", src, "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "-o", src, "--init", "10,10,20,20",
              "--init", "40,30,10,10", "--overwrite")
    assert res.exit_code == 0 and "removed" not in res.output, res.output
    assert src.read_bytes() == video and len((tmp_path / "in_0.avi").read_text().splitlines()) == 12
    for k in (0, 1):                            # a one-target run onto o.avi: o_0, o_1 (the source among them) went
        shutil.copy(src, tmp_path / f"o_{k}.avi")
    res = cli("run", tmp_path / "o_1.avi", "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "-o",
              tmp_path / "o.avi", "--init", "10,10,20,20", "--overwrite")
    assert res.exit_code == 0 and "removed" not in res.output, res.output
    assert all((tmp_path / f"o_{k}.avi").read_bytes() == video for k in (0, 1))


@pytest.mark.parametrize("frames", [("20", "30"), ("20", "20")])
def test_numbered_files_of_separate_runs_are_kept(clip, tiny_ckpt, tmp_path, frames):
    """-o boxes_0.txt and -o boxes_1.txt of two separate runs (a user's own numbering), then -o boxes.txt
    --overwrite: they are not one earlier run's targets (other lengths, or closed a minute apart), so they stay;
    --overwrite removed both and called them the earlier run's."""
    for k, (init, n) in enumerate(zip(INITS, frames)):
        res = cli("run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--threads", "1", "--init", init,
                  "-o", str(tmp_path / f"boxes_{k}.txt"), "--max-frames", n)
        assert res.exit_code == 0, res.output
    t = (tmp_path / "boxes_0.txt").stat().st_mtime
    os.utime(tmp_path / "boxes_1.txt", (t + 60, t + 60))   # the second run a minute later
    mine = {p.name: p.read_bytes() for p in tmp_path.glob("boxes_*.txt")}
    assert cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:1])).exit_code == 0
    res = cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:1]), "--overwrite")
    assert res.exit_code == 0 and "removed" not in res.output, res.output
    assert {p.name: p.read_bytes() for p in tmp_path.glob("boxes_*.txt")} == mine


def test_a_file_of_data_at_an_outputs_lock_name_is_refused_and_kept(clip, tiny_ckpt, tmp_path):
    """A run's lock file is .NAME.lock beside NAME, empty and removed at the end: a file of that name holding data
    (somebody's) was opened, locked and deleted at the end of the run without a word."""
    (tmp_path / ".boxes.txt.lock").write_text("my precious notes\n")
    res = cli(*_args(clip, tiny_ckpt, tmp_path, INITS[:1]))
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and lines[-1].startswith("error: ") and "Traceback" not in res.output, res.output
    assert "holds 18 bytes where dt keeps an empty lock file" in lines[-1] and "move that file away" in lines[-1]
    assert (tmp_path / ".boxes.txt.lock").read_text() == "my precious notes\n"
