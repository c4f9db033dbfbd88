"""`dt serve` names its source when it starts tracking: a source path holding control characters reached the
terminal raw (an escape sequence that clears the screen, swallowed from the name where it is not a terminal); it is
escaped now, as in every error line."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def test_the_source_is_named_with_its_control_characters_escaped(tiny_ckpt, video, tmp_path):
    clip = tmp_path / "clip\x1b[2J.mp4"
    shutil.copy(video, clip)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(clip), "-m", str(tiny_ckpt), "--device",
                          "cpu", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first = p.stdout.readline().decode()
        # Ctrl-C once the server answers: a SIGINT sent the instant 'tracking' was read went unanswered in about 1
        # start of 25 (the server kept serving; cause not found yet), which is not what this test is about
        serving = p.stdout.readline().decode()   # 'serving http://127.0.0.1:PORT/  (...)'
        url = re.match(r"serving (http://\S+)", serving)
        assert url, (first, serving)
        for _ in range(600):
            try:
                urllib.request.urlopen(url.group(1), timeout=5).close()
                break
            except urllib.error.HTTPError:   # an answer (the page may ask for a token): the server is up
                break
            except OSError:
                time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert first.startswith("tracking ") and "clip\\x1b[2J.mp4 with " in first, first
