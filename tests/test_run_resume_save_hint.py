"""`dt run --save` interrupted: every line that says how to go on names a command that works when pasted (the
same command plus --resume is refused while it has --save, as a video cannot be continued)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import cli, drifting_clip, one_line_error

ROOT = Path(__file__).resolve().parents[1]
INIT = "30,22,26,20"


def test_sigint_with_save_advises_a_resume_that_runs(tiny_ckpt, tmp_path):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 400)
    base = ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--threads", "1", "--init", INIT,
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
