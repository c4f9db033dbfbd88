""".safetensors checkpoints and their config: `dt export --safetensors` embeds it in the file's metadata (then no
--config is needed anywhere); a weights-only file gets it from --config, which dt demo now takes and dt bench gives
to its checkpoints only (an ONNX row refused it, so `dt bench model.onnx --reference w.safetensors` could not run)."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import cli, one_line_error

from droptrack.data.media import bundled_video

VIDEO = bundled_video("carphone_pristine.mp4")
RUN = ["--device", "cpu", "--init", "60,40,40,50", "--max-frames", 4]
SMALL_BENCH = ["--sequences", 1, "--frames", 3]


@pytest.fixture(scope="module")
def exported(tiny_ckpt, tmp_path_factory):
    """`dt export tiny.pt --safetensors` (FP32 graph + model.safetensors), and the same weights without a config."""
    from safetensors.torch import save_file

    out = tmp_path_factory.mktemp("st_export")
    r = cli("export", tiny_ckpt, "--safetensors", "-o", out)
    assert r.exit_code == 0 and "model.safetensors" in r.output, r.output
    bare = out.parent / "weights_only.safetensors"
    save_file({k: v.contiguous() for k, v in torch.load(tiny_ckpt, weights_only=True)["net"].items()}, str(bare))
    return out, bare


def test_exported_safetensors_carries_its_config_and_needs_no_config_option(tiny_ckpt, exported, tmp_path):
    from safetensors import safe_open

    out, _ = exported
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        meta = f.metadata()
        names = set(f.keys())
    assert meta["format"] == "droptrack" and meta["config_name"] == "tiny_ce_test"
    assert json.loads(meta["config"])["MODEL"]["BACKBONE"]["TYPE"] and json.loads(meta["meta"])["search_size"] == 128
    assert names == set(torch.load(tiny_ckpt, weights_only=True)["net"])
    for model, name in ((tiny_ckpt, "pt.txt"), (out / "model.safetensors", "st.txt")):
        r = cli("run", VIDEO, "-m", model, *RUN, "--output", tmp_path / name)
        assert r.exit_code == 0, r.output
    assert (tmp_path / "st.txt").read_text() == (tmp_path / "pt.txt").read_text()
    r = cli("bench", out / "model.onnx", "--reference", out / "model.safetensors", *SMALL_BENCH, "-o", tmp_path / "b")
    assert r.exit_code == 0, r.output
    r = cli("doctor", out / "model.safetensors")
    assert r.exit_code == 0 and "ok: checkpoint tiny_ce_test" in r.output, r.output


def test_damaged_metadata_is_a_one_line_error(exported, tmp_path):
    from safetensors.torch import load_file, save_file

    out, _ = exported
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(out / "model.safetensors")), str(bad), metadata={"format": "droptrack", "config": "{oops"})
    line = one_line_error(cli("run", VIDEO, "-m", bad, *RUN))
    assert f"'{bad}': its droptrack metadata is damaged" in line and "dt export CKPT --safetensors" in line


def test_bench_gives_config_to_checkpoints_only(exported, tmp_path):
    """--config was handed to the ONNX row too, which refused it: with a weights-only reference every such bench
    failed one way (the reference had no config) or the other (the row refused --config)."""
    out, bare = exported
    line = one_line_error(cli("bench", out / "model.onnx", "--reference", bare, *SMALL_BENCH, "-o", tmp_path / "a"))
    assert "holds weights without their config" in line and "--config NAME" in line
    r = cli("bench", out / "model.onnx", "--reference", bare, "--config", "tiny_ce_test", *SMALL_BENCH,
            "-o", tmp_path / "b")
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "b" / "bench.json").read_text())["rows"]
    assert [(row["name"], row["status"]) for row in rows] == [("model", "passed")]


def test_export_of_an_onnx_graph_refuses_safetensors(exported):
    out, _ = exported
    line = one_line_error(cli("export", out / "model.onnx", "--engine", "--safetensors"))
    assert "--safetensors" in line and "applies to a checkpoint export" in line


def test_demo_takes_config_for_weights_only_checkpoints(exported, tmp_path):
    """dt demo --checkpoint w.safetensors failed after generating its data, saying to pass --config, which dt demo
    did not have; the refusal comes before anything is written now, and --config makes it run."""
    _, bare = exported
    small = ["--sequences", 1, "--frames", 3, "--video-frames", 2]
    line = one_line_error(cli("demo", "--checkpoint", bare, "-o", tmp_path / "d1", *small))
    assert "holds weights without their config" in line and "--config NAME" in line
    assert not (tmp_path / "d1").exists()
    r = cli("demo", "--checkpoint", bare, "--config", "tiny_ce_test", "-o", tmp_path / "d2", *small)
    assert r.exit_code == 0, r.output
    assert "--config tiny_ce_test" in r.output.splitlines()[-1]   # the next command works as printed
    assert "unknown config 'tiny_ce'" in one_line_error(cli("demo", "--checkpoint", bare, "--config", "tiny_ce",
                                                            "-o", tmp_path / "d3", *small))


def test_a_failing_export_publishes_no_safetensors(tiny_ckpt, tmp_path):
    """model.safetensors was written before the FP32 graph was built and checked: an export refused there (a
    --keep-fp32 pattern that matches no node) left it alone in the folder. Now it is published with model.onnx."""
    out = tmp_path / "out"
    r = cli("export", tiny_ckpt, "--fp16", "--keep-fp32", "no_such_node", "--safetensors", "-o", out)
    assert r.exit_code == 2 and "error: --keep-fp32 'no_such_node' matches no node" in r.output, r.output
    assert not out.exists()   # nor a work folder left behind: the folder it made, left empty, is removed


def test_exported_safetensors_is_an_ordinary_shared_file_as_the_graphs(exported):
    """safetensors' writer makes its file 0600 (owner only): a deploy folder's weights were unreadable to the
    service account that reads its model.onnx (0644, as every output dt writes)."""
    out, _ = exported
    assert (out / "model.safetensors").stat().st_mode & 0o777 == (out / "model.onnx").stat().st_mode & 0o777 == 0o644
