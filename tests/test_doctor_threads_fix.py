"""dt doctor's oversubscription warning ended with "or pass --threads", an option dt doctor does not take: it now
names the commands that do, and each of them takes it."""

from __future__ import annotations

from droptrack.engine.doctor import environment_checks
from helpers import cli


def test_the_warning_names_commands_that_take_threads(monkeypatch):
    checks = environment_checks({"omp_num_threads": "16", "usable_cores": 2}, workers=2)
    warn = next(c for c in checks if "oversubscribed" in c.message)
    # 16 x 2 = 32 threads on 2 cores: export 2 // 2 = 1
    assert warn.message.endswith("export OMP_NUM_THREADS=1 or pass --threads to dt eval, dt run or dt bench")
    for command in ("eval", "run", "bench"):
        assert "--threads" in cli(command, "--help").output
    assert "--threads" not in cli("doctor", "--help").output
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    said = " ".join(cli("doctor", "--workers", "1").output.split())   # 64 threads: more than any CI machine has
    assert "or pass --threads to dt eval, dt run or dt bench" in said, said
