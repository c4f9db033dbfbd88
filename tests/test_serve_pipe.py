"""dt serve --jsonl - whose reader goes away (`dt serve ... --jsonl - | head -1`): a clean stop, as dt run's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from droptrack.runtime.sinks import ReaderGone
from helpers import reaped

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402

FACE = {"x": 60.0, "y": 20.0, "w": 50.0, "h": 60.0}   # the caller's head in carphone_pristine.mp4, frame 0


def test_a_closed_jsonl_pipe_stops_the_server_like_dt_run(tiny_ckpt, video, tmp_path):
    """The reader of --jsonl - closed the pipe (| head -1): the tracking thread died with 'ReaderGone: ...' shown on
    the page and the server stayed up, so the shell pipeline never ended (the file plays at its frame rate, so
    the pipe closes long before it ends). Now dt serve stops as dt run does: the
    server ends, every output holds the frames it was sent (the box file is complete and renamed), one line on
    stderr, exit 141 (SIGPIPE), no traceback."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "boxes.txt"
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(tiny_ckpt), "--device",
                          "cpu", "--port", "0", "--jsonl", "-", "--output", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    with reaped(p):
        url = None
        while url is None:   # 'serving http://127.0.0.1:PORT/  (...)' on stderr (stdout carries the records)
            line = p.stderr.readline().decode()
            assert line, "dt serve ended before serving"
            m = re.match(r"serving (http://\S+)", line)
            url = m.group(1) if m else None
        req = urllib.request.Request(url + "targets", data=json.dumps(FACE).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 201
        first = json.loads(p.stdout.readline())   # `head -1`: one record, then the pipe closes
        assert first["frame"] == 0 and first["ids"] == [0]
        p.stdout.close()
        rc = p.wait(timeout=60)
        err = p.stderr.read().decode()
    assert rc == 141, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1].startswith("SIGPIPE: the reader of --jsonl - closed the pipe; "
                                                          "stopped after "), err
    assert re.fullmatch(r"SIGPIPE: .*stopped after \d+ frames?; outputs are complete up to there", lines[-1]), err
    boxes = (tmp_path / "boxes_0.txt").read_text().splitlines()
    n = int(re.search(r"after (\d+) frames?;", lines[-1]).group(1))
    assert n >= 1 and len(boxes) == n and not list(tmp_path.glob("*.part")), (n, len(boxes))


class GoneAfter:
    """A --jsonl - sink whose reader leaves after `n` records (JsonlSink raises ReaderGone then)."""

    def __init__(self, n: int):
        self.n, self.lines = n, 0

    def write(self, frame, targets, fps=None) -> None:
        if self.lines == self.n:
            raise ReaderGone("the reader of --jsonl - closed the pipe")
        self.lines += 1

    def close(self) -> None:
        pass


def test_a_reader_that_leaves_on_the_last_frame_ends_tracking_cleanly(tiny_ckpt, video, tmp_path, monkeypatch):
    """The last frame's record is written when the tracking thread ends (here at --max-frames 4); a pipe closed
    then raised out of the thread (a traceback on stderr). Now it ends tracking like a pipe closed mid-run: the
    hook that stops the server is called, no error, and the refused frame is in no output (as in dt run)."""
    crashed = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False, max_frames=4,
                             output=str(tmp_path / "boxes.txt")))
    gone = threading.Event()
    s.on_reader_gone = gone.set
    s.outputs.sinks.insert(0, GoneAfter(3))   # first, as the JsonlSink is
    s.start()
    s.add_target(list(FACE.values()))
    assert gone.wait(60) and s.reader_gone
    s.stop()
    assert not crashed and s.error is None and s.state == "ended" and s.frames_written == 3
    assert len((tmp_path / "boxes_0.txt").read_text().splitlines()) == 3
