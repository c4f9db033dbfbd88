"""Thread counts never oversubscribe the usable cores, small models get 1 thread, `dt run --threads` applies its
count for the run only, and `dt doctor` warns about OMP_NUM_THREADS x workers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.media import bundled_video
from droptrack.engine.threads import SMALL_MODEL_BYTES, oversubscription, plan_threads
from droptrack.errors import InputError
from droptrack.runtime.run import RunOptions, run


@pytest.fixture(scope="module")
def big_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "vitb.onnx"
    with open(path, "wb") as f:   # sparse: only the size matters to the plan
        f.truncate(SMALL_MODEL_BYTES + 1)
    return path


def test_defaults_never_oversubscribe(big_model):
    for usable in range(1, 17):
        for workers in range(1, usable + 1):
            for artifact in (None, big_model):
                p = plan_threads(None, artifact, workers, usable=usable, env={})
                assert 1 <= p.threads and p.threads * workers <= usable, (usable, workers, artifact, p)
            p = plan_threads(None, big_model, workers, usable=usable, env={"OMP_NUM_THREADS": "64"})
            assert p.threads * workers <= usable


def test_small_models_get_one_thread_large_ones_share_the_cores(big_model):
    assert plan_threads(None, None, 1, usable=8, env={}).threads == 1           # the embedded default model
    assert plan_threads(None, big_model, 1, usable=8, env={}).threads == 8
    assert plan_threads(None, big_model, 3, usable=8, env={}).threads == 2
    assert plan_threads(None, big_model, 2, usable=8, env={"OMP_NUM_THREADS": "3"}).threads == 3
    assert plan_threads(None, big_model, 2, usable=8, env={"OMP_NUM_THREADS": "8"}).threads == 4
    assert plan_threads(None, None, 1, usable=8, env={"OMP_NUM_THREADS": "4"}).threads == 4   # user's choice
    assert plan_threads(None, big_model, 1, usable=8, env={"OMP_NUM_THREADS": "x"}).threads == 8


def test_explicit_threads_are_kept_and_checked():
    p = plan_threads(4, None, 2, usable=8, env={})
    assert p.threads == 4 and p.reason == "--threads"
    p = plan_threads(4, None, 3, usable=8, env={})
    assert p.threads == 4 and "oversubscribed" in p.reason
    with pytest.raises(InputError, match=r"--threads 100000 is more than 256 \(this machine has 4 usable cores\)"):
        plan_threads(100000, usable=4)     # dt run decoded no frame and crashed (exit 139)
    with pytest.raises(InputError, match="--threads 0"):
        plan_threads(0)
    with pytest.raises(InputError, match="--workers 0"):
        plan_threads(None, workers=0)


def test_oversubscription_warning():
    assert oversubscription(1, {"OMP_NUM_THREADS": "2"}, usable=2) is None
    assert oversubscription(2, {"OMP_NUM_THREADS": "1"}, usable=2) is None
    assert oversubscription(2, {}, usable=2) is None
    msg = oversubscription(2, {"OMP_NUM_THREADS": "2"}, usable=2)
    assert "4 threads on 2 usable cores" in msg and "OMP_NUM_THREADS=1" in msg
    assert "use --workers 2" in oversubscription(3, {"OMP_NUM_THREADS": "1"}, usable=2)


def test_doctor_warns_about_omp_threads_and_workers():
    res = CliRunner().invoke(app, ["doctor", "--workers", "64"], env={"OMP_NUM_THREADS": "2"})
    assert "oversubscribed" in res.output and "--workers 64" not in res.output
    res = CliRunner().invoke(app, ["doctor"], env={"OMP_NUM_THREADS": "1"})
    assert "oversubscribed" not in res.output


def test_run_applies_threads_for_the_run_only(tiny_ckpt, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    seen = []
    for threads in (None, 2):
        opts = RunOptions(source=str(bundled_video("carphone_pristine.mp4")), artifact=str(tiny_ckpt),
                          init=["60,40,40,50"], device="cpu", max_frames=2, threads=threads)
        run(opts, on_start=lambda total: seen.append(torch.get_num_threads()))
        assert torch.get_num_threads() == before
    assert seen == [1, 2]   # a small checkpoint defaults to 1 thread


@pytest.mark.parametrize("value", ["abc", "0", "-2"])
def test_doctor_warns_about_an_invalid_omp_num_threads(value):
    """OMP_NUM_THREADS=abc/0/-2 is ignored by OpenMP (all cores in use) while dt doctor printed only 'ok'."""
    from droptrack.engine.doctor import environment_checks

    checks = environment_checks({"omp_num_threads": value, "usable_cores": 4}, workers=2)
    assert [(c.level, c.message) for c in checks if "OMP_NUM_THREADS" in c.message] == [
        ("warn", f"OMP_NUM_THREADS='{value}' is not a positive whole number: OpenMP ignores it (libgomp prints "
                 "'Invalid value') and it limits no threads; export OMP_NUM_THREADS=2")]
    for fine in ("3", "4,2", ""):
        assert not [c for c in environment_checks({"omp_num_threads": fine, "usable_cores": 4}, workers=1)
                    if "OMP_NUM_THREADS" in c.message]


def test_run_says_when_threads_oversubscribe(tiny_ckpt, tmp_path):
    """dt run --threads N above the usable cores ran oversubscribed without a word (999 threads on 2 cores: 0.2 FPS
    instead of 30) while dt eval and dt bench name it; now its summary does, with the count that fits."""
    import os

    cores = len(os.sched_getaffinity(0))
    args = ["run", str(bundled_video("carphone_pristine.mp4")), "-m", str(tiny_ckpt), "--device", "cpu",
            "--init", "60,40,40,50", "--max-frames", "2"]
    res = CliRunner().invoke(app, [*args, "--threads", str(cores + 1)])
    assert res.exit_code == 0, res.output
    assert (f"note: threads: --threads {cores + 1} x 1 worker(s) > {cores} usable cores: oversubscribed, expect "
            f"stalls, which slow the FPS above; pass --threads {cores} or fewer") in res.output
    res = CliRunner().invoke(app, [*args, "--threads", str(cores)])
    assert res.exit_code == 0 and "threads:" not in res.output, res.output


def test_absurd_thread_counts_are_refused_before_any_work(tiny_ckpt, tmp_path):
    """--threads 999 was taken by every command (the cap was 1024): dt run on 2 cores tracked at 0.4 FPS with a note
    only, and dt demo made its data set and exported its models before dt bench refused it at step 3. Over 256 (or
    the usable cores, where there are more) is now one line and exit 2 before anything is made; 256 itself still
    runs, oversubscribed, as a CI box of 2 cores may ask for 4."""
    from droptrack.data import generate_synth

    with pytest.raises(InputError, match=r"^--threads 999 is more than 256 \(this machine has 2 usable cores\); "
                                         r"pass fewer, e.g. --threads 2$"):
        plan_threads(999, usable=2)
    assert plan_threads(256, usable=2).oversubscribed and plan_threads(300, usable=512).threads == 300
    video = str(bundled_video("carphone_pristine.mp4"))
    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    for args in (["run", video, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,40,40,50", "-o", tmp_path / "b.txt"],
                 ["serve", video, "-m", tiny_ckpt, "--device", "cpu", "--port", "0"],
                 ["eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "-o", tmp_path / "r"],
                 ["bench", tiny_ckpt, "--data", video, "--init", "60,40,40,50", "--frames", "4"],
                 ["demo", "-o", tmp_path / "demo"]):
        res = CliRunner().invoke(app, [*map(str, args), "--threads", "999"])
        lines = res.output.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1, (args[0], res.output)
        assert lines[0].startswith("error: --threads 999 is more than"), (args[0], res.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]   # no results, boxes or demo folder made
