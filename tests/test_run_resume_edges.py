"""`dt run --resume` where a demanding user goes: resumed runs interrupted again (refreshed templates), the device
pre-processing, --max-frames below what was written, an output deleted before resuming, two runs onto the same
files, a journal write a kill cut short, a damaged journal; and the journal's templates are written with the journal
only (at most every 0.5 s), not on every refresh."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.runtime import outlock, resume
from droptrack.runtime.run import RunOptions, run
from helpers import cli, drifting_clip, one_line_error

ROOT = Path(__file__).resolve().parents[1]
INIT = "30,22,26,20"
REFRESH = {"TEMPLATE_REFRESH": 0.0, "TEMPLATE_REFRESH_EVERY": 3, "SCALE_SEARCH": [0.8]}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """120 frames of a textured square drifting over noise (96x72 PNGs)."""
    return drifting_clip(tmp_path_factory.mktemp("clip"), 120)


def options(clip: Path, ckpt: Path, out: Path, **kw) -> RunOptions:
    return RunOptions(source=str(clip), artifact=str(ckpt), init=[INIT], output=str(out / "b.txt"),
                      jsonl=str(out / "b.jsonl"), device="cpu", threads=1, **kw)


def interrupt_at(n: int):
    """on_frame: SIGINT (the run finishes that frame and stops) once the outputs hold n frames."""
    return lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == n else None


def files(out: Path) -> tuple[bytes, bytes]:
    return (out / "b.txt").read_bytes(), (out / "b.jsonl").read_bytes()


@pytest.fixture(scope="module")
def reference(clip, tiny_ckpt, tmp_path_factory):
    """The uninterrupted runs' files: {pre: (boxes, jsonl)} with template refresh and scale search."""
    refs = {}
    for pre in ("host", "device"):
        out = tmp_path_factory.mktemp(f"ref_{pre}")
        assert run(options(clip, tiny_ckpt, out, ext=REFRESH, pre=pre)).frames == 120
        refs[pre] = files(out)
    return refs


@pytest.mark.parametrize("pre", ["host", "device"])
def test_refreshed_templates_survive_a_resumed_run_interrupted_again(clip, tiny_ckpt, reference, tmp_path, pre):
    """A resumed run's journal must go on naming the refreshed templates it restored until it refreshes them
    itself (it named none after one frame without a refresh, and the next resume used the first frame's)."""
    opts = lambda **kw: options(clip, tiny_ckpt, tmp_path, ext=REFRESH, pre=pre, **kw)   # noqa: E731
    assert run(opts(), on_frame=interrupt_at(40)).frames == 40
    for n in (41, 42, 43):   # refresh every 3rd frame: some of these resumed runs refresh nothing
        summary = run(opts(resume=True), on_frame=interrupt_at(n))
        assert summary.interrupted and summary.resumed == n - 1 and summary.frames == n
        journal = json.loads((tmp_path / "b.jsonl.resume.json").read_text())
        assert journal["template_version"] is not None
        assert (tmp_path / f"b.jsonl.resume.{journal['template_version']}.npz").is_file()
    assert run(opts(resume=True)).frames == 120
    assert files(tmp_path) == reference[pre]


def test_refreshed_templates_are_written_with_the_journal_only(clip, tiny_ckpt, tmp_path, monkeypatch):
    """Templates refreshed on every frame are saved when the journal is (every 0.5 s), not on every refresh."""
    from droptrack.runtime.tracker import load_tracker

    saved = []
    real = resume.atomic_savez
    monkeypatch.setattr(resume, "atomic_savez", lambda path, arrays: saved.append(path) or real(path, arrays))
    tracker = load_tracker(str(tiny_ckpt), device="cpu", ext={"TEMPLATE_REFRESH": 0.0, "TEMPLATE_REFRESH_EVERY": 1})
    frames = [cv2.imread(str(p))[:, :, ::-1].copy() for p in sorted(clip.iterdir())[:12]]
    tracker.initialize_many(frames[0], [[30, 22, 26, 20]])
    journal = resume.Journal(tmp_path / "b.jsonl.resume.json", {}, tracker, every_s=3600.0)
    journal.write(1)   # the first write goes to disk at once; the next ones wait for every_s
    for n, frame in enumerate(frames[1:], start=2):
        tracker.track_many(frame)
        journal.write(n)
    assert tracker.template_version == 11 and saved == []
    expected = tracker.templates.copy()
    journal.flush()
    assert saved == [tmp_path / "b.jsonl.resume.11.npz"]
    with np.load(saved[0], allow_pickle=False) as z:
        assert np.array_equal(z["templates"], expected)
    assert json.loads((tmp_path / "b.jsonl.resume.json").read_text())["frames"] == 12


