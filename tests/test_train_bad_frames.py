"""A corrupt frame met in the middle of `dt train` skips that sample (drawn again) instead of stopping the run: each
unreadable file is named once, in the output and in train.log, the run says how many samples it skipped, and it stops
in one line only when too many different frames fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.errors import TrainingError
from droptrack.train.badframes import BadFrames

runner = CliRunner()


def damaged_copy(synth: Path, dest: Path, names: list[str]) -> Path:
    """A copy of the set whose files `names` (relative) are JPEGs with their header overwritten (undecodable)."""
    shutil.copytree(synth, dest)
    for name in names:
        data = (dest / name).read_bytes()
        (dest / name).write_bytes(b"\0" * 64 + data[64:])
    return dest


def dt_train(out: Path, data: Path, *extra: str, samples: str = "16"):
    return runner.invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data", str(data),
                               "--epochs", "2", "--batch-size", "4", "--samples-per-epoch", samples, "--workers", "0",
                               "--seed", "3", "--device", "cpu", *extra])


def test_one_corrupt_jpeg_is_skipped_and_named_once(synth, tmp_path):
    """Frame 5 of the second sequence is drawn several times with --seed 3 (it is in 6 of the first pairs' draws):
    the run finishes, the file is named in one warning line, and train.log holds that line and the count."""
    bad = "synth_train_00002/00000005.jpg"
    data = damaged_copy(synth, tmp_path / "data", [bad])
    out = tmp_path / "run"
    result = dt_train(out, data)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert (out / "final.pt").is_file()
    warned = [ln for ln in result.output.splitlines() if ln.startswith("warning: skipped a training sample")]
    assert warned == [f"warning: skipped a training sample: frame {data / bad} cannot be decoded (corrupt or not an "
                      "image); re-download it (1 unreadable frame(s) so far; the run stops past 50)"], result.output
    summary = [ln for ln in result.output.splitlines() if "drawn again" in ln]
    assert len(summary) == 1 and summary[0].endswith(" because 1 frame(s) could not be read (named in train.log); "
                                                     "repair or re-download them"), summary
    skipped = int(summary[0].split()[0])
    assert skipped >= 2, summary   # met more than once, named once
    log = (out / "train.log").read_text().splitlines()
    assert log.count(warned[0]) == 1 and summary[0] in log


def test_resume_over_a_corrupt_frame_repeats_the_uninterrupted_run(synth, tmp_path):
    """The samples drawn again are the same on every run, so a run stopped and resumed still equals one that was not."""
    import torch

    data = damaged_copy(synth, tmp_path / "data", ["synth_train_00002/00000005.jpg"])
    full, part = tmp_path / "full", tmp_path / "part"
    assert dt_train(full, data).exit_code == 0
    assert dt_train(part, data, "--stop-after", "3").exit_code == 0
    assert dt_train(part, data, "--resume").exit_code == 0
    a = torch.load(full / "final.pt", weights_only=True)["net"]
    b = torch.load(part / "final.pt", weights_only=True)["net"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_set_of_unreadable_frames_stops_in_one_line(synth, tmp_path):
    data = damaged_copy(synth, tmp_path / "data", [str(p.relative_to(synth)) for p in synth.glob("*/*.jpg")])
    result = dt_train(tmp_path / "run", data)
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert lines[-1].startswith("error: 100 samples in a row at index 0 could not be used, 100 for an unreadable "
                                f"frame (the latest: frame {data}"), lines[-1]
    assert lines[-1].endswith("); repair or re-download the dataset"), lines[-1]


def test_more_different_bad_frames_than_the_limit_stop_the_run():
    """Counted by hand: a frame met again is not named again; the third different one is past a limit of 2."""
    bad = BadFrames(limit=2, then=lambda: "run the same command with --resume")
    assert bad.summary() is None
    assert bad.add(["frame a.jpg is bad", "frame a.jpg is bad"]) == [
        "warning: skipped a training sample: frame a.jpg is bad (1 unreadable frame(s) so far; the run stops past 2)"]
    assert len(bad.add(["frame b.jpg is bad"])) == 1 and bad.add(["frame a.jpg is bad"]) == []
    assert bad.summary() == ("4 training sample(s) drawn again because 2 frame(s) could not be read (named in "
                             "train.log); repair or re-download them")
    with pytest.raises(TrainingError) as err:
        bad.add(["frame c.jpg is bad"])
    assert str(err.value) == ("3 different training frames could not be read (the run stops past 2; the latest: frame "
                              "c.jpg is bad); repair or re-download the dataset (train.log names each file), then run "
                              "the same command with --resume")


@pytest.mark.parametrize("folder", ["val", "val[/x]"])   # a path is printed as text, never read as rich markup
def test_a_corrupt_validation_frame_leaves_its_sequence_out_instead_of_ending_the_run(synth, tmp_path, folder):
    """--val-data with one corrupt frame stopped the run at its first validation (after a whole epoch); now that
    sequence is left out, named once in the run, and each validation line says so."""
    val = damaged_copy(synth, tmp_path / folder, ["synth_train_00002/00000007.jpg"])
    out = tmp_path / "run"
    result = dt_train(out, synth, "--val-data", str(val), "--val-every", "1", samples="4")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    log = (out / "train.log").read_text().splitlines()
    named = [ln for ln in log if ln.startswith("warning: validation leaves out")]
    assert named == [f"warning: validation leaves out sequence synth_train_00002 (frame "
                     f"{val / 'synth_train_00002/00000007.jpg'} cannot be decoded (corrupt or not an image); "
                     "re-download it)"], log
    aucs = [ln for ln in log if ": validation AUC " in ln]
    assert len(aucs) == 2 and all(ln.endswith(" (1 unreadable sequence(s) left out)") for ln in aucs), aucs


def test_validation_with_no_readable_sequence_is_one_line(synth, tmp_path):
    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.train.validate import validation_auc

    val = damaged_copy(synth, tmp_path / "val", [f"synth_train_0000{i}/00000001.jpg" for i in (1, 2, 3)])
    cfg = load_config("tiny_ce_test")
    left_out: list[str] = []
    with pytest.raises(TrainingError, match=r"validation: no sequence of --val-data .* could be read \(the first: "
                                            r"synth_train_00001 \(frame "):
        validation_auc(build_model(cfg).eval(), cfg, val, 8, left_out)
    assert [s.split(" ")[0] for s in left_out] == ["synth_train_00001", "synth_train_00002", "synth_train_00003"]
