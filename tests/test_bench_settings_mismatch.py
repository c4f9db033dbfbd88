"""`dt bench` compares each row with its PyTorch reference. A row whose tracker-extension settings (its TEST keys:
an ONNX graph exported with another --config, a checkpoint saved with them) differ from its reference's ran the whole
bench and then failed its gates (every frame where size smoothing acts diverges): it measured the settings, not the
export. It is now refused before any work, in one line naming the row, its reference, both settings and the fix."""

from __future__ import annotations

import pytest
import torch

from droptrack.config import load_config
from droptrack.data import generate_synth
from droptrack.model.checkpoint import save_checkpoint
from droptrack.model.ostrack import build_model
from helpers import cli


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("set") / "set", sequences=2, frames=4, seed=0, size=(96, 72))


@pytest.fixture(scope="module")
def smoothed(tmp_path_factory):
    """The tiny model (seed 0, tiny_ckpt's weights) saved with TEST.SIZE_LR 0.5."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    cfg.TEST.SIZE_LR = 0.5
    path = tmp_path_factory.mktemp("smoothed") / "smoothed.pt"
    save_checkpoint(path, build_model(cfg).eval(), cfg)
    return path


def refused(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


def test_an_export_on_other_settings_than_its_reference_is_refused_before_any_work(onnx_model, smoothed, data,
                                                                                    tmp_path, one_thread):
    out = tmp_path / "bench"
    line = refused(cli("bench", onnx_model, "--reference", smoothed, "--data", data, "-o", out, "--threads", "1"))
    assert line == (f"error: row model ({onnx_model}) tracks with 'official procedure' but its reference "
                    f"{smoothed} with 'official + size smoothing 0.5': ΔAUC and divergence would measure the "
                    "settings, not the export; pass the --config it was exported with (the checkpoints' TEST keys), "
                    "or --official or the same extension options for every row")
    assert not (out / "results").exists() and not (out / "bench.json").exists()


def test_a_checkpoint_row_against_a_reference_on_other_keys_is_refused(tiny_ckpt, smoothed, data, tmp_path,
                                                                       one_thread):
    line = refused(cli("bench", smoothed, "--reference", tiny_ckpt, "--data", data, "-o", tmp_path / "b",
                       "--threads", "1"))
    assert "row smoothed" in line and "'official + size smoothing 0.5'" in line and "'official procedure'" in line


def test_the_same_settings_for_both_are_benched(onnx_model, smoothed, data, tmp_path, one_thread):
    """--official turns size smoothing off for the reference too: the check passes and the bench runs; the two
    models have the same weights, so the row's boxes are its reference's."""
    res = cli("bench", onnx_model, "--reference", smoothed, "--data", data, "-o", tmp_path / "b", "--threads", "1",
              "--official")
    assert res.exit_code in (0, 1), res.output
    assert (tmp_path / "b" / "bench.json").is_file()


@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    """The tiny model (tiny_ckpt's weights) saved with the embedded model's kind of TEST keys: the crop grid with its
    window on the target and the first-frame anchor's network-size filter, reported only."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    cfg.TEST.CROP_GRID, cfg.TEST.GRID_WINDOW = 0.1, "target"
    cfg.TEST.ANCHOR_SCALE, cfg.TEST.ANCHOR_SIZE = 1.0, "network"
    cfg.TEST.ANCHOR_GATE, cfg.TEST.ANCHOR_BOX = 0.5, "report"
    path = tmp_path_factory.mktemp("anchored") / "anchored.pt"
    save_checkpoint(path, build_model(cfg).eval(), cfg)
    return path


def test_keys_of_an_extension_that_is_off_do_not_count(onnx_model, anchored, data, tmp_path, one_thread):
    """--official turns the reference's grid and anchor off; their other keys (GRID_WINDOW, ANCHOR_SIZE, ANCHOR_GATE,
    ANCHOR_BOX) then act on nothing, and an export without them (the graph of a config from before them) is benched
    against it. Where they act, the same pair is still refused."""
    res = cli("bench", onnx_model, "--reference", anchored, "--data", data, "-o", tmp_path / "b", "--threads", "1",
              "--official")
    assert res.exit_code in (0, 1), res.output
    assert (tmp_path / "b" / "bench.json").is_file()
    line = refused(cli("bench", onnx_model, "--reference", anchored, "--data", data, "-o", tmp_path / "c",
                       "--threads", "1"))
    assert "'official procedure'" in line and "first-frame anchor" in line
