"""`python -m droptrack` after a Ctrl-C exits 130 with its 'interrupted' line, wherever the KeyboardInterrupt was raised.

CPython notes a KeyboardInterrupt that leaves code run by exec() or eval() of a string (namedtuple's and dataclasses'
generated code, run all through the imports) as unhandled even when dt catches it further up, and `python -m` then
ended by SIGINT (status -2) after printing 'interrupted': 3 of 40 starts of `dt serve` that a Ctrl-C stopped while
loading. Here the KeyboardInterrupt is raised in such code on purpose, where a Ctrl-C could land: a sitecustomize
module raises it as the first code run by exec() or eval() inside the command is called."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SITECUSTOMIZE = '''
import sys


def ctrl_c_in_exec_run_code(frame, event, arg):
    """Raise KeyboardInterrupt in the first code that exec() or eval() of a string runs inside dt's command."""
    if event != "call" or frame.f_code.co_filename != "<string>":
        return
    up = frame.f_back
    while up is not None and not (up.f_code.co_name == "wrapper" and up.f_code.co_filename.endswith("app.py")):
        up = up.f_back
    if up is not None:   # inside `friendly`: the command runs
        sys.setprofile(None)
        raise KeyboardInterrupt


sys.setprofile(ctrl_c_in_exec_run_code)
'''


def test_a_ctrl_c_raised_in_code_run_by_exec_exits_130(tiny_ckpt, video, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "droptrack", "run", str(video), "--checkpoint", str(tiny_ckpt),
                          "--init", "60,40,30,30", "--device", "cpu"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert (res.returncode, res.stderr.strip().splitlines()[-1:]) == (130, ["interrupted"]), res.stderr
