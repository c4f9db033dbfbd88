"""Every box file a dt serve may write is locked while it serves: its targets' NAME_<id>.txt come and go with ids
that grow as boxes are drawn, so besides NAME.txt / NAME_0.txt it holds the lock of the whole NAME_<id>.txt family,
and a dt run writing any file of that family holds that lock shared (two real processes each way)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from droptrack.errors import InputError
from droptrack.runtime import outlock

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")

from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402
from helpers import cli  # noqa: E402
from serve_helpers import FACE, SECOND, one_line_exit_2  # noqa: E402
from test_serve_guard import post  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
SERVED = "a dt serve is writing boxes_<id>.txt (a box file per target it tracks), {} among them;"


def test_serve_outputs_writing_inverts_the_target_file_names():
    """The family a file belongs to is found from its name alone, for any suffix and ids that look alike."""
    family = outlock.serve_outputs_writing
    assert family(Path("d/boxes_3.txt")) == [Path("d/boxes.txt")]
    assert family(Path("d/boxes_10")) == [Path("d/boxes")]
    assert family(Path("a_1_2.txt")) == [Path("a_1.txt")]            # boxes of target 2 of a_1.txt
    assert family(Path("a_1.b_2.txt")) == [Path("a_1.b.txt")]        # not a.b_2.txt's target 1 (a.b_2_1.txt)
    assert family(Path("x.tar_0.gz")) == [Path("x.tar.gz")]
    assert family(Path("boxes_03.txt")) == family(Path("boxes_.txt")) == family(Path("boxes.txt")) == []


def test_runs_onto_different_ids_go_side_by_side_and_a_server_of_their_family_is_refused(tmp_path):
    one, two = tmp_path / "cam_1.txt", tmp_path / "cam_2.txt"
    with outlock.locked([one]), outlock.locked([two]):   # two dt runs, one camera each
        with pytest.raises(InputError, match=f"^another dt run or dt serve is writing {re.escape(str(one))};"):
            with outlock.locked([], serving=[tmp_path / "cam.txt"]):
                pass
        assert outlock.writer_alive(one) and not outlock.writer_alive(tmp_path / "cam_3.txt")
    with outlock.locked([], serving=[tmp_path / "cam.txt"]):
        assert outlock.writer_alive(tmp_path / "cam_3.txt")   # what dt serve may write is a live writer's
        with pytest.raises(InputError, match=re.escape(SERVED.replace("boxes", "cam").format(one))):
            with outlock.locked([one]):
                pass
    assert not list(tmp_path.iterdir())   # every lock file went with its last holder


def test_the_family_lock_goes_with_its_last_shared_holder(tmp_path):
    """Two dt runs onto cam_1.txt and cam_2.txt share .cam_<id>.txt.lock: the first to end leaves it (the other
    still writes, and a dt serve of cam.txt is still refused), the last removes it."""
    family = tmp_path / ".cam_<id>.txt.lock"
    second = contextlib.ExitStack()
    with outlock.locked([tmp_path / "cam_1.txt"]):
        second.enter_context(outlock.locked([tmp_path / "cam_2.txt"]))
    assert family.exists() and outlock.writer_alive(tmp_path / "cam_5.txt") is False   # shared: no server
    with pytest.raises(InputError, match=f"writing {re.escape(str(tmp_path / 'cam_2.txt'))};"):
        with outlock.locked([], serving=[tmp_path / "cam.txt"]):
            pass
    second.close()
    assert not list(tmp_path.iterdir())


def test_a_family_lock_removed_by_its_last_holder_is_taken_again(tmp_path, monkeypatch):
    """A dt run opens .cam_<id>.txt.lock just as the last run sharing it ends and removes it: its shared flock then
    holds a file no longer at the path, which a dt serve would not see; it locks the file at the path instead."""
    first = contextlib.ExitStack()
    first.enter_context(outlock.locked([tmp_path / "cam_1.txt"]))
    family = tmp_path / ".cam_<id>.txt.lock"
    real, calls = fcntl.flock, []

    def flock(fd, op):
        calls.append(op)
        if len(calls) == 2 and op & fcntl.LOCK_SH:   # the family lock, opened: the other run ends now
            first.close()
            assert not family.exists()
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    with outlock.locked([tmp_path / "cam_2.txt"]):
        monkeypatch.setattr(fcntl, "flock", real)
        ex, sh = fcntl.LOCK_EX | fcntl.LOCK_NB, fcntl.LOCK_SH | fcntl.LOCK_NB   # .cam_2.txt.lock, the family's,
        assert calls == [ex, sh, ex, sh] and family.exists()   # the ending run's last-holder check, the new file
        with pytest.raises(InputError, match=f"writing {re.escape(str(tmp_path / 'cam_2.txt'))};"):
            with outlock.locked([], serving=[tmp_path / "cam.txt"]):
                pass
    assert not list(tmp_path.iterdir())


def serve_process(video: Path, ckpt: Path, out: Path) -> tuple[subprocess.Popen, str]:
    """A `dt serve ... -o out/boxes.txt` process and its URL."""
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(ckpt), "--device", "cpu",
                          "--port", "0", "-o", str(out / "boxes.txt")], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=ENV, text=True)
    while True:   # 'serving http://127.0.0.1:PORT/  (...)'
        line = p.stdout.readline()
        assert line, "dt serve ended before serving"
        m = re.match(r"serving (http://\S+)", line)
        if m:
            return p, m.group(1)


def test_a_dt_run_onto_any_target_file_of_a_running_server_is_refused(video, tiny_ckpt, tmp_path):
    """dt serve locked boxes.txt and boxes_0.txt only: `dt run -o boxes_1.txt --overwrite` truncated the live
    boxes_1.txt.part of the server's second target (without --overwrite it called it a killed run's), and
    `dt run -o boxes_2.txt` wrote the file the server's next target would get. Now both are refused in one line
    naming the server, and the server's files are untouched."""
    p, url = serve_process(video, tiny_ckpt, tmp_path)
    try:
        assert post(url, FACE)[0] == 201 and post(url, SECOND)[0] == 201
        parts = [tmp_path / f"boxes_{i}.txt.part" for i in (0, 1)]
        end = time.monotonic() + 120
        while not all(f.exists() and f.read_bytes().count(b"\n") >= 3 for f in parts):
            assert time.monotonic() < end and p.poll() is None, "no frames tracked"
            time.sleep(0.05)
        with urllib.request.urlopen(urllib.request.Request(url + "pause", method="POST"), timeout=30) as r:
            assert json.load(r) == {"state": "paused"}   # serving, its files open and holding lines
        served = {f: f.read_bytes() for f in parts}
        run = ["run", video, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,20,50,60"]
        for name, extra in (("boxes_1.txt", ["--overwrite"]), ("boxes_2.txt", []), ("boxes_7.txt", ["--overwrite"])):
            one_line_exit_2(cli(*run, *extra, "-o", tmp_path / name), SERVED.format(tmp_path / name))
        live = f"another dt run or dt serve is writing {tmp_path / 'boxes_1.txt'};"   # not 'a killed run's'
        one_line_exit_2(cli(*run, "-o", tmp_path / "boxes_1.txt"), live)
        one_line_exit_2(cli(*run, "--jsonl", tmp_path / "boxes_2.txt"), SERVED.format(tmp_path / "boxes_2.txt"))
        assert {f: f.read_bytes() for f in parts} == served and not (tmp_path / "boxes_2.txt").exists()
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    assert p.returncode == 0
    assert not list(tmp_path.glob(".*.lock"))


def test_a_dt_serve_onto_the_family_of_a_running_dt_runs_file_is_refused(video, tiny_ckpt, tmp_path):
    """A dt run writing boxes_3.txt (an endless --loop) and `dt serve -o boxes.txt --overwrite`: the server started,
    and its fourth target would have truncated the run's live boxes_3.txt.part. Now it is refused before the
    model loads, naming the file the run writes."""
    mine = tmp_path / "boxes_3.txt"
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "run", str(video), "-m", str(tiny_ckpt), "--device",
                          "cpu", "--loop", "--init", "60,20,50,60", "-o", str(mine)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        part = tmp_path / "boxes_3.txt.part"
        end = time.monotonic() + 120
        while not (part.exists() and part.read_bytes().count(b"\n") >= 3):
            assert time.monotonic() < end and p.poll() is None, "dt run wrote no boxes"
            time.sleep(0.05)
        with pytest.raises(InputError, match=f"^another dt run or dt serve is writing {re.escape(str(mine))};"):
            Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", overwrite=True,
                                 output=str(tmp_path / "boxes.txt")))
        assert p.poll() is None and not (tmp_path / "boxes_0.txt.part").exists()
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert mine.read_text().count("\n") >= 3 and not list(tmp_path.glob(".*.lock"))
