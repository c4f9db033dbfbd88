"""benchmarks/gpu_train.sh end to end on the CPU with a tiny budget: the script a lent GPU session runs in one call.

It broke once between GPU sessions without any test noticing (the reader began to refuse a synthetic folder without
its synth.json marker, so the merged training set failed at the probe): this runs its real steps (sharded data,
merged set, two-epoch probe, sized schedule, training, stripped checkpoints) on 2 plain sequences.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_run(tmp_path: Path, timeout: int = 300, **extra: str) -> subprocess.CompletedProcess:
    """gpu_train.sh on the CPU with the tiniest budget: 2 plain sequences, 4 iterations of batch 2 per epoch, output
    in tmp_path/out, work in tmp_path/work; `extra`: more GPU_TRAIN_* settings."""
    cfg = yaml.safe_load((ROOT / "benchmarks/configs/droptrack_tiny_synth_v10gpu.yaml").read_text())
    cfg["DATA"]["TRAIN"]["SAMPLE_PER_EPOCH"] = 8          # 4 iterations of batch 2 per epoch
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable,
           "GPU_TRAIN_WORK": str(tmp_path / "work"), "GPU_TRAIN_CONFIG": str(config), "GPU_TRAIN_DEVICE": "cpu", "GPU_TRAIN_PLAIN": "2", "GPU_TRAIN_HARD": "0",
           "GPU_TRAIN_JOBS": "2", "GPU_TRAIN_PROBE_ITERS": "2", "GPU_TRAIN_BATCH": "2", "GPU_TRAIN_WORKERS": "0",
           "GPU_TRAIN_SECONDS": "2", "OMP_NUM_THREADS": "1", **extra}
    return subprocess.run(["bash", "benchmarks/gpu_train.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_gpu_train_script_runs_on_cpu_and_returns_stripped_checkpoints(tmp_path):
    out = tmp_path / "out"
    run = tiny_run(tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "data ready: 2 sequences" in run.stdout
    sized = yaml.safe_load((out / "sized.yaml").read_text())["TRAIN"]
    assert sized["EPOCH"] >= 2 and sized["LR_DROP_EPOCH"] == max(1, round(0.75 * sized["EPOCH"]))
    ckpts = sorted(out.glob("checkpoint_ep*.pt"))
    assert ckpts and (out / "train.log").is_file()
    last = torch.load(ckpts[-1], map_location="cpu", weights_only=True)
    assert "net" in last and "optimizer" not in last and "scheduler" not in last
    assert last["epoch"] == int(ckpts[-1].stem.split("ep")[-1])


def test_gpu_train_script_refuses_unknown_hard_attributes_before_any_work(tmp_path):
    work = tmp_path / "work"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_TRAIN_WORK": str(work), "OUT": str(tmp_path / "out"),
           "GPU_TRAIN_HARD_ATTRIBUTES": "all,glued"}
    run = subprocess.run(["bash", "benchmarks/gpu_train.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert "GPU_TRAIN_HARD_ATTRIBUTES: all,glued" in run.stdout and "all,attached" in run.stdout
    assert not work.exists()  # nothing generated, nothing emptied


@pytest.mark.slow
def test_gpu_train_script_adds_labelled_real_video_listed_repeat_times(tmp_path):
    """GPU_TRAIN_REAL: each video of the folder is labelled on the machine (real_video_labels.py) and its tracks join
    the merged set GPU_TRAIN_REAL_REPEAT times (version 22's recipe, for a lent GPU)."""
    from test_real_video_labels import _video

    (tmp_path / "videos").mkdir()
    _video(tmp_path / "videos" / "clip.avi")
    run = tiny_run(tmp_path, 600, GPU_TRAIN_REAL=str(tmp_path / "videos"), GPU_TRAIN_REAL_REPEAT="2")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    tracks = len((tmp_path / "work" / "real_1" / "list.txt").read_text().split())
    assert tracks >= 1 and f"data ready: {2 + 2 * tracks} sequences" in run.stdout, run.stdout
