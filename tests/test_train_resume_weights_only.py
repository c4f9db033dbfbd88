"""dt train --resume over a last.pt that is not a training state dt train saved."""

from __future__ import annotations

import torch

from helpers import cli


def test_dt_train_resume_from_a_weights_only_last_pt_says_what_it_is(tmp_path, synth):
    """A last.pt that holds weights alone (a model file copied there) was refused as 'KeyError: 'net''; the line
    now says it is no training state and names --pretrained for starting from it. The file is left alone."""
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"backbone.pos_embed_x": torch.zeros(1, 4, 8)}, out / "last.pt")
    r = cli("train", "-c", "tiny_ce_test", "--data", synth, "--batch-size", "2", "--samples-per-epoch", "4",
            "--workers", "0", "--device", "cpu", "--threads", "1", "-o", out, "--epochs", "1", "--resume")
    lines = r.stderr.splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot resume"), r.output
    assert "not a checkpoint to resume; pass it as --pretrained" in lines[0] and "KeyError" not in lines[0], lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"]
