"""dt train keeps what it did not write: --pretrained naming one of the checkpoints it writes in --output is refused
(a resumed run pruned it with --keep-last, or wrote over final.pt), a config.yaml of other settings there is set aside
as config.yaml.N (it was replaced without a word), --pretrained on a resumed run is said to be unused (it printed
'pretrained: 0 missing ...' and resumed over it), and a training frame that decodes despite damage is named once
(dt eval named such files; training used their grey lower half without a word)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from tests.helpers import one_line_error

runner = CliRunner()


def dt_train(out: Path, data: Path, *extra: str):
    return runner.invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data", str(data),
                               "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--seed", "3",
                               "--device", "cpu", "--threads", "1", *extra])


@pytest.mark.parametrize("name", ["checkpoint_ep0001.pt", "final.pt", "last.pt"])
def test_pretrained_among_the_runs_own_checkpoints_is_refused_and_kept(synth, tiny_ckpt, tmp_path, name):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copyfile(tiny_ckpt, out / name)
    before = (out / name).read_bytes()
    line = one_line_error(dt_train(out, synth, "--epochs", "3", "--resume", "--keep-last", "1",
                                   "--pretrained", str(out / name)))
    assert f"--pretrained '{out / name}' is {name} of --output" in line and "copy it out of that folder first" in line
    assert (out / name).read_bytes() == before


def test_a_config_of_other_settings_is_kept_and_pretrained_on_resume_is_said_unused(synth, tiny_ckpt, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    first = dt_train(tmp_path / "ref", synth, "--epochs", "1")
    assert first.exit_code == 0, first.output
    mine = (tmp_path / "ref" / "config.yaml").read_bytes() + b"# my hand-tuned config\n"
    (out / "config.yaml").write_bytes(mine)
    result = dt_train(out, synth, "--epochs", "1", "--pretrained", str(tiny_ckpt))
    assert result.exit_code == 0, result.output
    assert (out / "config.yaml.1").read_bytes() == mine            # replaced before
    assert (out / "config.yaml").read_bytes() != mine
    assert "config.yaml of other settings (a run's or your own) kept as config.yaml.1" in result.output
    again = dt_train(out, synth, "--epochs", "2", "--resume", "--pretrained", str(tiny_ckpt))
    assert again.exit_code == 0, again.output
    assert f"--pretrained {tiny_ckpt} not loaded: --resume goes on from {out / 'last.pt'}" in " ".join(
        again.output.split())
    assert "pretrained: " not in again.output
    assert not (out / "config.yaml.2").exists()   # a resumed run's own config (--epochs changed it): replaced


def test_a_frame_that_decodes_despite_damage_is_named_once(synth, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synth, data)
    for seq in sorted(p for p in data.iterdir() if p.is_dir()):
        for jpg in sorted(seq.glob("*.jpg")):
            raw = jpg.read_bytes()
            jpg.write_bytes(raw[:len(raw) * 2 // 3])   # a cut file: decodes, its lower part grey
    result = dt_train(tmp_path / "run", data, "--epochs", "1")
    assert result.exit_code == 0, result.output
    warned = [ln for ln in result.output.splitlines() if ln.startswith("warning: training frame ")]
    assert warned and len(warned) == len(set(warned)), result.output
    assert "Premature end of JPEG file" in warned[0] and "decoded despite damage, trained on as decoded" in warned[0]
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert warned[0] in log


def test_a_data_folder_with_an_equals_sign_gets_the_fix(synth, tmp_path):
    odd = tmp_path / "eq=data"
    shutil.copytree(synth, odd)
    line = one_line_error(runner.invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(tmp_path / "r"),
                                              "--data", str(odd), "--device", "cpu"]))
    assert f"is a folder: pass --data SYNTH={odd}" in line
