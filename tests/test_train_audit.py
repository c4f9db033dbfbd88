"""`dt train` on small sets in the official layouts: odd data trains, bad data is a one-line error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from droptrack.cli import app
from helpers import train_config


def write_got10k(root: Path, sequences: int = 2, frames: int = 20) -> Path:
    """A GOT-10k train split of moving red boxes (160x120 frames)."""
    rng = np.random.default_rng(0)
    split = root / "train"
    names = []
    for s in range(sequences):
        name = f"GOT-10k_Train_{s + 1:06d}"
        names.append(name)
        d = split / name
        d.mkdir(parents=True)
        bg = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
        rows = []
        for i in range(frames):
            x, y = 40 + i, 30 + i // 2
            im = bg.copy()
            cv2.rectangle(im, (x, y), (x + 30, y + 25), (0, 0, 255), -1)
            cv2.imwrite(str(d / f"{i + 1:08d}.jpg"), im)
            rows.append(f"{x},{y},30,25")
        (d / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    (split / "list.txt").write_text("\n".join(names) + "\n")
    return root


def config(tmp: Path, names: list[str]) -> Path:
    """tiny_ce_test training on the given official dataset names."""
    return train_config(tmp, *names)


def dt_train(tmp: Path, cfg: Path, out: Path, *args: str):
    return CliRunner().invoke(app, ["train", "-c", str(cfg), "-o", str(out), "--epochs", "1", "--batch-size", "2",
                                    "--samples-per-epoch", "2", "--device", "cpu", "--seed", "1", *args])


@pytest.fixture()
def got10k(tmp_path) -> Path:
    return write_got10k(tmp_path / "got10k")


def test_corrupt_frame_in_a_worker_process_is_a_one_line_error(tmp_path, got10k):
    for f in (got10k / "train").glob("*/*.jpg"):
        f.write_bytes(b"not a jpeg")
    r = dt_train(tmp_path, config(tmp_path, ["GOT10K_train_full"]), tmp_path / "out", "--workers", "1",
                 "--data", f"GOT10K_train_full={got10k}")
    assert r.exit_code == 2, r.output
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("error: 100 samples in a row at index 0 could not be used, 100 for an unreadable frame "
                           "(the latest: frame ") and "cannot be decoded" in last and "Traceback" not in last, last


def test_a_configured_dataset_without_usable_sequences_is_refused_before_training(tmp_path, got10k):
    cfg = config(tmp_path, ["GOT10K_train_full", "LASOT"])
    (tmp_path / "lasot").mkdir()   # empty root: the mix would silently train on GOT-10k alone
    r = dt_train(tmp_path, cfg, tmp_path / "out", "--data", f"GOT10K_train_full={got10k}",
                 "--data", f"LASOT={tmp_path / 'lasot'}")
    lasot = tmp_path / "lasot"
    assert r.exit_code == 2 and r.output.startswith(f"error: training dataset LASOT: no sequences under '{lasot}' "
                                                    f"(from --data LASOT={lasot}); it should hold <class>/"), r.output
    for d in (got10k / "train").glob("GOT*"):
        (d / "absence.label").write_text("1\n" * 20)   # target absent in every frame
    r = dt_train(tmp_path, config(tmp_path, ["GOT10K_train_full"]), tmp_path / "out2",
                 "--data", f"GOT10K_train_full={got10k}")
    assert r.exit_code == 2 and r.output.startswith("error: training dataset GOT10K_train_full has no usable"), r.output
    assert not (tmp_path / "out2" / "config.yaml").exists()


def test_half_written_checkpoints_of_a_killed_run_are_removed_on_resume(tmp_path, got10k):
    cfg = config(tmp_path, ["GOT10K_train_full"])
    out = tmp_path / "out"
    r = dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--samples-per-epoch", "4",
                 "--stop-after", "1")
    assert r.exit_code == 0, r.output
    (out / ".last.pt.k1ll3d.tmp").write_bytes(b"\0" * 100)   # what SIGKILL during a save leaves
    (out / ".checkpoint_ep0001.pt.abc.tmp").write_bytes(b"\0")
    (out / ".notes.tmp").write_text("mine")
    r = dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--samples-per-epoch", "4", "--resume")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob(".*.tmp")) == [".notes.tmp"]


def test_resume_refusal_names_the_changed_nested_config_key(tmp_path, got10k):
    cfg = config(tmp_path, ["GOT10K_train_full"])
    out = tmp_path / "out"
    assert dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--stop-after", "1").exit_code == 0
    r = dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--samples-per-epoch", "4", "--resume")
    assert r.exit_code == 2 and "it was trained with DATA.TRAIN.SAMPLE_PER_EPOCH 2, this run has 4;" in r.output, \
        r.output
    # the refusal names what may change, as the README and FREE_KEYS say (it said only --epochs)
    assert "only --epochs, workers, printing, validation and TEST settings may change" in " ".join(r.output.split())


def test_resume_into_a_folder_holding_only_final_pt_keeps_it(tmp_path, got10k):
    cfg = config(tmp_path, ["GOT10K_train_full"])
    out = tmp_path / "out"
    assert dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}").exit_code == 0
    for p in [out / "last.pt", *out.glob("checkpoint_ep*.pt")]:
        p.unlink()
    before = (out / "final.pt").read_bytes()
    r = dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--resume")
    assert r.exit_code == 2 and "error: cannot resume: " in r.output and "holds only final.pt" in r.output, r.output
    assert (out / "final.pt").read_bytes() == before


def test_val_data_is_checked_before_training_and_real_got10k_val_works(tmp_path, got10k):
    cfg = config(tmp_path, ["GOT10K_train_full"])
    data = ["--data", f"GOT10K_train_full={got10k}"]
    lasot = tmp_path / "lasot" / "cat" / "cat-1"
    lasot.mkdir(parents=True)
    (lasot / "groundtruth.txt").write_text("1,1,5,5\n")
    r = dt_train(tmp_path, cfg, tmp_path / "bad", *data, "--val-data", str(tmp_path / "lasot"))
    assert r.exit_code == 2 and r.output.startswith(f"error: --val-data '{tmp_path / 'lasot'}' has no annotated"), r.output
    assert not (tmp_path / "bad" / "config.yaml").exists()   # failed before training, not after the epoch
    r = dt_train(tmp_path, cfg, tmp_path / "ok", *data, "--val-data", str(got10k / "train"))   # no synth.json
    assert r.exit_code == 0 and "validation AUC" in r.output, r.output


class NprocRun:
    """`dt train --nproc 2` (python -m droptrack) in its own session, stdout and stderr in a file (never a pipe a
    surviving rank could hold open); every process of the run is found by the run's unique output folder."""

    def __init__(self, tmp: Path, got10k: Path, samples: int, print_interval: int = 50, ignored: bool = False):
        import os
        import subprocess
        import sys

        from exec_with import exec_with

        cfg = config(tmp, ["GOT10K_train_full"])
        data = yaml.safe_load(cfg.read_text())
        data["TRAIN"]["PRINT_INTERVAL"] = print_interval
        cfg.write_text(yaml.safe_dump(data))
        self.out, self.log = tmp / "out", tmp / "dt_output.txt"
        cmd = [sys.executable, "-m", "droptrack", "train", "-c", str(cfg), "-o", str(self.out), "--epochs", "1",
               "--batch-size", "1", "--samples-per-epoch", str(samples), "--device", "cpu", "--workers", "0",
               "--nproc", "2", "--data", f"GOT10K_train_full={got10k}"]
        # pytest started from a background job of a script (`cmd &`, as a CI runner may) inherits SIGINT ignored:
        # set as asked (`ignored`: as such a job starts dt), whatever pytest inherited
        signals = {"ignored_signals": ("INT",), "default_signals": ("TERM",)} if ignored else {
            "default_signals": ("INT", "TERM")}
        with open(self.log, "w") as f:
            self.dt = subprocess.Popen(exec_with(cmd, **signals), stdout=f,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       env={**os.environ, "OMP_NUM_THREADS": "1",   # a frozen rank: SIGKILL
                                            "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "2"})   # after 2 s, not dt's 10

    def processes(self) -> dict[tuple[int, str], list[str]]:
        """{(pid, start time): argv} of the live processes of this run (dt, the launcher, the ranks)."""
        found = {}
        for d in Path("/proc").glob("[0-9]*"):
            try:
                argv = (d / "cmdline").read_bytes().decode(errors="replace").split("\0")
                state, start = (d / "stat").read_text().rsplit(")", 1)[1].split()[0::19][:2]
            except (OSError, ValueError, IndexError):
                continue
            if (str(self.out) in argv or f"--output={self.out}" in argv) and state != "Z":   # dt; launcher, ranks
                found[(int(d.name), start)] = argv
        return found

    def ranks(self) -> list[tuple[int, str]]:
        """The live rank processes (`python [-u] -m droptrack.train`, not torchrun's `-m torch.distributed.run
        ... -m droptrack.train`), as (pid, start time)."""
        return [k for k, argv in self.processes().items()
                if "-m" in argv[:3] and argv[argv.index("-m") + 1] == "droptrack.train"]

    def wait(self, timeout: float) -> int | None:
        """dt's exit code, or None when it is still running after `timeout` seconds."""
        import subprocess

        try:
            return self.dt.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_all(self) -> None:
        """SIGKILL every process of the run (dt's session, the launcher's and the ranks' are all different)."""
        import os
        import signal

        for pid, _ in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.dt.wait()

    def output(self) -> str:
        """Everything dt, the launcher and the ranks printed."""
        return self.log.read_text(errors="replace")


def test_nproc_2_failure_is_the_ranks_one_line_errors_without_torchrun_report(tmp_path, got10k):
    """Both ranks meet the undecodable frames: each says one line, its own error, or, when torchrun's agent stopped it
    once the other had failed (before its own error or its collective told it), the launcher's peer line for it."""
    for f in (got10k / "train").glob("*/*.jpg"):
        f.write_bytes(b"not a jpeg")
    run = NprocRun(tmp_path, got10k, samples=2)
    try:
        code = run.wait(timeout=150)
        left = run.ranks()
    finally:
        run.kill_all()
    text = run.output()
    assert code == 2 and not left, (code, left, text[-3000:])
    assert "Traceback" not in text and "ChildFailedError" not in text and "exitcode" not in text, text[-3000:]
    assert "epoch 1/1" not in text, text   # rank 0's bar: drawn to a file at its end, it once split rank 1's line
    errors = [ln for ln in text.splitlines() if "error" in ln.lower()]
    own = [ln for ln in errors if ln.startswith("error: 100 samples in a row at index ") and "cannot be decoded" in ln]
    peer = [ln for ln in errors if ln in (f"error: rank {r} stopped: another process of this run failed (its error is "
                                          "printed too)" for r in (0, 1))]
    assert own and len(errors) == 2 and len(own) + len(peer) == 2, text


@pytest.mark.parametrize("sig, freeze_a_rank, ignored", [("SIGINT", False, False), ("SIGTERM", True, False),
                                                         ("SIGINT", False, True)])
def test_nproc_2_signal_to_dt_alone_stops_every_rank(tmp_path, got10k, sig, freeze_a_rank, ignored):
    """The signal goes to the dt process only (as `kill -INT <pid>` from a supervisor, not a terminal's Ctrl-C to
    the whole group), once both ranks train: train.log's first line (PRINT_INTERVAL 1) follows an iteration that
    both ranks' gradients were averaged in. With one rank frozen (SIGSTOP: it cannot react, and the other one is
    soon blocked in the gradient all-reduce, where no signal handler runs) every rank must still be gone. A SIGINT
    inherited as ignored (`dt train --nproc 2 &` in a script) stops it too: dt holds it for its launcher."""
    import os
    import signal
    import time

    run = NprocRun(tmp_path, got10k, samples=100000, print_interval=1, ignored=ignored)
    try:
        deadline = time.monotonic() + 150
        while not (run.out / "train.log").is_file() or not (run.out / "train.log").read_text().strip():
            assert run.dt.poll() is None and time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.2)
        ranks = run.ranks()
        assert len(ranks) == 2, (run.processes(), run.output()[-3000:])
        if freeze_a_rank:
            os.kill(ranks[1][0], signal.SIGSTOP)
        run.dt.send_signal(getattr(signal, sig))
        code = run.wait(timeout=90)
        survivors = [r for r in ranks if r in run.ranks()]
    finally:
        run.kill_all()
    text = run.output()
    assert code == 128 + getattr(signal, sig) and not survivors, (code, survivors, text[-3000:])
    assert "Traceback" not in text and "ChildFailedError" not in text, text[-3000:]
    if sig == "SIGINT":
        assert "interrupted" in text, text[-3000:]


def test_nproc_2_sigkill_of_dt_stops_the_launcher_and_every_rank(tmp_path, got10k):
    """SIGKILL of `dt train --nproc 2` (no handler runs: an OOM killer, `kill -9`) left the launcher, in a session of
    its own, and its ranks training on; the launcher now gets SIGTERM when dt dies (Linux PR_SET_PDEATHSIG) and stops
    its ranks as for `kill dt`."""
    import os
    import signal
    import sys
    import time

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    run = NprocRun(tmp_path, got10k, samples=100000)
    try:
        deadline = time.monotonic() + 60
        while len(run.ranks()) < 2:             # both ranks started (the launcher and torchrun too)
            assert run.dt.poll() is None and time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.2)
        os.kill(run.dt.pid, signal.SIGKILL)
        run.dt.wait()
        deadline = time.monotonic() + 45       # torchrun's grace (GRACE_S) for the ranks, then SIGKILL
        while run.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = run.processes()
    finally:
        run.kill_all()
    assert not left, (left, run.output()[-3000:])


def test_resume_from_a_foreign_pickle_says_dt_train_did_not_write_it(tmp_path, got10k):
    import types

    import torch

    cfg = config(tmp_path, ["GOT10K_train_full"])
    out = tmp_path / "out"
    assert dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--stop-after", "1").exit_code == 0
    for p in [out / "last.pt", *out.glob("checkpoint_ep*.pt")]:
        if p.exists():
            torch.save({"args": types.SimpleNamespace(lr=1e-4), "epoch": 1}, p)
    before = {p.name: p.read_bytes() for p in out.glob("*.pt")}
    r = dt_train(tmp_path, cfg, out, "--data", f"GOT10K_train_full={got10k}", "--resume")
    line = " ".join(r.output.split())
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    # the reason is whole (it was cut at 80 characters, mid-word) and offers no option that does not apply here
    assert "last.pt (holds code-bearing objects: not a checkpoint dt train wrote; not loaded)" in line, line
    assert "--trust-checkpoint" not in line, line
    assert {p.name: p.read_bytes() for p in out.glob("*.pt")} == before