def test_max_frames_below_what_the_outputs_hold_is_refused(clip, tiny_ckpt, reference, tmp_path):
    """--resume --max-frames 20 after 40 written frames: refused, files untouched (it finished with 40 lines and
    no journal); --max-frames 40 finishes them."""
    run(options(clip, tiny_ckpt, tmp_path, ext=REFRESH, pre="host"), on_frame=interrupt_at(40))
    before = files(tmp_path)
    base = ["run", clip, "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "--init", INIT, "-o",
            tmp_path / "b.txt", "--jsonl", tmp_path / "b.jsonl", "--template-refresh", "0",
            "--template-refresh-every", "3", "--scale-search", "0.8", "--pre", "host", "--resume"]
    line = one_line_error(cli(*base, "--max-frames", "20"))
    assert "already hold 40 frames" in line and "--max-frames 40 or more" in line
    assert files(tmp_path) == before and (tmp_path / "b.jsonl.resume.json").is_file()
    assert cli(*base, "--max-frames", "40").exit_code == 0
    boxes, jsonl = reference["host"]
    assert files(tmp_path) == before == (b"".join(boxes.splitlines(True)[:40]), b"".join(jsonl.splitlines(True)[:40]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "b.txt"]


def test_a_deleted_output_leaves_the_others_as_they_were(clip, tiny_ckpt, tmp_path):
    run(options(clip, tiny_ckpt, tmp_path), on_frame=interrupt_at(20))
    jsonl = (tmp_path / "b.jsonl").read_bytes()
    (tmp_path / "b.txt").unlink()
    assert "neither" in one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o",
                                           tmp_path / "b.txt", "--jsonl", tmp_path / "b.jsonl", "--resume"))
    assert (tmp_path / "b.jsonl").read_bytes() == jsonl and not (tmp_path / "b.jsonl.part").exists()


def test_a_second_run_onto_the_same_files_is_refused(clip, tiny_ckpt, tmp_path):
    """Two `dt run --resume` at once appended the same frames twice (1082 lines for 600 frames)."""
    run(options(clip, tiny_ckpt, tmp_path), on_frame=interrupt_at(20))
    before = files(tmp_path)
    with outlock.locked([tmp_path / "b.jsonl"]):   # as a run still writing them holds it
        with pytest.raises(Exception, match="another dt run or dt serve is writing .*b.jsonl; wait for it"):
            run(options(clip, tiny_ckpt, tmp_path, resume=True))
        with pytest.raises(Exception, match="another dt run or dt serve is writing"):
            run(options(clip, tiny_ckpt, tmp_path, overwrite=True))
    assert files(tmp_path) == before
    assert run(options(clip, tiny_ckpt, tmp_path, resume=True)).frames == 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "b.txt"]   # no lock file left


def test_leftovers_of_a_killed_journal_write_go_with_the_journal(clip, tiny_ckpt, tmp_path):
    run(options(clip, tiny_ckpt, tmp_path, ext=REFRESH, pre="host"), on_frame=interrupt_at(20))
    for name in (".b.jsonl.resume.json.k2x9.tmp", ".b.jsonl.resume.9.npz.a1b2.tmp"):   # atomic_write's temp names
        (tmp_path / name).write_bytes(b"half")
    assert run(options(clip, tiny_ckpt, tmp_path, ext=REFRESH, pre="host", resume=True)).frames == 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "b.txt"]


def test_killed_before_its_first_journal_is_not_sent_to_resume(clip, tiny_ckpt, tmp_path):
    """A NAME.part without a journal (killed before the first was written) cannot be resumed: not suggested."""
    (tmp_path / "b.txt.part").write_text("30\t22\t26\t20\n")
    line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--init", INIT, "-o", tmp_path / "b.txt"))
    assert "killed before it finished" in line and "--resume" not in line


def test_a_damaged_journal_is_one_line(clip, tiny_ckpt, tmp_path):
    run(options(clip, tiny_ckpt, tmp_path), on_frame=interrupt_at(20))
    journal = tmp_path / "b.jsonl.resume.json"
    data = json.loads(journal.read_text())
    del data["frames"]
    journal.write_text(json.dumps(data))
    line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o",
                              tmp_path / "b.txt", "--jsonl", tmp_path / "b.jsonl", "--resume"))
    assert "is damaged" in line and "--overwrite" in line


def test_a_run_stopped_by_a_full_disk_says_how_to_resume_and_resumes(clip, tiny_ckpt, reference, tmp_path):
    """A file-size limit (as a full disk) stops the run with its whole lines kept; with room again, --resume
    finishes the files as an uninterrupted run writes them."""
    from disk_limits import dt_limited

    base = ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--threads", "1", "--init", INIT, "-o",
            str(tmp_path / "b.txt"), "--jsonl", str(tmp_path / "b.jsonl"), "--template-refresh", "0",
            "--template-refresh-every", "3", "--scale-search", "0.8", "--pre", "host"]
    p = dt_limited(base, 6000, tmp_path)
    line = p.stderr.strip().splitlines()[-1]
    assert p.returncode == 2 and line.startswith("error: no room left writing"), p.stderr
    assert line.endswith("once there is room, continue with the same command and --resume")
    assert cli(*base, "--resume").exit_code == 0
    assert files(tmp_path) == reference["host"]


