"""DATA.TRAIN.BOX_WEIGHT: a dataset whose boxes' centres are trusted and whose sizes are not (a classic tracker's
labels) trains the score map only. Hand-computed losses, the gradient a zero weight leaves, the training step, the
per-dataset weight of each sample, and the config's checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.config import config_from_dict, load_config
from droptrack.errors import ConfigError
from droptrack.train.data import PairDataset
from droptrack.train.loss import tracking_loss
from droptrack.train.processing import Processing
from droptrack.train.targets import gaussian_map


def _out(pred_cxcywh: list[list[float]]) -> dict:
    """A network output with these boxes and a flat score map (the focal term is the same for any box weight)."""
    n = len(pred_cxcywh)
    return {"pred_boxes": torch.tensor(pred_cxcywh).view(n, 1, 4).requires_grad_(),
            "score_map": torch.full((n, 1, 8, 8), 0.1)}


# sample 0 is predicted exactly; sample 1 predicts [0, 0, 0.5, 0.5] for a target at [0.5, 0.5, 1, 1] (xyxy):
# IoU 0, union 0.5, enclosing box 1 x 1 -> GIoU = 0 - (1 - 0.5) / 1 = -0.5, loss 1.5; L1 = 0.5 per coordinate
PRED = [[0.5, 0.5, 0.2, 0.4], [0.25, 0.25, 0.5, 0.5]]
GT = torch.tensor([[0.4, 0.3, 0.2, 0.4], [0.5, 0.5, 0.5, 0.5]])   # xywh
MAPS = torch.from_numpy(np.stack([gaussian_map(b.numpy(), 8) for b in GT]))


@pytest.mark.parametrize("weight, giou, l1", [
    (None, 0.75, 0.25),          # the official mean
    ([1.0, 0.0], 0.0, 0.0),      # the wrong box does not count
    ([0.0, 1.0], 1.5, 0.5),      # only the wrong box counts
    ([1.0, 0.5], 0.5, 1 / 6),    # (0 + 0.5 * 1.5) / 1.5, (0 + 0.5 * 0.5) / 1.5
    ([0.0, 0.0], 0.0, 0.0),      # no box counts: zero, not NaN
])
def test_box_losses_are_the_weighted_mean_of_the_samples(weight, giou, l1):
    w = None if weight is None else torch.tensor(weight)
    _, st = tracking_loss(_out(PRED), GT, MAPS, 2.0, 5.0, w)
    _, plain = tracking_loss(_out(PRED), GT, MAPS, 2.0, 5.0)
    assert st["giou"].item() == pytest.approx(giou, abs=1e-6)
    assert st["l1"].item() == pytest.approx(l1, abs=1e-6)
    assert st["focal"].item() == pytest.approx(plain["focal"].item())   # the score map trains on every sample
    assert st["loss"].item() == pytest.approx(2.0 * giou + 5.0 * l1 + plain["focal"].item(), rel=1e-6)


def test_a_zero_weight_leaves_no_gradient_on_that_samples_box():
    out = _out(PRED)
    loss, _ = tracking_loss(out, GT, MAPS, 2.0, 5.0, torch.tensor([1.0, 0.0]))
    loss.backward()
    grad = out["pred_boxes"].grad.view(2, 4)
    assert torch.all(grad[1] == 0)
    out = _out(PRED)
    loss, _ = tracking_loss(out, GT, MAPS, 2.0, 5.0, torch.tensor([0.0, 1.0]))
    loss.backward()
    assert out["pred_boxes"].grad.view(2, 4)[1].abs().sum() > 0


def _batch(second_box: list[float]) -> dict:
    g = torch.Generator().manual_seed(3)
    boxes = torch.tensor([[0.3, 0.3, 0.3, 0.3], second_box])
    maps = torch.from_numpy(np.stack([gaussian_map(np.array(b), 8) for b in ([0.3] * 4, [0.4, 0.2, 0.2, 0.4])]))
    return {"template": torch.randn(2, 3, 64, 64, generator=g), "search": torch.randn(2, 3, 128, 128, generator=g),
            "search_anno": boxes, "gt_map": maps, "box_weight": torch.tensor([1.0, 0.0])}


def _step(batch: dict) -> dict:
    from droptrack.model import build_model
    from droptrack.train.loop import EpochSetup, train_epoch
    from droptrack.train.optim import build_optimizer

    cfg = load_config("tiny_ce_test")
    torch.manual_seed(0)
    model = build_model(cfg, training=True)
    opt, _ = build_optimizer(model, cfg, 1e-3)
    setup = EpochSetup(cfg=cfg, device=torch.device("cpu"), epoch=1, keep_rate=None, show=False)
    torch.manual_seed(5)
    train_epoch(model, model, [batch], 1, opt, None, setup)
    return model.state_dict()


def test_the_training_step_ignores_the_box_of_a_zero_weight_sample():
    a = _step(_batch([0.4, 0.2, 0.2, 0.4]))
    b = _step(_batch([0.05, 0.6, 0.4, 0.1]))   # another box for the zero-weight sample, the same score map
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    c = _step({**_batch([0.05, 0.6, 0.4, 0.1]), "box_weight": torch.tensor([1.0, 1.0])})
    assert any(not torch.equal(a[k], c[k]) for k in a)   # with weight 1 the box moves the step


class _Plain:
    """A 30-frame sequence of one grey level, its target a 20 x 20 box."""

    def __init__(self, level: int):
        self.level = level
        self.boxes = np.tile([40.0, 40.0, 20.0, 20.0], (30, 1))
        self.visible = None

    def frame(self, i: int, said: list[str] | None = None) -> np.ndarray:
        return np.full((100, 100, 3), self.level, np.uint8)


def test_each_sample_carries_the_weight_of_the_dataset_it_was_drawn_from():
    cfg = load_config("tiny_ce_test")
    data = PairDataset([[_Plain(0)], [_Plain(255)]], [1, 1], 10, Processing.from_config(cfg), seed=1,
                       box_weight=[1.0, 0.25])
    seen = set()
    for i in range(24):
        s = data[(1, i)]
        bright = float(s["template"].mean()) > 0   # the white dataset normalises above 0, the black one below
        assert s["box_weight"].item() == (0.25 if bright else 1.0)
        seen.add(bright)
    assert seen == {True, False}
    plain = PairDataset([[_Plain(0)]], [1], 10, Processing.from_config(cfg), seed=1)
    assert "box_weight" not in plain[(1, 0)]   # the official batch, unchanged


@pytest.mark.parametrize("weights, words", [
    ([1.0], "one weight per dataset name"),
    ([1.0, 1.5], "BOX_WEIGHT"),
    ([1.0, -0.1], "BOX_WEIGHT"),
])
def test_a_box_weight_that_cannot_work_is_one_line(weights, words):
    data = {"DATA": {"TRAIN": {"DATASETS_NAME": ["SYNTH", "SYNTH_aux"], "DATASETS_RATIO": [1, 1],
                               "BOX_WEIGHT": weights}}}
    with pytest.raises(ConfigError, match=words) as err:
        config_from_dict(data)
    assert "\n" not in str(err.value)
    assert config_from_dict({"DATA": {"TRAIN": {"DATASETS_NAME": ["SYNTH", "SYNTH_aux"], "DATASETS_RATIO": [1, 1],
                                                "BOX_WEIGHT": [1, 0]}}}).DATA.TRAIN.BOX_WEIGHT == [1.0, 0.0]


def test_a_validation_box_weight_is_refused_as_doing_nothing():
    """DATA.VAL shares the training split's keys, and BOX_WEIGHT was accepted there and ignored: validation scores
    tracked sequences, not box losses. Refused in one line, saying what to do; an empty one stays valid."""
    val = {"DATASETS_NAME": ["GOT10K_votval"], "DATASETS_RATIO": [1]}
    with pytest.raises(ConfigError, match=r"DATA\.VAL\.BOX_WEIGHT would do nothing.*remove it") as err:
        config_from_dict({"DATA": {"VAL": {**val, "BOX_WEIGHT": [1]}}})
    assert "\n" not in str(err.value)
    assert config_from_dict({"DATA": {"VAL": {**val, "BOX_WEIGHT": []}}}).DATA.VAL.BOX_WEIGHT == []


def test_a_second_own_footage_dataset_without_its_own_root_is_refused(tmp_path, monkeypatch):
    """SYNTH_aux without --data SYNTH_aux=DIR read the reader's root (DT_DATA_SYNTH): SYNTH's own sequences, drawn
    twice under two ratios and box weights (or, after the hint 'set DT_DATA_SYNTH', a folder SYNTH's variable names).
    It reads only its own --data now: refused in one line before training; its own root trains."""
    from droptrack.data.synth import generate_synth
    from helpers import TINY_TRAIN as tiny, cli, one_line_error, train_config

    cfg = train_config(tmp_path, "SYNTH", "SYNTH_aux", BOX_WEIGHT=[1, 0])
    a = generate_synth(tmp_path / "a", sequences=2, frames=24, seed=0, size=(160, 120))
    b = generate_synth(tmp_path / "b", sequences=2, frames=24, seed=1, size=(160, 120))
    monkeypatch.setenv("DT_DATA_SYNTH", str(a))
    line = one_line_error(cli("train", "-c", cfg, "-o", tmp_path / "run", "--data", f"SYNTH={a}", *tiny))
    assert line == ("error: training dataset SYNTH_aux reads only its own --data SYNTH_aux=DIR (no environment "
                    "variable: DT_DATA_SYNTH and DT_DATA name synth's roots); pass --data SYNTH_aux=DIR, or remove "
                    "SYNTH_aux from DATA.TRAIN.DATASETS_NAME")
    assert not (tmp_path / "run" / "last.pt").exists()
    ok = cli("train", "-c", cfg, "-o", tmp_path / "run2", "--data", f"SYNTH={a}", "--data", f"SYNTH_aux={b}", *tiny)
    assert ok.exit_code == 0, ok.output


def test_two_datasets_on_one_folder_are_refused_before_either_is_read(tmp_path, monkeypatch):
    """The same-folder refusal came after both datasets were read (a large folder: minutes, twice), so a folder that
    failed to read was reported first. It now comes first: an empty folder read twice is named as one folder,
    and a missing root is still named by its --data option, before anything is read."""
    from helpers import TINY_TRAIN as tiny, cli, one_line_error, train_config

    cfg = train_config(tmp_path, "SYNTH", "SYNTH_aux")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DT_DATA_SYNTH", str(empty))
    line = one_line_error(cli("train", "-c", cfg, "-o", tmp_path / "run", "--data", f"SYNTH_aux={empty}", *tiny))
    assert f"SYNTH and SYNTH_aux both read '{empty.resolve()}'" in line, line
    monkeypatch.delenv("DT_DATA_SYNTH")
    line = one_line_error(cli("train", "-c", cfg, "-o", tmp_path / "run", "--data", f"SYNTH_aux={empty}", *tiny))
    assert "no root for synth: pass --data SYNTH=DIR, or set the environment variable DT_DATA_SYNTH=DIR" in line
