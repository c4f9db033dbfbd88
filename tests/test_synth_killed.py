"""dt data synth killed by SIGKILL around its last writes: the rerun leaves the folder exactly as an uninterrupted run
(no temporary, journal or lock file of the killed run beside the set)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import droptrack

from droptrack.data.synth import generate_synth

ARGS = dict(sequences=2, frames=3, seed=0, size=(64, 64), split="val")

# The child kills itself at os.replace onto synth.json (the marker, the set's last atomic write): before the rename
# (a temporary `.synth.json.<random>.tmp` is left) or after it (the journal and the lock file are left).
CHILD = """
import os, signal, sys
from droptrack.data.synth import generate_synth
real, after = os.replace, sys.argv[2] == "after"
def replace(src, dst):
    if str(dst).endswith("synth.json"):
        if after:
            real(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
os.replace = replace
generate_synth(sys.argv[1], sequences=2, frames=3, seed=0, size=(64, 64), split="val")
"""


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("when", ["before", "after"])
def test_rerun_after_a_kill_at_the_marker_leaves_only_the_set(tmp_path, when):
    ref = generate_synth(tmp_path / "ref", **ARGS)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(droptrack.__file__).parents[1]))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), when], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert left, "the kill left nothing behind: the hook did not fire where intended"
    generate_synth(out, **ARGS)
    assert _files(out) == _files(ref)   # same names (nothing hidden left over) and the same bytes
