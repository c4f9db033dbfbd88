"""Where the embedded model's shipped ONNX Runtime graph does not load (here: an onnxruntime without its API) and torch
runs the checkpoint, the fallback set torch's and OpenCV's process-wide thread counts and nothing put them back: a
library caller's `build_tracker(threads=1)` left both at 1, and `run(...)` left torch at 1 after it returned. Now no
count is changed by the load; dt run sets torch's for the fallback while it tracks and restores it at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import drifting_clip

BROKEN_ORT = """
import importlib.machinery, sys, types
fake = types.ModuleType("onnxruntime")   # found by find_spec, but without an InferenceSession
fake.__spec__ = importlib.machinery.ModuleSpec("onnxruntime", None)
sys.modules["onnxruntime"] = fake
"""

BUILD = BROKEN_ORT + """
import cv2, torch
torch.set_num_threads(3)
cv2.setNumThreads(3)
from droptrack import build_tracker
tracker = build_tracker(None, None, "cpu", threads=1)
print(tracker.backend.name, torch.get_num_threads(), cv2.getNumThreads())
"""

RUN = BROKEN_ORT + """
import cv2
from droptrack.runtime.run import RunOptions, run
during = []
def on_frame(summary):
    import torch
    during.append(torch.get_num_threads())
run(RunOptions(source=sys.argv[1], init=["30,22,26,20"], output=sys.argv[2], device="cpu", threads=1),
    on_frame=on_frame)
import torch
print(sorted(set(during)), torch.get_num_threads())
"""


def _python(code: str, *args: str, env: dict | None = None) -> str:
    """`code` run in a fresh interpreter (its own thread counts): its last printed line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})}
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_build_tracker_leaves_the_callers_thread_counts():
    assert _python(BUILD) == "torch 3 3"   # the counts the caller set, not threads=1


def test_a_run_on_the_torch_fallback_tracks_on_its_threads_and_restores_torchs_default(tmp_path):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 4)
    env = {"OMP_NUM_THREADS": "2"}   # torch's default count in a fresh process: 2 (as imported without droptrack)
    assert _python("import torch; print(torch.get_num_threads())", env=env) == "2"
    assert _python(RUN, str(clip), str(tmp_path / "b.txt"), env=env) == "[1] 2"   # --threads 1 while it tracks
    assert Path(tmp_path / "b.txt").read_text().count("\n") == 4
