"""`dt run --save` interrupted: every line that says how to go on names a command that works when pasted (the
same command plus --resume is refused while it has --save, as a video cannot be continued); a killed one's unfinished
video (`NAME.part.EXT`) and its lock go when the resume (or an --overwrite run) without --save completes, said in
one note line, and no other file does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cli, drifting_clip, one_line_error

ROOT = Path(__file__).resolve().parents[1]
INIT = "30,22,26,20"
REMOVED = "removed the killed run's unfinished video"


def started_with_save(ckpt: Path, tmp_path: Path) -> tuple[subprocess.Popen, list[str], list[str]]:
    """`dt run --save v.avi` over a 400-frame clip, once it wrote 5 frames: (the process, its arguments but --save,
    --save's)."""
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 400)
    base = ["run", str(clip), "-m", str(ckpt), "--device", "cpu", "--threads", "1", "--init", INIT,
            "-o", str(tmp_path / "b.txt")]
    save = ["--save", str(tmp_path / "v.avi")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "droptrack", *base, *save], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    part, t0 = tmp_path / "b.txt.part", time.time()
    while not (part.exists() and part.read_bytes().count(b"\n") >= 5):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 120
        time.sleep(0.005)
    return proc, base, save


def killed_with_save(ckpt: Path, tmp_path: Path) -> list[str]:
    """A `dt run --save v.avi` killed (SIGKILL) after 5 frames, its video left as v.part.avi with its lock: the
    arguments of the run but --save."""
    proc, base, _ = started_with_save(ckpt, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert (tmp_path / "v.part.avi").is_file() and (tmp_path / ".v.avi.lock").exists()
    assert (tmp_path / "b.txt.resume.json").is_file()
    return base


def test_sigint_with_save_advises_a_resume_that_runs(tiny_ckpt, tmp_path):
    proc, base, save = started_with_save(tiny_ckpt, tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "--resume" in last and "without --save" in last, last
    # the same command plus --resume, as the line would be read without the qualifier: refused in one line
    assert "--save" in one_line_error(cli(*base, *save, "--resume"))
    # the same command again: refused, and this advice names the working command too
    assert "without --save" in one_line_error(cli(*base, *save))
    res = cli(*base, "--resume")   # what the line advises
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 400
    assert REMOVED not in res.output and (tmp_path / "v.avi").is_file()   # the interrupted run's video, finished


@pytest.mark.parametrize("how, why", [("--resume", "--resume does not continue a video"),
                                      ("--overwrite", "--overwrite started over"),
                                      ("--overwrite --save w.avi", "--overwrite started over")])
def test_kill_9_with_save_then_a_run_without_it_removes_the_unfinished_video(tiny_ckpt, tmp_path, how, why):
    """The resume without --save, or a run that starts over (--overwrite, without --save or saving another video),
    removes the killed run's unfinished video and its lock once it completes (they stayed for good, without a word),
    and says why."""
    base = killed_with_save(tiny_ckpt, tmp_path)
    how, *save = how.replace("w.avi", str(tmp_path / "w.avi")).split()
    mine = {name: f"the user's {name}".encode() for name in   # named like the leftovers: never removed
            ("v.part.avi.bak", "v.part.mkv", "v.avi.part", "my.v.part.avi", ".v.avi.lock.bak", "v.mp4")}
    for name, data in mine.items():
        (tmp_path / name).write_bytes(data)
    res = cli(*base, how, *save)
    assert res.exit_code == 0, res.output
    notes = [ln for ln in res.output.splitlines() if REMOVED in ln]
    assert notes == [f"note: {REMOVED} {tmp_path / 'v.part.avi'} and its lock {tmp_path / '.v.avi.lock'} ({why})"], \
        res.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 400
    made = ["w.avi"] if save else []   # the new run's own video, finished
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["b.txt", "clip", *mine, *made])   # nothing else left
    assert all((tmp_path / name).read_bytes() == data for name, data in mine.items())


@pytest.mark.parametrize("case", ["moved", "recreated", "writer"])
def test_resume_keeps_a_video_that_is_not_the_killed_runs_leftover(tiny_ckpt, tmp_path, case):
    """A file put at v.part.avi since the kill (the leftover moved away, or deleted: its inode number may be reused)
    is the user's; one whose lock a running writer holds is that writer's: either is kept, and the note says so."""
    from droptrack import filelock

    base = killed_with_save(tiny_ckpt, tmp_path)
    part, lock = tmp_path / "v.part.avi", tmp_path / ".v.avi.lock"
    if case == "moved":
        part.rename(tmp_path / "kept.avi")
    elif case == "recreated":
        part.unlink()
    if case != "writer":
        part.write_bytes(b"the user's video")
    held = filelock.take(lock, "")[0] if case == "writer" else None
    try:
        res = cli(*base, "--resume")
    finally:
        if held is not None:
            filelock.release(lock, held)
    assert res.exit_code == 0, res.output
    assert REMOVED not in res.output and part.is_file()
    said = ("it is not the video the killed run was writing there" if case != "writer"
            else f"a running dt run or dt serve is writing {tmp_path / 'v.avi'}")
    assert [ln for ln in res.output.splitlines() if str(part) in ln and said in ln], res.output
    assert case == "writer" or part.read_bytes() == b"the user's video"
    assert case != "moved" or (tmp_path / "kept.avi").is_file()
    assert not lock.exists()   # a kill's lock goes (the writer's went with its release)


def test_a_journal_without_the_video_entry_still_resumes(tiny_ckpt, tmp_path):
    """A journal an earlier droptrack wrote names no video: the resume completes and removes nothing it cannot prove
    is the killed run's."""
    base = killed_with_save(tiny_ckpt, tmp_path)
    journal = tmp_path / "b.txt.resume.json"
    data = json.loads(journal.read_text())
    assert data.pop("video")["save"] == str(tmp_path / "v.avi")   # this droptrack records it
    journal.write_text(json.dumps(data))
    res = cli(*base, "--resume")
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 400
    assert "v.part.avi" not in res.output and (tmp_path / "v.part.avi").is_file()



def test_overwrite_saving_the_same_video_again_takes_its_part_over(tiny_ckpt, tmp_path):
    """--overwrite with the killed run's own --save: the new writer replaces v.part.avi, and no note calls the new
    video someone else's or removes it."""
    base = killed_with_save(tiny_ckpt, tmp_path)
    res = cli(*base, "--overwrite", "--save", str(tmp_path / "v.avi"))
    assert res.exit_code == 0, res.output
    assert "v.part.avi" not in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt", "clip", "v.avi"]


def test_a_killed_runs_video_that_holds_every_frame_is_kept_on_its_name(tiny_ckpt, tmp_path):
    """A run killed during its closing renames had closed its video: v.part.avi held every frame, playable, and the
    --resume that finished the box files removed it as 'unfinished'. A video holding all the finished run's frames
    (its journal's inode, so the killed run's own file) is moved onto v.avi now; a shorter one still goes."""
    import cv2
    import numpy as np

    base = killed_with_save(tiny_ckpt, tmp_path)
    whole = tmp_path / "whole.avi"
    w = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for i in range(400):   # the finished run's 400 frames
        w.write(np.full((48, 64, 3), i % 256, np.uint8))
    w.release()
    with open(tmp_path / "v.part.avi", "r+b") as f:   # in place: the inode the journal recorded
        f.truncate(0)
        f.write(whole.read_bytes())
    whole.unlink()
    res = cli(*base, "--resume")
    assert res.exit_code == 0, res.output
    assert (f"the killed run's video {tmp_path / 'v.part.avi'} holds all 400 frames (it was killed as it finished): "
            f"moved onto {tmp_path / 'v.avi'}") in res.output
    cap = cv2.VideoCapture(str(tmp_path / "v.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 400
    cap.release()
    assert not (tmp_path / "v.part.avi").exists() and not (tmp_path / ".v.avi.lock").exists()
