"""Resume is bit-exact mid-epoch with drop path 0.1 and 2 DDP processes; a corrupt last.pt falls back."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch
import yaml

from droptrack.train.trainer import TrainOptions, train


@pytest.fixture(scope="module")
def drop_path_config(tmp_path_factory) -> Path:
    """tiny_ce_test with the official drop path rate 0.1 (every step draws random numbers)."""
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["TRAIN"]["DROP_PATH_RATE"] = 0.1
    path = tmp_path_factory.mktemp("cfg") / "tiny_dp.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ddp_start(args: list[str], log: Path) -> tuple[subprocess.Popen, Path]:
    """A 2-process `dt train` started in the background, its stderr going to `log` (no pipe to fill up)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                                 "-m", "droptrack.train", *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
    return proc, log


def _ddp_wait(started: tuple[subprocess.Popen, Path]) -> None:
    proc, log = started
    assert proc.wait() == 0, log.read_text()[-2000:]


def _ddp(args: list[str], log: Path) -> None:
    _ddp_wait(_ddp_start(args, log))


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


@pytest.mark.slow
def test_two_process_mid_epoch_resume_with_drop_path_is_bit_exact(tmp_path, synth, drop_path_config):
    common = ["--config", str(drop_path_config), "--data", str(synth), "--epochs", "2", "--samples-per-epoch", "24",
              "--batch-size", "4", "--workers", "0", "--seed", "7", "--device", "cpu", "--threads", "1"]
    full, part = tmp_path / "full", tmp_path / "part"
    # the uninterrupted run and the interrupted one are independent (own folders; the data is only read): both at
    # once, as each spends much of its time starting up and waiting for its other process
    runs = [_ddp_start([*common, "--output", str(full)], tmp_path / "full.err"),
            _ddp_start([*common, "--output", str(part), "--stop-after", "4"], tmp_path / "part.err")]
    for proc, _ in runs:   # both ended before either is judged (no run left behind)
        proc.wait()
    for run in runs:   # --stop-after 4 with 3 iterations/epoch: stops at epoch 2, it 1
        _ddp_wait(run)
    mid = _load(part / "last.pt")
    assert (mid["epoch"], mid["iteration"]) == (2, 1) and not (part / "final.pt").exists()
    assert len(mid["rng"]) == 2 and not torch.equal(mid["rng"][0]["cpu"], mid["rng"][1]["cpu"])
    _ddp([*common, "--output", str(part), "--resume"], tmp_path / "resume.err")
    a, b = _load(full / "final.pt"), _load(part / "final.pt")
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert all(torch.equal(a["net"][k], b["net"][k]) for k in a["net"])


def test_corrupt_last_falls_back_to_newest_intact_epoch_checkpoint(tmp_path, synth, capsys):
    def opts(out: Path, **kw) -> TrainOptions:
        return TrainOptions(config="tiny_ce_test", output=out, data=[str(synth)], epochs=3, batch_size=4,
                            samples_per_epoch=8, workers=0, seed=3, device="cpu", **kw)

    full = tmp_path / "full"
    train(opts(full, quiet=True))
    part = tmp_path / "part"
    train(opts(part, stop_after=4, quiet=True))  # 2 iterations/epoch: stops after epoch 2
    (part / "last.pt").write_bytes(b"not a checkpoint")
    (part / "checkpoint_ep0002.pt").write_bytes(b"truncated")
    train(opts(part, resume=True))  # falls back to checkpoint_ep0001.pt and redoes epoch 2
    err = capsys.readouterr().err
    assert "falling back to checkpoint_ep0001.pt" in err and "last.pt" in err
    a, b = _load(full / "final.pt"), _load(part / "final.pt")
    assert all(torch.equal(a["net"][k], b["net"][k]) for k in a["net"])


def test_interval_checkpoint_print_interval_and_config_amp_are_honoured(tmp_path, synth):
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["TRAIN"].update({"PRINT_INTERVAL": 2, "AMP": True})  # official: AMP -> fp16 autocast + GradScaler
    cfg = tmp_path / "amp.yaml"
    cfg.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    train(TrainOptions(config=str(cfg), output=out, data=[str(synth)], epochs=1, batch_size=4, samples_per_epoch=24,
                       workers=0, seed=3, device="cpu", save_interval=2, stop_after=5, quiet=True))
    ck = _load(out / "last.pt")
    assert (ck["epoch"], ck["iteration"]) == (1, 5)  # --stop-after writes its own checkpoint mid-epoch
    assert ck["scaler"] is not None and ck["scaler"]["scale"] > 0
    lines = (out / "train.log").read_text().splitlines()  # a line every PRINT_INTERVAL iterations
    assert [ln.split("]")[0] for ln in lines] == ["[epoch 1: 2/6", "[epoch 1: 4/6"]
