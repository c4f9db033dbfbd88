"""`dt serve` names its source when it starts tracking: a source path holding control characters reached the
terminal raw (an escape sequence that clears the screen, swallowed from the name where it is not a terminal); it is
escaped now, as in every error line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from helpers import reaped


def test_the_source_is_named_with_its_control_characters_escaped(tiny_ckpt, video, tmp_path):
    clip = tmp_path / "clip\x1b[2J.mp4"
    shutil.copy(video, clip)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(clip), "-m", str(tiny_ckpt), "--device",
                          "cpu", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    with reaped(p):
        first = p.stdout.readline().decode()
        p.send_signal(signal.SIGINT)   # the instant 'tracking' is read: dt serve's handlers are in from its start
        _, err = p.communicate(timeout=60)
    assert first.startswith("tracking ") and "clip\\x1b[2J.mp4 with " in first, first
    assert p.returncode == 130 and b"Traceback" not in err, err
