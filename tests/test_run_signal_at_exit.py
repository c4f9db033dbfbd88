"""A stop signal that comes once `dt run` has closed its outputs (while it reports, or while the interpreter exits)
is only noted: a Ctrl-C then `timeout`'s SIGTERM ended the run killed by SIGTERM (exit 143, no stop line) after
the Ctrl-C's clean stop, and a second Ctrl-C turned the report into 'interrupted'. The exit code stays the run's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import cv2
import pytest

import droptrack.runtime.run as run_module
from helpers import cli

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")


def test_a_ctrl_c_while_dt_run_reports_is_noted_and_the_run_ends_as_it_did(tiny_ckpt, video, tmp_path, monkeypatch,
                                                                          python_sigint):
    real, sent = run_module.summary_table, []

    def table_with_a_ctrl_c(summary):   # the run has returned: its outputs are closed
        sent.append(summary.frames)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        return real(summary)

    monkeypatch.setattr(run_module, "summary_table", table_with_a_ctrl_c)
    boxes = tmp_path / "boxes.txt"
    res = cli("run", video, "-m", tiny_ckpt, "--init", "130,60,40,40", "--device", "cpu", "--max-frames", "3",
              "-o", boxes)
    assert sent == [3]
    assert res.exit_code == 0, res.output
    assert "SIGINT: the run has ended and its outputs are closed; exiting" in res.output
    assert "interrupted" not in res.output and f"boxes: {boxes}" in res.output
    assert len(boxes.read_text().splitlines()) == 3


def test_sigterms_after_a_ctrl_c_do_not_kill_dt_run_on_its_way_out(video, tmp_path):
    """Ctrl-C, then SIGTERM every 20 ms until the process is gone (`timeout` after a Ctrl-C, a scheduler that
    insists): each lands in another phase of the stop (the frame, the closing, the report, the interpreter's exit)."""
    out, lines, clip = tmp_path / "b.txt", tmp_path / "j.jsonl", tmp_path / "v.mp4"
    cmd = [sys.executable, "-m", "droptrack", "run", str(video), "--init", "60,40,40,40", "--device", "cpu", "--loop",
           "--threads", "1", "-o", str(out), "--jsonl", str(lines), "--save", str(clip)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        part, start = tmp_path / "j.jsonl.part", time.monotonic()
        while not (part.exists() and part.stat().st_size > 0) and time.monotonic() - start < 60 and p.poll() is None:
            time.sleep(0.05)   # tracking: the first frames are written
        p.send_signal(signal.SIGINT)
        while p.poll() is None and time.monotonic() - start < 90:
            time.sleep(0.02)
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                break
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, (p.returncode, err[-2000:])
    last = err.strip().splitlines()[-1]
    assert last.startswith("SIGINT: stopped after ") and "Traceback" not in err, err[-2000:]
    frames = int(last.split()[3])
    assert len(out.read_text().splitlines()) == frames
    assert [json.loads(ln)["frame"] is not None for ln in lines.read_text().splitlines()] == [True] * frames
    cap = cv2.VideoCapture(str(clip))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames   # its index written: the closing was not cut
    cap.release()