@pytest.mark.parametrize("pre", ["host", "device"])
def test_real_video_two_targets_default_model(video, tmp_path, pre):
    """A real video (decoded ahead, skipped frame by frame on resume), two targets, the default model (its scale
    search) with re-acquisition and template refresh, interrupted twice: the files of an uninterrupted run."""
    ext = {"REACQ_FACTOR": 6.0, "REACQ_FRAMES": 1, "REACQ_THRESHOLD": 0.9, "REACQ_RECOVER": 0.95,
           "TEMPLATE_REFRESH": 0.3}

    def opts(out: Path, **kw) -> RunOptions:
        return RunOptions(source=str(video), init=["60,40,40,50", "100,60,30,30"], output=str(out / "b.txt"),
                          jsonl=str(out / "b.jsonl"), device="cpu", threads=1, ext=ext, pre=pre, max_frames=48, **kw)

    ref = tmp_path / "ref"
    assert run(opts(ref)).frames == 48
    out = tmp_path / "out"
    run(opts(out), on_frame=interrupt_at(15))
    run(opts(out, resume=True), on_frame=interrupt_at(16))
    assert run(opts(out, resume=True)).resumed == 16
    for name in ("b_0.txt", "b_1.txt", "b.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert sorted(p.name for p in out.iterdir()) == ["b.jsonl", "b_0.txt", "b_1.txt"]


def test_an_output_edited_since_is_refused(clip, tiny_ckpt, tmp_path):
    """A box file whose lines were changed (same count: a box retyped, CRLF line ends) would not end as the
    uninterrupted run's; refused, nothing touched."""
    run(options(clip, tiny_ckpt, tmp_path), on_frame=interrupt_at(20))
    boxes = tmp_path / "b.txt"
    boxes.write_bytes(boxes.read_bytes().replace(b"\n", b"\r\n", 3))
    before = files(tmp_path)
    line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o", boxes,
                              "--jsonl", tmp_path / "b.jsonl", "--resume"))
    assert f"the first 20 lines of {boxes} are" in line and "edited since?" in line
    assert files(tmp_path) == before


def test_config_file_named_another_way_resumes(clip, tiny_ckpt, tmp_path, monkeypatch):
    """--config as an absolute path, then relative from its folder: the same file (it was refused as another
    --config); a config file whose content changed since is refused, the same content with a new mtime is not."""
    import shutil

    cfg = tmp_path / "cfg" / "tiny.yaml"
    cfg.parent.mkdir()
    shutil.copy(ROOT / "droptrack" / "configs" / "tiny_ce_test.yaml", cfg)
    run(options(clip, tiny_ckpt, tmp_path, config=str(cfg)), on_frame=interrupt_at(20))
    monkeypatch.chdir(cfg.parent)
    base = ["run", clip, "-m", tiny_ckpt, "--device", "cpu", "--threads", "1", "--init", INIT, "-o", tmp_path / "b.txt",
            "--jsonl", tmp_path / "b.jsonl", "--resume", "--config", "tiny.yaml"]
    text = cfg.read_bytes()
    cfg.write_bytes(text + b"# edited\n")
    assert "--config (its content changed) differ" in one_line_error(cli(*base))
    cfg.write_bytes(text)
    os.utime(cfg, ns=(0, 0))   # the same bytes, another mtime (a copy, a restore from backup)
    assert cli(*base).exit_code == 0
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 120


def test_a_file_system_without_locks_still_runs(clip, tiny_ckpt, tmp_path, monkeypatch):
    """flock failing with ENOLCK (an NFS mount without a lock daemon) is no 'another dt run is writing'."""
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert run(options(clip, tiny_ckpt, tmp_path, max_frames=5)).frames == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "b.txt"]


def test_a_run_onto_files_a_running_one_writes_is_not_called_killed(clip, tiny_ckpt, tmp_path):
    """Without --overwrite / --resume, a dt run onto a running dt run's (or dt serve's) NAME.part was refused as 'a
    run that was killed before it finished', which invites deleting the file of a live run."""
    part = tmp_path / "b.jsonl.part"
    part.write_text('{"frame": 0}\n')
    cmd = ("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "--jsonl", tmp_path / "b.jsonl")
    with outlock.locked([tmp_path / "b.jsonl"]):   # as a running writer holds it
        line = one_line_error(cli(*cmd))
        assert "another dt run or dt serve is writing" in line and "killed" not in line
    assert "killed before it finished" in one_line_error(cli(*cmd))   # no writer any more: a killed run's
    assert part.read_text() == '{"frame": 0}\n'
