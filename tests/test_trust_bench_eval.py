"""A checkpoint that pickles a foreign object (a training script's types.SimpleNamespace of its args) could be read only
by dt run and dt export (--trust-checkpoint): the `dt bench ... --reference CKPT` line dt export printed after
`--trust-checkpoint` was refused, dt eval could not score it, and a bench against the export's model.safetensors (the
same weights, converted by that export) said the two were 'two models'. dt eval and dt bench take the option now,
the printed lines carry it, and model.safetensors names the checkpoint it was converted from."""

from __future__ import annotations

import json
import shlex
import shutil

import numpy as np
import pytest
import torch
from helpers import cli, one_line_error

from droptrack.data.synth import generate_synth

BENCH_CUT = ["--sequences", "1", "--frames", "3", "--threads", "1"]


@pytest.fixture(scope="module")
def exported(with_args, tmp_path_factory):
    """`dt export CKPT --trust-checkpoint --safetensors` into a folder away from the checkpoint: (folder, output)."""
    out = tmp_path_factory.mktemp("exp") / "deploy"
    res = cli("export", with_args, "--trust-checkpoint", "--safetensors", "-o", out)
    assert res.exit_code == 0, res.output
    return out, res.output


def bench_json(folder) -> dict:
    return json.loads((folder / "bench.json").read_text())


def test_the_bench_line_export_prints_runs(with_args, exported, tmp_path):
    out, output = exported
    line = next(ln for ln in output.splitlines() if ln.startswith("next: dt bench"))
    words = shlex.split(line.removeprefix("next: "))
    assert "--trust-checkpoint" in words and words[words.index("--reference") + 1] == str(with_args), line
    res = cli(*words[1:], *BENCH_CUT, "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    report = bench_json(tmp_path / "b")
    assert [r["artifact"] for r in report["references"]] == [str(with_args)]
    assert report["rows"][0]["parity"]["divergence"] == 0.0   # the graph tracks as the checkpoint it came from


def test_the_safetensors_export_made_is_the_same_model_as_its_graphs(exported, tiny_ckpt, tmp_path):
    out, _ = exported
    res = cli("bench", out / "model.onnx", "--reference", out / "model.safetensors", *BENCH_CUT, "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert "two models" not in res.output and bench_json(tmp_path / "b")["references"][0]["artifact"] == str(
        out / "model.safetensors")
    # another model's weights as --reference are still called out
    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.model.checkpoint import save_safetensors

    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    save_safetensors(tmp_path / "other.safetensors", build_model(cfg).eval(), cfg)
    res = cli("bench", out / "model.onnx", "--reference", tmp_path / "other.safetensors", *BENCH_CUT,
              "-o", tmp_path / "b2")
    assert "two models" in res.output, res.output


def test_bench_finds_the_safetensors_beside_a_graph_whose_checkpoint_is_elsewhere(exported, tmp_path):
    out, _ = exported
    alone = tmp_path / "copied"
    alone.mkdir()
    for name in ("model.onnx", "model.safetensors"):
        shutil.copyfile(out / name, alone / name)
    res = cli("bench", alone / "model.onnx", *BENCH_CUT, "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert bench_json(tmp_path / "b")["references"][0]["artifact"] == str(alone / "model.safetensors")
    assert "two models" not in res.output


def test_bench_of_the_checkpoint_itself_and_its_next_line(with_args, tmp_path):
    res = cli("bench", with_args, "--trust-checkpoint", *BENCH_CUT, "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt run"))
    words = shlex.split(line.removeprefix("next: "))
    assert words[words.index("--model") + 1] == str(with_args) and "--trust-checkpoint" in words, line


def test_eval_scores_it_as_the_same_weights_without_the_foreign_object(with_args, tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    base = ["eval", "--dataset", "synth", "--root", root, "--split", "val", "--threads", "1"]
    trusted = cli(*base, "-m", with_args, "--trust-checkpoint", "--output", tmp_path / "a")
    plain = cli(*base, "-m", tiny_ckpt, "--output", tmp_path / "b")
    assert trusted.exit_code == 0 and plain.exit_code == 0, trusted.output + plain.output
    got = sorted((tmp_path / "a").rglob("synth_val_00001.txt"))
    want = sorted((tmp_path / "b").rglob("synth_val_00001.txt"))
    assert len(got) == len(want) == 1
    np.testing.assert_array_equal(np.loadtxt(got[0]), np.loadtxt(want[0]))


def test_the_option_is_refused_where_nothing_reads_a_checkpoint(exported, tmp_path):
    out, _ = exported
    msg = one_line_error(cli("bench", "--tracker", "csrt", "--trust-checkpoint", "-o", tmp_path / "b"))
    assert "--trust-checkpoint" in msg
    root = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    msg = one_line_error(cli("eval", "--dataset", "synth", "--root", root, "--split", "val", "-m", out / "model.onnx",
                             "--trust-checkpoint", "--output", tmp_path / "r"))
    assert "--trust-checkpoint" in msg and not (tmp_path / "r").exists()
