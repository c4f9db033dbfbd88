"""dt train killed by SIGKILL while it writes config.yaml (every run, resumed ones too, writes it first): the
--resume rerun removes the killed run's `.config.yaml.<random>.tmp`, as it does a half-written checkpoint's."""

from __future__ import annotations

import signal

from droptrack.data.synth import generate_synth
from helpers import cli, dt_killed_at_replace

# The child (helpers.dt_killed_at_replace) kills itself at os.replace onto config.yaml, before the rename.


def test_resume_after_a_kill_at_config_yaml_removes_its_temporary(tmp_path):
    data = generate_synth(tmp_path / "train", sequences=2, frames=20, seed=0, size=(96, 96))
    out = tmp_path / "run"
    args = ["train", "--config", "tiny_ce_test", "--data", str(data), "--epochs", "1", "--samples-per-epoch", "4",
            "--batch-size", "2", "--workers", "0", "--device", "cpu", "--threads", "1", "--output", str(out)]
    r = cli(*args, "--stop-after", "1")
    assert r.exit_code == 0, r.output
    proc = dt_killed_at_replace("config.yaml", *args, "--resume", timeout=300, OMP_NUM_THREADS="1")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert any(p.name.startswith(".config.yaml.") for p in out.iterdir()), "the hook did not fire where intended"
    r = cli(*args, "--resume")
    assert r.exit_code == 0, r.output
    assert (out / "final.pt").is_file()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
