"""`dt train` names the checkpoint it wrote: an --output holding control characters reached the terminal raw (an
escape sequence that clears the screen, swallowed from the name where it is not a terminal); it is escaped now, as
in every error line, and the `next:` command quotes it for bash ($'...')."""

from __future__ import annotations

from droptrack.data.synth import generate_synth
from helpers import cli, pasted


def test_the_checkpoint_is_named_with_its_control_characters_escaped(tmp_path):
    data = generate_synth(tmp_path / "train", sequences=2, frames=20, seed=0, size=(96, 72))
    out = tmp_path / "run\x1b[2J"
    res = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", data, "--batch-size", 4, "--samples-per-epoch", 4,
              "--workers", 0, "--device", "cpu", "--epochs", 1)
    assert res.exit_code == 0 and (out / "final.pt").is_file(), res.output
    assert f"checkpoint: {tmp_path}/run\\x1b[2J/final.pt" in res.output.splitlines(), res.output
    nxt = next(ln for ln in res.output.splitlines() if ln.startswith("next: "))   # text, and pastes as that file
    assert "\x1b" not in res.output and pasted(nxt.removeprefix("next: ").split("   (")[0]) == [
        "export", str(out / "final.pt"), "-o", str(out / "export")]


def test_an_unreadable_frame_is_named_with_its_control_characters_escaped(tmp_path):
    """The warning for a training frame that cannot be read names its path (a dataset from elsewhere) on the terminal
    and in train.log: it went there raw."""
    data = generate_synth(tmp_path / "d\x1b[2J", sequences=2, frames=20, seed=0, size=(96, 72))
    for frame in sorted((data / "synth_train_00001").glob("*.jpg")):   # every frame of one sequence undecodable
        frame.write_bytes(b"\0" * 64 + frame.read_bytes()[64:])
    out = tmp_path / "run"
    res = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", data, "--batch-size", 4, "--samples-per-epoch", 4,
              "--workers", 0, "--device", "cpu", "--epochs", 1, "--seed", 3)
    assert res.exit_code == 0, res.output
    warned = [ln for ln in res.output.splitlines() if ln.startswith("warning: skipped a training sample")]
    assert warned and all(f"frame {tmp_path}/d\\x1b[2J/synth_train_00001/" in ln for ln in warned), res.output
    assert "\x1b" not in res.output and "\x1b" not in (out / "train.log").read_text(), res.output


def test_the_interrupted_line_names_the_output_with_control_characters_escaped(tmp_path, monkeypatch):
    import droptrack.train.trainer

    def interrupted(*args, **kwargs):   # Ctrl-C before the first checkpoint
        raise KeyboardInterrupt

    monkeypatch.setattr(droptrack.train.trainer, "train", interrupted)
    data = generate_synth(tmp_path / "train", sequences=2, frames=20, seed=0, size=(96, 72))
    out = tmp_path / "run\x1b[2J"
    out.mkdir()
    (out / "checkpoint_ep0001.pt").write_bytes(b"")   # named by the hint as the one to resume from
    res = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", data, "--device", "cpu")
    assert res.exit_code == 130, res.output
    assert f"{tmp_path}/run\\x1b[2J/checkpoint_ep0001.pt" in res.output and "\x1b" not in res.output, res.output


def test_a_path_with_an_emoji_code_is_named_as_it_reads(tmp_path):
    """rich turned ':smile:' in a name into an emoji in dt train's plain lines (markup off does not stop it): the
    resume line named a checkpoint that does not exist."""
    data = generate_synth(tmp_path / "train", sequences=2, frames=20, seed=0, size=(96, 72))
    out = tmp_path / "run:smile:"
    args = ["train", "-c", "tiny_ce_test", "-o", out, "--data", data, "--batch-size", 4, "--samples-per-epoch", 4,
            "--workers", 0, "--device", "cpu"]
    assert cli(*args, "--epochs", 1).exit_code == 0
    res = cli(*args, "--epochs", 2, "--resume")
    assert res.exit_code == 0, res.output
    resumed = [ln for ln in res.output.splitlines() if ln.startswith("resumed from ")]
    assert resumed and resumed[0].startswith(f"resumed from {out}/"), res.output


def test_the_trainer_s_notes_name_a_path_with_emoji_codes_and_markup_as_it_reads(tmp_path):
    """dt train's own notes (here: --resume with nothing to resume) went through rich's markup and emoji reader:
    ':smile:' in --output became an emoji; the note names the folder as it is, still a warning line."""
    data = generate_synth(tmp_path / "train", sequences=2, frames=20, seed=0, size=(96, 72))
    out = tmp_path / "run:smile:[/b]x"
    res = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", data, "--batch-size", 4, "--samples-per-epoch", 4,
              "--workers", 0, "--device", "cpu", "--epochs", 1, "--resume")
    assert res.exit_code == 0, res.output
    assert f"warning: --resume: no checkpoint under {out} yet, starting fresh" in res.output.splitlines(), res.output
