"""`dt train --pretrained` of weights saved with a foreign object beside them (a training script's
types.SimpleNamespace of its args): the refusal named --trust-checkpoint for other commands and, 'elsewhere', a dt
export conversion that refuses pretraining weights ('not a tracking checkpoint ... use dt train --pretrained'), so
no command read the file. dt train now takes --trust-checkpoint: the object is read as an inert record, the weights
land on their keys."""

from __future__ import annotations

import re
import types

import torch
from helpers import cli, one_line_error

TINY = ["--epochs", "1", "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu",
        "--max-iters", "1"]


def test_pretrained_weights_with_a_foreign_object_train_with_trust_checkpoint(tmp_path, synth, caplog):
    g = torch.Generator().manual_seed(4)
    weights = {"patch_embed.proj.weight": torch.randn(64, 3, 16, 16, generator=g),
               "patch_embed.proj.bias": torch.zeros(64)}
    for i in range(4):   # tiny_ce_test: width 64, depth 4
        weights.update({f"blocks.{i}.attn.qkv.weight": torch.randn(192, 64, generator=g) * 0.02,
                        f"blocks.{i}.attn.qkv.bias": torch.zeros(192)})
    path = tmp_path / "vit_args.pth"
    torch.save({"model": weights, "args": types.SimpleNamespace(lr=1e-4, epochs=800)}, path)
    base = ["train", "-c", "tiny_ce_test", "--data", f"SYNTH={synth}", "--pretrained", path, *TINY]
    line = one_line_error(cli(*base, "-o", tmp_path / "refused"))
    named = re.search(r"pass --trust-checkpoint \(([^)]*)\)", line)
    assert named and "dt train" in named.group(1).split(", "), line
    assert not (tmp_path / "refused").exists()
    result = cli(*base, "-o", tmp_path / "run", "--trust-checkpoint")
    assert result.exit_code == 0, result.output
    assert "types.SimpleNamespace read as plain data records" in caplog.text
    assert "0 unexpected keys" in result.output and (tmp_path / "run" / "last.pt").is_file()
