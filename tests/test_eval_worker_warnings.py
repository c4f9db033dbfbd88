"""dt eval --workers N: a RotationWarning raised in a worker process (a backend that cannot turn a portrait video
upright) is the same one 'warning: ...' line dt prints in its own process, not Python's two-line file:line format.
The backend is stood in for by a capture wrapper that every process loads at start (sitecustomize)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_media_footage import rotated_mp4

NO_ROTATION = """\
import cv2
_Real = cv2.VideoCapture
class NoRotation:
    def __init__(self, *args):
        self.real = _Real(*args)
        self.real.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    def set(self, prop, value):
        return False if prop == cv2.CAP_PROP_ORIENTATION_AUTO else self.real.set(prop, value)
    def __getattr__(self, name):
        return getattr(self.real, name)
cv2.VideoCapture = NoRotation
"""


def test_worker_rotation_warnings_are_one_line(tiny_ckpt, tmp_path):
    videos, shim = tmp_path / "videos", tmp_path / "shim"
    videos.mkdir()
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_ROTATION)
    for name in ("a", "b"):
        rotated_mp4(videos / f"{name}.mp4", frames=4)
        (videos / f"{name}.txt").write_text("10,10,20,20\n" * 4)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{shim}", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "droptrack", "eval", "--dataset", "video", "--root", str(videos),
                        "-m", str(tiny_ckpt), "--workers", "2", "--threads", "1", "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [ln for ln in p.stderr.splitlines() if "rotated by 90 degrees" in ln]
    assert sorted(lines) == [f"warning: video '{videos / n}.mp4' is stored rotated by 90 degrees (its display matrix) "
                             "and OpenCV's FFMPEG backend does not turn it upright: frames, --init and the boxes are "
                             "in the stored picture; rotate the file with `ffmpeg -i IN -c:v libx264 OUT.mp4` "
                             "(ffmpeg applies the rotation)" for n in ("a", "b")], p.stderr
    assert "RotationWarning" not in p.stderr and "apply_rotation(" not in p.stderr
