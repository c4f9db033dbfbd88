"""An ONNX model on the CPU, or a classic OpenCV tracker, leaves torch unimported in `dt eval` (in its spawned worker
processes too) and `dt serve`, as `dt run` already did (test_onnx_without_torch.py): both set torch's thread count
through an `import torch`, about 2 s of CPU and a few hundred MB in every process, every eval worker included, for
a model that never runs in torch. Each process the command starts says at its exit whether it imported torch (a
`sitecustomize` first on PYTHONPATH writes `torch` in sys.modules to a file named after its pid)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOK = """import atexit, os, sys

def _say():
    with open(os.path.join(os.environ["DT_TEST_IMPORTS"], f"{os.getpid()}.txt"), "w") as f:
        f.write(f"{'torch' in sys.modules} {' '.join(sys.argv)}")

atexit.register(_say)
"""


def watched(tmp_path: Path) -> tuple[dict, Path]:
    """The environment of a process whose every Python process records whether it imported torch, and the folder."""
    hook, said = tmp_path / "hook", tmp_path / "imports"
    hook.mkdir(parents=True)
    said.mkdir(parents=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)]), "OMP_NUM_THREADS": "1",
           "DT_TEST_IMPORTS": str(said)}
    return env, said


def imports(said: Path) -> list[tuple[str, bool]]:
    """(command line, imported torch) of every process that ended."""
    lines = sorted(f.read_text() for f in said.iterdir())
    return [(ln.partition(" ")[2], ln.startswith("True")) for ln in lines]


@pytest.mark.parametrize("workers", [1, 2])
def test_dt_eval_of_an_onnx_model_and_a_classic_tracker_leaves_torch_unimported(onnx_model, tmp_path, workers):
    """Both write their results and report; no process imported torch: this one alone (--workers 1), or it and the
    spawned workers (--workers 2). A checkpoint, which runs in torch, imports it (the hook sees imports)."""
    from droptrack.data.synth import generate_synth

    data = generate_synth(tmp_path / "set", sequences=2, frames=6, seed=0, size=(96, 72), split="val")
    out = tmp_path / "results"
    for kind, how in (("onnx", ["--checkpoint", onnx_model]), ("kcf", ["--tracker", "kcf"])):
        env, said = watched(tmp_path / kind)
        r = subprocess.run([sys.executable, "-m", "droptrack", "eval", "--dataset", "synth", "--root", str(data),
                            "--output", str(out), "--workers", str(workers), "--threads", "1", "--device", "cpu",
                            *map(str, how)], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
        seen = imports(said)
        assert len(seen) >= (1 if workers == 1 else 3), seen   # dt eval, and its 2 workers (+ multiprocessing's
        # resource tracker)
        assert not any(torch for _, torch in seen), seen
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2 and "kcf" in folders, folders
    for name in folders:   # one box per frame of each sequence
        for seq in ("synth_val_00001", "synth_val_00002"):
            assert len((out / name / f"{seq}.txt").read_text().splitlines()) == 6, (name, seq)
        assert (out / name / "report.json").is_file()


def test_the_hook_sees_torch_imported_by_a_checkpoint(tiny_ckpt, tmp_path):
    """The check the others rest on: loading a checkpoint (which runs in torch) is recorded as importing it, a
    process that does not as not."""
    env, said = watched(tmp_path)
    for code in ("import json", f"from droptrack import load_tracker\nload_tracker({str(tiny_ckpt)!r})"):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
    assert sorted(torch for _, torch in imports(said)) == [False, True], imports(said)


def test_dt_serve_of_an_onnx_model_tracks_and_leaves_torch_unimported(onnx_model, video, tmp_path):
    """The server starts, tracks a target drawn over HTTP into its box file and stops on SIGTERM (exit 0), and
    never imported torch."""
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    from serve_helpers import FACE
    from test_serve_guard import post

    env, said = watched(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(onnx_model), "--device",
                          "cpu", "--port", "0", "-o", str(tmp_path / "boxes.txt")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, text=True)
    try:
        url = None
        while url is None:   # 'serving http://127.0.0.1:PORT/  (...)'
            line = p.stdout.readline()
            assert line, "dt serve ended before serving: " + p.stderr.read()
            m = re.match(r"serving (http://\S+)", line)
            url = m.group(1) if m else None
        assert post(url, FACE)[0] == 201
        part = tmp_path / "boxes_0.txt.part"
        end = time.monotonic() + 120
        while not (part.exists() and part.read_bytes().count(b"\n") >= 3):
            assert time.monotonic() < end and p.poll() is None, "no frames tracked: " + p.stderr.read()
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "Traceback" not in p.stderr.read()
    assert len((tmp_path / "boxes_0.txt").read_text().splitlines()) >= 3
    seen = imports(said)
    assert len(seen) == 1 and not seen[0][1], seen
