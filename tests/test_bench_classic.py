"""benchmarks/bench_classic.py: issue 11's pass/fail rules on hand-made numbers, and recorded paths."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_classic", ROOT / "benchmarks" / "bench_classic.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_classic"] = mod  # dataclasses resolve the module's annotations through sys.modules
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("bench_classic", None)


AUC = {"droptrack_torch": 0.640, "droptrack_onnx_fp32": 0.640, "droptrack_onnx_int8": 0.631,
       "opencv_csrt": 0.637, "opencv_mil": 0.583, "opencv_kcf": 0.448}
FPS = {"droptrack_torch": 115.0, "droptrack_onnx_fp32": 235.0, "droptrack_onnx_int8": 240.0,
       "opencv_csrt": 47.0, "opencv_mil": 30.0, "opencv_kcf": 285.0}


def _verdicts(checks):
    return [c.passed for c in checks]


def test_all_targets_met(bench):
    checks = bench.check_targets(AUC, FPS, {"a": [0.61, 0.8], "b": [0.6]})
    assert _verdicts(checks) == [True, True, True, True]
    assert "5.00x" in checks[2].detail  # 235 / 47
    assert "-0.90 points" in checks[3].detail


def test_each_target_can_miss(bench):
    # the issue's own numbers: 0.449 < CSRT 0.637; the keyframe 0.37; INT8 0.442 is -0.7 points (within)
    auc = {**AUC, "droptrack_torch": 0.449, "droptrack_onnx_fp32": 0.449, "droptrack_onnx_int8": 0.442}
    checks = bench.check_targets(auc, FPS, {"person": [0.37, 0.7]})
    assert _verdicts(checks) == [False, False, True, True]
    assert "lowest 0.37 (person)" in checks[1].detail
    # ties: AUC equal to CSRT passes, equal to MIL does not; 1.5x exactly passes; a 1.01-point drop misses
    tie = {**AUC, "droptrack_torch": 0.637, "opencv_mil": 0.637}
    assert not bench.check_targets(tie, FPS, None)[0].passed
    assert bench.check_targets({**AUC, "droptrack_torch": 0.637}, FPS, None)[0].passed
    assert bench.check_targets(AUC, {**FPS, "droptrack_onnx_fp32": 70.5}, None)[2].passed
    assert not bench.check_targets(AUC, {**FPS, "droptrack_onnx_fp32": 70.4}, None)[2].passed
    assert bench.check_targets({**AUC, "droptrack_onnx_int8": 0.630}, FPS, None)[3].passed
    gain = bench.check_targets({**AUC, "droptrack_onnx_int8": 0.661}, FPS, None)[3]
    assert gain.passed and "+2.10 points" in gain.detail and "a gain" in gain.detail
    assert not bench.check_targets({**AUC, "droptrack_onnx_int8": 0.6299}, FPS, None)[3].passed


def test_speed_target_takes_the_faster_onnx_runtime_fp32_row(bench):
    # model_ort.onnx's row (the same outputs) at 75 FPS, model.onnx's at 66: 75 / 47 = 1.60x passes, 66 / 47 = 1.40x
    # alone misses; either row alone is judged by itself, and neither row is "not run"
    both = bench.check_targets(AUC, {**FPS, "droptrack_onnx_fp32": 66.0, "droptrack_onnx_ort": 75.0}, None)[2]
    assert both.passed and "1.60x (droptrack_onnx_ort)" in both.detail
    alone = bench.check_targets(AUC, {**FPS, "droptrack_onnx_fp32": 66.0}, None)[2]
    assert alone.passed is False and "1.40x (droptrack_onnx_fp32)" in alone.detail
    fps = {k: v for k, v in FPS.items() if k != "droptrack_onnx_fp32"}
    assert bench.check_targets(AUC, {**fps, "droptrack_onnx_ort": 70.4}, None)[2].passed is False
    assert bench.check_targets(AUC, fps, None)[2].passed is None


def test_missing_rows_are_not_measured(bench):
    classic = {k: v for k, v in AUC.items() if k.startswith("opencv")}
    checks = bench.check_targets(classic, {k: FPS[k] for k in classic}, None)
    assert _verdicts(checks) == [None, None, None, None]
    assert bench._verdict(None) == "not measured" and bench._verdict(False) == "MISSED"


def test_recorded_paths_are_repo_relative(bench, tmp_path):
    work = tmp_path / "work"
    assert bench.shown(ROOT / "benchmarks" / "results" / "classic", work) == "benchmarks/results/classic"
    assert bench.shown(work / "results_x" / "opencv_csrt", work) == "<workdir>/results_x/opencv_csrt"
    assert bench.shown(tmp_path / "elsewhere" / "issue11_test", work) == "<data>/issue11_test"
    assert bench.shown(work, work) == "<workdir>" and bench.shown(ROOT, work) == "."


def test_generated_set_follows_its_definition(bench, tmp_path, monkeypatch):
    """A SETS folder was reused whenever it had a marker, so an edited entry (or a new generator version) kept the
    old frames; it is regenerated when the marker disagrees, and reused byte for byte when it agrees."""
    import json

    monkeypatch.setitem(bench.SETS, "tiny", "--split val --size 64x64 --sequences 1 --frames 3 --seed 1")
    folder, command = bench.dataset("tiny", tmp_path)
    stamp = (folder / "synth.json").stat().st_mtime_ns
    assert bench.dataset("tiny", tmp_path)[0] == folder and (folder / "synth.json").stat().st_mtime_ns == stamp
    monkeypatch.setitem(bench.SETS, "tiny", "--split val --size 64x64 --sequences 1 --frames 4 --seed 1")
    bench.dataset("tiny", tmp_path)
    assert json.loads((folder / "synth.json").read_text())["frames"] == 4
    assert (folder / "synth_val_00001" / "00000004.jpg").is_file()


@pytest.mark.parametrize("args,expected", [(["--data", "{empty}"], "no list.txt there"),
                                           (["--trackers", "csrt,nope"], "--trackers: unknown row 'nope'")])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, expected):
    """Benchmark scripts follow dt's rule: bad input is one line on stderr and exit code 2, no traceback (it was a
    bare SystemExit message: exit code 1)."""
    import subprocess

    args = [a.replace("{empty}", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_classic.py"), *args, "--no-real"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], r.stderr
