"""`dt train` end to end on a tiny synthetic set: resume is bit-exact (2-process DDP equals one process:
tests/test_train_bad_frames_ddp.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.errors import TrainingError
from droptrack.train.trainer import TrainOptions, train
from helpers import eval_auc


def opts(out: Path, synth: Path, **kw) -> TrainOptions:
    base = dict(config="tiny_ce_test", output=out, data=[str(synth)], epochs=3, batch_size=4, samples_per_epoch=8,
                workers=0, seed=3, quiet=True)
    base.update(kw)
    return TrainOptions(**base)


def losses(out: Path) -> list[float]:
    return [h["loss"] for h in torch.load(out / "last.pt", weights_only=True)["history"]]


def test_kill_and_resume_reproduces_the_uninterrupted_run(tmp_path, synth):
    full = tmp_path / "full"
    train(opts(full, synth))
    part = tmp_path / "part"
    train(opts(part, synth, epochs=2))  # "killed" after epoch 2: only its checkpoints remain
    (part / "final.pt").unlink()
    train(opts(part, synth, resume=True))
    assert losses(part) == losses(full)
    a = torch.load(full / "final.pt", weights_only=True)["net"]
    b = torch.load(part / "final.pt", weights_only=True)["net"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sorted(p.name for p in full.glob("checkpoint_ep*.pt")) == [f"checkpoint_ep000{i}.pt" for i in (1, 2, 3)]
    assert (full / "config.yaml").is_file() and not list(full.glob(".*.tmp"))


def test_corrupt_resume_and_empty_data_are_one_line_errors(tmp_path, synth):
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"garbage")
    with pytest.raises(TrainingError, match="cannot resume"):
        train(opts(out, synth, resume=True))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "list.txt").write_text("")
    result = CliRunner().invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(tmp_path / "x"),
                                      "--data", str(empty), "--epochs", "1"])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


def test_missing_pretrained_file_is_a_one_line_error(tmp_path, synth):
    result = CliRunner().invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(tmp_path / "o"),
                                      "--data", str(synth), "--pretrained", str(tmp_path / "nope.pth")])
    assert result.exit_code == 2 and "not found" in result.output


@pytest.mark.parametrize("name, content, says", [
    ("config.yaml", "my notes, not a dt config\n", "holds config.yaml, which is not a droptrack config"),
    ("tb", "a file\n", "holds a file 'tb', where dt train writes its TensorBoard folder")])
def test_a_users_file_under_a_name_dt_train_writes_is_refused_before_any_work(tmp_path, synth, name, content, says):
    """config.yaml was replaced by the run's without a word; a file tb was a FileExistsError traceback (exit 1)
    after config.yaml had been written."""
    from helpers import one_line_error

    out = tmp_path / "o"
    out.mkdir()
    (out / name).write_text(content)
    line = one_line_error(CliRunner().invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data",
                                                   str(synth), "--epochs", "1", "--samples-per-epoch", "4"]))
    assert says in line, line
    assert [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == content


def test_ignored_data_names_and_output_over_the_data_are_refused(tmp_path, synth):
    """--data FOO=PATH (a name the config does not train on) was silently ignored, so training read other data;
    --output equal to the dataset folder wrote checkpoints and logs into it. Both fail before any work."""
    from droptrack.errors import InputError
    from droptrack.train.options import prepare

    with pytest.raises(TrainingError, match=r"--data FOO=.*the config trains on SYNTH"):
        prepare(opts(tmp_path / "a", synth, data=[f"FOO={synth}"]))
    with pytest.raises(InputError, match="is the dataset folder"):
        prepare(opts(synth, synth))
    assert prepare(opts(tmp_path / "b", synth, data=[f"synth={synth}"])).DATA.TRAIN.DATASETS_NAME == ["SYNTH"]
    result = CliRunner().invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(tmp_path / "c"),
                                      "--data", f"GOT10K={synth}"])
    assert result.exit_code == 2 and result.output.startswith("error: --data got10k=") and not (tmp_path / "c").exists()


def test_a_dataset_root_given_twice_is_refused_not_silently_dropped(tmp_path, synth):
    """`--data A --data B` trained on B alone (A was overwritten in the mapping), as did SYNTH=A with synth=B."""
    from droptrack.train.options import prepare

    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(TrainingError) as err:
        prepare(opts(tmp_path / "a", synth, data=[str(synth), str(other)]))
    assert str(err.value) == (f"--data SYNTH is given twice ('{synth}' and '{other}'); a dataset has one root: put "
                              "the sequences under one folder (or the folders under one root) and pass it")
    with pytest.raises(TrainingError, match=f"--data SYNTH={synth} and --data synth={other} both give the root"):
        prepare(opts(tmp_path / "a", synth, data=[f"SYNTH={synth}", f"synth={other}"]))
    assert not (tmp_path / "a").exists()


def test_resume_with_other_settings_is_refused(tmp_path, synth):
    """--resume with another seed, batch or data root continued silently, one checkpoint mixing two runs, and a run
    without --resume overwrote the folder's checkpoints; both are refused now, the checkpoint left as it was;
    --epochs may still change."""
    import shutil

    from droptrack.errors import InputError

    out, moved = tmp_path / "run", tmp_path / "copy"
    shutil.copytree(synth, moved)
    train(opts(out, synth, stop_after=1))
    before = (out / "last.pt").read_bytes()
    for kw, was in (({"seed": 4}, "--seed 3"), ({"batch_size": 2}, "TRAIN.BATCH_SIZE 4"),
                    ({"data": [str(moved)]}, "--data"), ({"amp": "bf16"}, "--amp off")):   # named TRAIN.AMP False
        with pytest.raises(TrainingError, match=f"cannot resume from .*last.pt: it was trained with {was}") as err:
            train(opts(out, synth, resume=True, **kw))
        if "amp" in kw:   # the option that continues the run
            assert "(here: --amp off; only --epochs" in str(err.value), str(err.value)
    with pytest.raises(InputError, match=r"holds another training run \(last.pt\); pass --resume"):
        train(opts(out, synth))       # without --resume a fresh run wrote over its checkpoints
    assert (out / "last.pt").read_bytes() == before
    assert train(opts(out, synth, resume=True, epochs=4, workers=1, stop_after=1)).name == "last.pt"
    train(opts(tmp_path / "bf16", synth, amp="bf16", stop_after=1))     # both autocast modes set TRAIN.AMP
    with pytest.raises(TrainingError, match="it was trained with --amp bf16, this run has fp16"):
        train(opts(tmp_path / "bf16", synth, amp="fp16", resume=True))


def test_validation_auc_is_recorded_every_k_epochs(tmp_path, synth):
    out = tmp_path / "val"
    train(opts(out, synth, epochs=2, val_data=synth, val_every=2, val_sequences=1))
    hist = torch.load(out / "last.pt", weights_only=True)["history"]
    assert "val_auc" not in hist[0] and 0.0 <= hist[1]["val_auc"] <= 1.0


def test_epoch_summary_names_the_learning_rate_the_epoch_trained_at(tmp_path, synth):
    """The spec's step schedule, lr(e) = LR x 0.1^floor((e-1)/LR_DROP_EPOCH): tiny_ce_test (LR 4e-4 for a global batch
    of 16, LR_DROP_EPOCH 3) at batch 4 trains epochs 1-3 at 1e-4 and epoch 4 at 1e-5; each epoch's history entry
    (its train.log summary and TensorBoard point) says so, not the rate the scheduler has set for the next epoch."""
    out = tmp_path / "lr"
    train(opts(out, synth, epochs=4))
    hist = torch.load(out / "final.pt", weights_only=True)["history"]
    assert [h["lr"] for h in hist] == pytest.approx([1e-4 * 0.1 ** ((e - 1) // 3) for e in (1, 2, 3, 4)])
    summaries = [line for line in (out / "train.log").read_text().splitlines() if line.startswith("epoch 3/4:")]
    assert len(summaries) == 1 and " lr 0.0001 " in summaries[0]



def test_validation_auc_is_the_auc_dt_eval_reports_for_that_model_and_folder(tmp_path, synth):
    """`dt eval` scores the result files' whole-pixel (truncated) boxes, with the sequences' visibility flags (a frame
    whose target is absent or occluded counts as a miss); validation scored the unrounded boxes of every frame, so
    train.log's AUC and `dt eval`'s for the same checkpoint and folder differed (0.613 and 0.582 on a val set)."""

    from droptrack.data.synth import generate_synth

    held = generate_synth(tmp_path / "held", sequences=2, frames=20, seed=1, size=(160, 120), split="val")
    out = tmp_path / "v"
    train(opts(out, synth, epochs=1, val_data=held, val_every=1))
    val_auc = torch.load(out / "final.pt", weights_only=True)["history"][-1]["val_auc"]
    assert val_auc == pytest.approx(eval_auc(held, out / "final.pt", tmp_path), abs=1e-12)


def test_validation_on_part_of_a_larger_folder_says_so(tmp_path, synth, capsys):
    """Validation tracks the first `val_sequences` (8 from the CLI) annotated sequences; a --val-data folder holding
    more is scored on all of them by the `dt eval` the run's last line suggests, so the run says how many it tracks."""
    train(opts(tmp_path / "part", synth, epochs=1, val_data=synth, val_sequences=2, quiet=False))
    err = capsys.readouterr().err
    assert f"note: validation tracks the first 2 of the 3 annotated sequences in --val-data '{synth}'" in err
    train(opts(tmp_path / "all", synth, epochs=1, val_data=synth, val_sequences=3, quiet=False))
    assert "validation tracks the first" not in capsys.readouterr().err


def test_a_folder_holding_only_final_pt_is_not_sent_to_resume(tmp_path, synth):
    """A run's folder pruned to its final.pt: a fresh run said 'pass --resume to continue it', and --resume then
    refused ('holds only final.pt, nothing to continue'). The first refusal gives the second's advice now."""
    from droptrack.errors import InputError
    from droptrack.train.options import check_options

    out = tmp_path / "run"
    out.mkdir()
    (out / "final.pt").write_bytes(b"a finished run's weights")
    with pytest.raises(InputError, match=r"holds another training run \(final\.pt\); a finished run, nothing to "
                                         r"resume: pass another --output \(and --pretrained to start from it\)"):
        check_options(opts(out, synth))
    assert (out / "final.pt").read_bytes() == b"a finished run's weights"
