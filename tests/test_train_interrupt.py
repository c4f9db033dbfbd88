"""Stopping `dt train` and going on: Ctrl-C names the checkpoint to --resume from (or says to start again), a stop
while validating keeps the finished epoch, a resumed run fills in the epoch checkpoint the stopped one did not write,
and train.log marks where the resumed run continues."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from droptrack.cli import app

runner = CliRunner()


def dt_train(out: Path, synth: Path, *extra: str):
    return runner.invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data", str(synth),
                               "--epochs", "3", "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0",
                               "--device", "cpu", *extra])


def interrupted_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 130 and "Traceback" not in result.output, result.output
    return lines[-1]


def test_interrupt_after_a_checkpoint_names_it_and_resume(synth, tmp_path, monkeypatch):
    import droptrack.train.trainer as trainer

    out = tmp_path / "run"
    assert dt_train(out, synth, "--stop-after", "2").exit_code == 0   # a real run that wrote last.pt

    def ctrl_c(opts):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", ctrl_c)
    line = interrupted_line(dt_train(out, synth, "--resume"))
    assert line == (f"interrupted; run the same command with --resume to continue from {out / 'last.pt'} (saved at "
                    "each epoch's end, at the iteration a stop signal or Ctrl-C ended, and every N iterations with "
                    "--save-interval N)")


def test_interrupt_before_any_checkpoint_says_start_again(synth, tmp_path, monkeypatch):
    import droptrack.train.trainer as trainer

    def ctrl_c(opts):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", ctrl_c)
    line = interrupted_line(dt_train(tmp_path / "fresh", synth))
    assert line == "interrupted; no checkpoint was written yet; run the same command again to start over"


def test_interrupt_during_validation_keeps_the_finished_epoch(synth, tmp_path, monkeypatch):
    """Validation runs after an epoch's last iteration and can take minutes; Ctrl-C there lost the whole epoch (its
    checkpoint came after validation). The epoch is saved first, and the resumed run goes on from the next one."""
    import torch

    import droptrack.train.validate as validate

    def ctrl_c(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "validation_auc", ctrl_c)
    out = tmp_path / "run"
    line = interrupted_line(dt_train(out, synth, "--epochs", "1", "--val-data", str(synth)))
    assert line.endswith(f"--resume to continue from {out / 'last.pt'} (saved at each epoch's end, at the "
                         "iteration a stop signal or Ctrl-C ended, and every N iterations with --save-interval N)"
                         ), line
    last = torch.load(out / "last.pt", weights_only=True)
    assert (last["epoch"], last["iteration"], len(last["history"])) == (1, 2, 1)
    monkeypatch.setattr(validate, "validation_auc", lambda *args, **kw: 0.5)
    result = dt_train(out, synth, "--epochs", "2", "--val-data", str(synth), "--resume")
    assert result.exit_code == 0 and "resumed from" in result.output and "at epoch 2" in result.output, result.output


def test_a_resumed_run_writes_the_epoch_checkpoint_the_stopped_one_did_not(synth, tmp_path):
    """Stopped after last.pt and before checkpoint_ep0002.pt (while validating, or between the two writes): the
    resumed run restores that kept epoch from last.pt instead of leaving a hole in the epoch checkpoints."""
    import torch

    out = tmp_path / "run"
    assert dt_train(out, synth, "--epochs", "2").exit_code == 0
    (out / "final.pt").unlink()
    (out / "checkpoint_ep0002.pt").unlink()
    held = (out / "last.pt").read_bytes()
    result = dt_train(out, synth, "--epochs", "3", "--resume")
    assert result.exit_code == 0, result.output
    assert "checkpoint_ep0002.pt (the earlier run stopped before writing it) restored from last.pt" in result.output
    assert (out / "checkpoint_ep0002.pt").read_bytes() == held
    assert sorted(p.name for p in out.glob("checkpoint_ep*.pt")) == [f"checkpoint_ep000{i}.pt" for i in (1, 2, 3)]
    assert torch.load(out / "checkpoint_ep0002.pt", weights_only=True)["epoch"] == 2


def test_train_log_marks_where_a_resumed_run_continues_and_keeps_validation(synth, tmp_path, monkeypatch):
    """train.log held only the iteration lines: a run resumed mid-epoch logged the earlier run's last lines again
    with nothing to say so, and the epoch summaries and validation AUC were only on the terminal."""
    import droptrack.train.validate as validate

    monkeypatch.setattr(validate, "validation_auc", lambda *args, **kw: 0.625)
    out = tmp_path / "run"
    common = ["--epochs", "2", "--val-data", str(synth)]
    assert dt_train(out, synth, *common, "--stop-after", "3").exit_code == 0   # epoch 2, iteration 1
    assert dt_train(out, synth, *common, "--resume").exit_code == 0
    lines = [ln.split(" loss ")[0] for ln in (out / "train.log").read_text().splitlines()]
    assert lines == ["[epoch 1: 2/2]", "epoch 1/2:",   # PRINT_INTERVAL 50: an epoch's last iteration only
                     f"resumed from {out / 'last.pt'} at epoch 2, iteration 2", "[epoch 2: 2/2]",
                     "epoch 2: validation AUC 0.625", "epoch 2/2:"], lines


def test_a_run_stopped_while_validating_validates_that_epoch_when_resumed(synth, tmp_path, monkeypatch):
    """Stopped during epoch 1's validation, the resumed run went straight on to epoch 2: epoch 1 had no validation
    AUC in the history, checkpoint_ep0001.pt or train.log. It validates epoch 1 first, as the uninterrupted run."""
    import torch

    import droptrack.train.validate as validate

    args = ("--epochs", "2", "--val-data", str(synth), "--val-every", "1")
    full = tmp_path / "full"
    assert dt_train(full, synth, *args).exit_code == 0
    real = validate.validation_auc

    def ctrl_c(*a, **kw):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(validate, "validation_auc", ctrl_c)
    interrupted_line(dt_train(out, synth, *args))
    monkeypatch.setattr(validate, "validation_auc", real)
    result = dt_train(out, synth, *args, "--resume")
    assert result.exit_code == 0, result.output

    def history(path: Path) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "it_per_s"}
                for h in torch.load(path, weights_only=True)["history"]]

    assert history(out / "final.pt") == history(full / "final.pt")
    assert "val_auc" in history(out / "checkpoint_ep0001.pt")[0]
    a, b = (torch.load(d / "final.pt", weights_only=True)["net"] for d in (full, out))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "train.log").read_text().count("epoch 1: validation AUC") == 1
