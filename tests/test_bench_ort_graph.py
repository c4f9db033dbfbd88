"""benchmarks/bench_ort_graph.py: bad input is one line on stderr and exit code 2, before any graph is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ort_graph.py"


@pytest.mark.parametrize("args, says", [
    ([], "error: nothing to track: give --data SET or --video CLIP --init X,Y,W,H (or --network N)"),
    (["--video", "clip.mp4"], "error: give one --init per --video"),
])
def test_bad_input_is_one_line(tmp_path, args, says):
    res = subprocess.run([sys.executable, str(SCRIPT), "--export", str(tmp_path), "--out", str(tmp_path / "o"), *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines()[-1] == says and "Traceback" not in res.stderr
    assert not (tmp_path / "o" / "speed.json").exists()


def test_a_clip_is_tracked_by_both_graphs(scale_export, tmp_path):
    # --video read each Frame as a (frame, index) pair and failed; 11 frames after the init one, both graphs, the
    # reference's boxes equal to themselves and model_ort.onnx's equal to them (the same network)
    import json

    from droptrack.data.media import bundled_video
    from droptrack.runtime import sources

    clip = tmp_path / "clip"
    clip.mkdir()
    with sources.open_source(bundled_video("carphone_pristine.mp4")) as src:   # 12 frames as a folder
        import cv2

        for i, f in zip(range(12), src):
            cv2.imwrite(str(clip / f"{i:04d}.png"), f.image[:, :, ::-1])
    res = subprocess.run([sys.executable, str(SCRIPT), "--export", str(scale_export[0]), "--out",
                          str(tmp_path / "o"), "--video", str(clip), "--init", "60,40,40,50"],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / "o" / "speed.json").read_text())
    assert out["sequences"] == 1 and out["frames"] == 11
    assert set(out["graphs"]) == {"model.onnx", "model_ort.onnx"}
    ort = out["graphs"]["model_ort.onnx"]
    assert ort["max_box_diff_px"] == 0 and ort["parted_share"] == 0

