"""`dt train` leftovers: a refused run (bad --pretrained) makes no output folder; --resume with fewer --epochs than
are done is refused; a fresh run keeps an earlier run's train.log and TensorBoard folder apart; resume compares the
data roots as read (--data, DT_DATA_<NAME> or DT_DATA), not as typed."""

from __future__ import annotations

import shutil
from importlib import resources

import pytest
import torch

from helpers import cli, files_under

TINY = ["--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu"]   # 2 iterations/epoch


def error_line(result) -> str:
    """The last line of a refused run: exit 2, no traceback, the only 'error: ' line (notes may come before)."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert [ln for ln in lines if ln.startswith("error: ")] == lines[-1:], result.output
    return lines[-1]


def test_a_run_refused_for_its_pretrained_file_creates_no_output_folder(tmp_path, synth):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_text("not a checkpoint\n")
    wider = resources.files("droptrack") / "weights" / "droptrack_tiny_synth.pt"   # width 128; tiny_ce_test: 64
    for weights, said in ((tmp_path / "missing.pt", "not found"), (corrupt, "is corrupt"),
                          (wider, "backbone.cls_token (1, 1, 128) vs (1, 1, 64)")):
        out = tmp_path / "runs" / "a"
        line = error_line(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1",
                              "--pretrained", weights))
        assert said in line, line
        assert not (tmp_path / "runs").exists()   # neither the folder nor the parent it would have made
    empty = tmp_path / "empty"   # the same for a data root without sequences (refused after the options)
    empty.mkdir()
    line = error_line(cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "runs" / "a", "--data", empty, *TINY))
    assert "no sequences under" in line and not (tmp_path / "runs").exists(), line
    out = tmp_path / "runs" / "a"   # the same run with usable weights makes it
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1").exit_code == 0
    assert (out / "final.pt").is_file()


def test_an_unwritable_output_is_still_refused_before_any_work(tmp_path, synth):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = error_line(cli("train", "-c", "tiny_ce_test", "-o", blocker / "run", "--data", synth, *TINY))
    assert line.startswith(f"error: --output '{blocker / 'run'}' is not writable (Not a directory)"), line
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_resume_with_fewer_epochs_than_done_is_refused(tmp_path, synth):
    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2").exit_code == 0
    files = files_under(out)
    line = error_line(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1",
                          "--resume"))
    assert line == (f"error: cannot resume from {out / 'last.pt'} with --epochs 1: it has 2 epochs done; pass "
                    "--epochs 2 or more (2 writes final.pt from it as it is), or another --output to start anew"), line
    assert files_under(out) == files   # final.pt not rewritten with 2 epochs
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2", "--resume")
    assert result.exit_code == 0, result.output
    final = torch.load(out / "final.pt", weights_only=True)
    assert final["config"]["TRAIN"]["EPOCH"] == 2 and len(final["history"]) == 2


def test_resume_with_another_process_count_is_refused(tmp_path, synth):
    """A 2-process run's epoch ends at iteration 1 of 2-process batches; a 1-process resume read that as iteration 1
    of 2 and trained half of the finished epoch again (and ran the LR schedule one epoch ahead). The count is now
    recorded (the ranks' own --nproc is 1) and compared like the other settings."""
    out = tmp_path / "run"
    run = ["train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY]
    assert cli(*run, "--epochs", "1").exit_code == 0
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["options"]["world"] == 1
    last["options"]["world"], last["iteration"] = 2, 1   # as `--nproc 2` writes it: 8 samples = 1 global batch
    torch.save(last, out / "last.pt")
    files = files_under(out)
    line = error_line(cli(*run, "--epochs", "2", "--resume"))
    assert line.startswith(f"error: cannot resume from {out / 'last.pt'}: it was trained with --nproc 2, this run "
                           "has 1; resume with the same config and options"), line
    assert files_under(out) == files


def test_stop_after_that_ends_the_last_epoch_finishes_the_run(tmp_path, synth):
    """--stop-after reached exactly at the last epoch's end said 'continue with --resume' and wrote no final.pt:
    a resume had nothing left to train."""
    out = tmp_path / "run"
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1", "--stop-after", "2")
    assert result.exit_code == 0 and (out / "final.pt").is_file(), result.output
    assert "continue with --resume" not in result.output and f"next: dt export {out / 'final.pt'}" in result.output


def test_resume_mid_epoch_past_the_config_epochs_is_refused(tmp_path, synth):
    out = tmp_path / "run"
    run = ["train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY]
    assert cli(*run, "--epochs", "3", "--stop-after", "3").exit_code == 0   # epoch 1, and 1 iteration of epoch 2
    line = error_line(cli(*run, "--epochs", "1", "--resume"))
    assert line == (f"error: cannot resume from {out / 'last.pt'} with --epochs 1: it has 1 epochs done and 1 "
                    "iterations of epoch 2; pass --epochs 2 or more, or another --output to start anew"), line
    assert not (out / "final.pt").exists()
    cfg = tmp_path / "one.yaml"   # TRAIN.EPOCH of the config (no --epochs) is named as such
    cfg.write_text((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text()
                   .replace("  EPOCH: 4\n", "  EPOCH: 1\n"))
    line = error_line(cli("train", "-c", cfg, "-o", out, "--data", synth, *TINY, "--resume"))
    assert f"with TRAIN.EPOCH 1: it has 1 epochs done and 1 iterations of epoch 2; pass --epochs 2" in line, line


def test_a_fresh_run_keeps_an_earlier_runs_log_apart(tmp_path, synth):
    out = tmp_path / "run"
    out.mkdir()
    old = "[epoch 1: 1/100] loss 9.00000 of a run killed before its first checkpoint\n"
    (out / "train.log").write_text(old)
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "train.log of an earlier run (stopped before its first checkpoint) kept as train.log.1" in result.output
    assert (out / "train.log.1").read_text() == old
    new = (out / "train.log").read_text().splitlines()
    assert new and old.strip() not in new and new[-2].startswith("[epoch 1: 2/2] loss ")
    assert new[-1].startswith("epoch 1/1: loss ")   # the epoch's summary line, as printed
    # a resumed run continues its own log; a second leftover goes to the next free name
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2",
               "--resume").exit_code == 0
    both = (out / "train.log").read_text().splitlines()
    assert both[:len(new)] == new and both[len(new)] == f"resumed from {out / 'last.pt'} at epoch 2"
    assert both[-2].startswith("[epoch 2: 2/2] loss ") and both[-1].startswith("epoch 2/2: loss ")
    other = tmp_path / "other"
    other.mkdir()
    (other / "train.log").write_text("second\n")
    (other / "train.log.1").write_text("first\n")
    assert cli("train", "-c", "tiny_ce_test", "-o", other, "--data", synth, *TINY, "--epochs", "1",
               "--resume").exit_code == 0   # --resume with no checkpoint yet starts fresh: the same
    assert (other / "train.log.1").read_text() == "first\n" and (other / "train.log.2").read_text() == "second\n"


def test_resume_compares_the_data_roots_as_read_not_as_given(tmp_path, synth, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(synth, data / "synth")   # $DT_DATA/synth is the SYNTH root
    moved = tmp_path / "moved"
    shutil.copytree(synth, moved)
    out = tmp_path / "run"
    run = ["train", "-c", "tiny_ce_test", "-o", out, *TINY, "--epochs", "2"]
    assert cli(*run, "--data", f"SYNTH={data / 'synth'}", "--stop-after", "1").exit_code == 0
    monkeypatch.setenv("DT_DATA", str(data))   # the same root from the environment: the same data
    result = cli(*run, "--resume", "--stop-after", "1")
    assert result.exit_code == 0 and "resumed from" in result.output, result.output
    monkeypatch.setenv("DT_DATA_SYNTH", str(moved))   # another root from the environment: other data
    before = (out / "last.pt").read_bytes()
    line = error_line(cli(*run, "--resume"))
    assert (f"cannot resume from {out / 'last.pt'}: it was trained with --data SYNTH={data / 'synth'}, this run has "
            f"SYNTH={moved}; resume with the same config") in line, line
    assert (out / "last.pt").read_bytes() == before
    result = cli(*run, "--resume", "--data", str(data / "synth"))   # --data wins over the environment
    assert result.exit_code == 0 and (out / "final.pt").is_file(), result.output
    env_only = ["train", "-c", "tiny_ce_test", "-o", tmp_path / "env", *TINY, "--epochs", "2"]
    assert cli(*env_only, "--stop-after", "1").exit_code == 0   # DT_DATA_SYNTH=moved, no --data
    monkeypatch.setenv("DT_DATA_SYNTH", str(data / "synth"))   # changed between the runs: was resumed silently
    line = error_line(cli(*env_only, "--resume"))
    assert f"it was trained with --data SYNTH={moved}, this run has SYNTH={data / 'synth'};" in line, line


def test_a_fresh_run_keeps_an_earlier_runs_tensorboard_folder_apart(tmp_path, synth):
    """A run started anew into a folder with an earlier run's tb/ (killed before its first checkpoint, or its
    checkpoints deleted to start over) wrote its curves into the same tb/: TensorBoard drew both runs as one."""
    out = tmp_path / "run"
    (out / "tb").mkdir(parents=True)
    (out / "tb.1").mkdir()   # an even earlier run's, set aside before: kept as it is
    (out / "tb.1" / "events.out.tfevents.1.host.1.0").write_bytes(b"first run")
    (out / "tb" / "events.out.tfevents.2.host.2.0").write_bytes(b"second run")
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "TensorBoard folder tb/ of an earlier run kept as tb.2; this run's curves go to a new tb/" in result.output
    assert (out / "tb.2" / "events.out.tfevents.2.host.2.0").read_bytes() == b"second run"
    assert (out / "tb.1" / "events.out.tfevents.1.host.1.0").read_bytes() == b"first run"
    assert not (out / "tb" / "events.out.tfevents.2.host.2.0").exists()
    # a resumed run continues its own tb/: nothing is set aside
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2", "--resume")
    assert result.exit_code == 0 and "TensorBoard folder" not in result.output, result.output
    assert sorted(p.name for p in out.glob("tb*")) == (["tb", "tb.1", "tb.2"] if (out / "tb").exists()
                                                      else ["tb.1", "tb.2"])   # tb/: only with tensorboard


def test_a_resumed_run_that_falls_back_draws_each_epoch_once_in_tensorboard(tmp_path, synth):
    """A corrupt last.pt falls back to an older checkpoint: the epochs after it were drawn twice (old and new)."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2").exit_code == 0
    for name in ("last.pt", "checkpoint_ep0002.pt"):
        (out / name).write_bytes(b"cut short")
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2", "--resume")
    assert result.exit_code == 0 and "falling back to checkpoint_ep0001.pt" in result.output, result.output
    curves = EventAccumulator(str(out / "tb"))
    curves.Reload()
    history = torch.load(out / "final.pt", weights_only=True)["history"]
    points = [(e.step, e.value) for e in curves.Scalars("train/loss")]
    assert [step for step, _ in points] == [1, 2], points   # without the purge step: [1, 2, 2]
    assert [value for _, value in points] == pytest.approx([h["loss"] for h in history], rel=1e-6)


def test_run_lines_print_an_output_path_as_text_not_rich_markup(tmp_path, synth):
    """`--resume` into an output with no checkpoint yet says so naming the folder: a '[/x]' in that path is text
    (rich read it as a closing tag and the run ended in a MarkupError traceback before training)."""
    out = tmp_path / "run[" / "x]"
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "1", "--resume")
    assert result.exit_code == 0 and (out / "final.pt").is_file(), result.output
    assert f"--resume: no checkpoint under {out} yet, starting fresh" in " ".join(result.output.split()), result.output
