"""benchmarks/teacher_forced_parity.py: fed the same state each frame, ONNX FP32 matches PyTorch to float noise while
the FP16 graph does not (so the script can tell an export error from loop-grown noise)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]


def _worst(ref: Path, model: Path, data: Path) -> tuple[float, float]:
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "teacher_forced_parity.py"), str(ref), str(model),
                        "--data", str(data), "--sequence", "synth_val_00001", "--frames", "6"],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"worst: score map ([0-9.e+-]+), box ([0-9.]+) px over 6 frames", r.stdout)
    assert m, r.stdout[-2000:]
    return float(m.group(1)), float(m.group(2))


def test_onnx_fp32_is_exact_under_teacher_forcing_and_fp16_is_not(tiny, exported, tmp_path):
    data = tmp_path / "set"
    r = cli("data", "synth", data, "--split", "val", "--sequences", 1, "--frames", 8, "--seed", 3)
    assert r.exit_code == 0, r.output
    out, _ = exported
    score32, box32 = _worst(tiny[0], out / "model.onnx", data)
    score16, _ = _worst(tiny[0], out / "model_fp16.onnx", data)
    assert score32 < 1e-4 and box32 < 0.01          # float noise only
    assert score16 > 10 * max(score32, 1e-7)         # FP16 rounding is visible with the same inputs
