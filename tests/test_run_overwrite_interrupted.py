"""`dt run --overwrite` onto an earlier run's complete files, over a video file or image folder, that ends before the
source does (SIGINT, a backend error mid-run, q in the window): the earlier complete files stay under their names byte
for byte, the new run's lines stay in NAME.part (as on a full disk: tests/test_run_overwrite_disk_full.py), the message
names both, and --resume finishes them as an uninterrupted run writes them. A run with no earlier file at NAME renames
its lines onto NAME as before (tests/test_run_resume.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cli, drifting_clip

from droptrack.errors import BackendError
from droptrack.runtime.run import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]
INIT = "30,22,26,20"
NAMES = ("b.txt", "b.jsonl")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """200 frames of a textured square drifting over noise (96x72 PNGs)."""
    return drifting_clip(tmp_path_factory.mktemp("clip"), 200)


def _args(clip: Path, ckpt: Path, out: Path) -> list[str]:
    return ["run", str(clip), "-m", str(ckpt), "--device", "cpu", "--threads", "1", "--init", INIT,
            "-o", str(out / "b.txt"), "--jsonl", str(out / "b.jsonl")]


def _opts(clip: Path, ckpt: Path, out: Path, **kw) -> RunOptions:
    return RunOptions(source=str(clip), artifact=str(ckpt), init=[INIT], output=str(out / "b.txt"),
                      jsonl=str(out / "b.jsonl"), device="cpu", threads=1, **kw)


@pytest.fixture
def earlier(clip, tiny_ckpt, tmp_path) -> dict:
    """A complete run's files in tmp_path: {name: bytes}."""
    res = cli(*_args(clip, tiny_ckpt, tmp_path))
    assert res.exit_code == 0, res.output
    files = {n: (tmp_path / n).read_bytes() for n in NAMES}
    assert all(v.count(b"\n") == 200 for v in files.values())
    return files


def _kept_and_resumed(clip, tiny_ckpt, tmp_path, earlier: dict, frames: int) -> None:
    for n in NAMES:
        assert (tmp_path / n).read_bytes() == earlier[n], f"{n}: the earlier complete file was replaced"
        part = (tmp_path / f"{n}.part").read_bytes()
        assert part.count(b"\n") == frames and earlier[n].startswith(part), n
    res = cli(*_args(clip, tiny_ckpt, tmp_path), "--resume")   # the same run: the same bytes, no .part left
    assert res.exit_code == 0, res.output
    assert {n: (tmp_path / n).read_bytes() for n in NAMES} == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)


def test_sigint_keeps_the_earlier_complete_files(clip, tiny_ckpt, tmp_path, earlier):
    s = run(_opts(clip, tiny_ckpt, tmp_path, overwrite=True),
            on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 30 else None)
    assert s.interrupted and s.frames == 30
    assert f"stay in {tmp_path / 'b.jsonl.part'}, {tmp_path / 'b.txt.part'}" in s.unfinished, s.unfinished
    _kept_and_resumed(clip, tiny_ckpt, tmp_path, earlier, 30)


def test_a_backend_error_mid_run_keeps_the_earlier_complete_files(clip, tiny_ckpt, tmp_path, earlier):
    def fail(s):
        if s.frames == 25:
            raise BackendError("the backend failed on frame 24")

    with pytest.raises(BackendError) as exc:
        run(_opts(clip, tiny_ckpt, tmp_path, overwrite=True), on_frame=fail)
    msg = str(exc.value)
    assert msg.startswith("the backend failed on frame 24; the new run's unfinished outputs stay in "), msg
    assert f"(the earlier {tmp_path / 'b.jsonl'}, {tmp_path / 'b.txt'} kept as they were)" in msg, msg
    _kept_and_resumed(clip, tiny_ckpt, tmp_path, earlier, 25)


def test_without_an_earlier_file_an_interrupted_run_is_renamed_as_before(clip, tiny_ckpt, tmp_path):
    s = run(_opts(clip, tiny_ckpt, tmp_path, overwrite=True),
            on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 30 else None)
    assert s.interrupted and not s.unfinished
    assert all((tmp_path / n).read_bytes().count(b"\n") == 30 for n in NAMES)
    assert not list(tmp_path.glob("*.part"))


def test_the_cli_says_where_the_new_lines_are(clip, tiny_ckpt, tmp_path, earlier):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "droptrack", *_args(clip, tiny_ckpt, tmp_path), "--overwrite"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part, t0 = tmp_path / "b.txt.part", time.time()
    while not (part.exists() and part.read_bytes().count(b"\n") >= 20):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 240
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    frames = part.read_bytes().count(b"\n")
    assert frames < 200, "the run ended before the signal: no interrupted run to check"
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"SIGINT: stopped after {frames} frames; the new run's unfinished outputs stay in "), line
    assert "kept as they were" in line, line
    assert line.endswith("continue with the same command with --resume in place of --overwrite"), line
    assert f"boxes: {part}" in out, out   # where this run's boxes are
    _kept_and_resumed(clip, tiny_ckpt, tmp_path, earlier, frames)


class _Py310Error(RuntimeError):
    """An error as Python 3.10 (JetPack 6's, docs/jetson.md; pyproject allows it) raises it: no add_note."""

    def __getattribute__(self, name):
        if name == "add_note":
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_an_unexpected_error_on_python_310_is_itself_raised(clip, tiny_ckpt, tmp_path, earlier):
    """An error that is no DropTrackError mid-run got a note naming the .part files by add_note, which Python 3.10
    lacks: an AttributeError traceback replaced the error itself there. It is raised as it was, the note a warning."""
    def fail(s):
        if s.frames == 25:
            raise _Py310Error("a bug on frame 24")

    with pytest.warns(UserWarning, match="the new run's unfinished outputs stay in "):
        with pytest.raises(_Py310Error, match="a bug on frame 24"):
            run(_opts(clip, tiny_ckpt, tmp_path, overwrite=True), on_frame=fail)
    _kept_and_resumed(clip, tiny_ckpt, tmp_path, earlier, 25)
