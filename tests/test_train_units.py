"""Training recipe units: sampler rules, Gaussian targets, LR scaling, CE warm-up, one optimisation step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from droptrack.config import load_config
from droptrack.errors import TrainingError
from droptrack.model import build_model
from droptrack.train.loss import tracking_loss
from droptrack.train.optim import build_optimizer, ce_keep_rate, epoch_iterations, reference_batch, scaled_lr
from droptrack.train.processing import Processing
from droptrack.train.sampler import PairSampler
from droptrack.train.targets import gaussian_map, gaussian_radius


@dataclass
class FakeSeq:
    boxes: np.ndarray
    visible: np.ndarray | None = None


def seq(n: int, visible=None) -> FakeSeq:
    return FakeSeq(np.tile([10.0, 10.0, 20.0, 20.0], (n, 1)), None if visible is None else np.asarray(visible))


def test_sampler_search_strictly_after_template_within_gap():
    sampler = PairSampler([[seq(300)]], [1], max_gap=10)
    rng = np.random.default_rng(0)
    for _ in range(300):
        p = sampler.sample(rng)
        assert p.template_frame < p.search_frame < p.template_frame + 10
        assert p.template_frame < 299


def test_sampler_skips_absent_frames_and_short_sequences():
    vis = np.ones(40, bool)
    vis[10:30] = False
    sampler = PairSampler([[seq(40, vis), seq(19)]], [1], max_gap=5)  # the 19-frame sequence is never used
    rng = np.random.default_rng(1)
    for _ in range(200):
        p = sampler.sample(rng)
        assert p.sequence == 0 and vis[p.template_frame] and vis[p.search_frame]
        assert p.search_frame > p.template_frame  # gap grows by 5 when the window holds no visible frame


def test_sampler_keeps_the_dataset_ratio_when_a_dataset_has_unusable_sequences():
    # official: a dataset is drawn by DATASETS_RATIO, then sequences are re-drawn within it until one has > 4
    # visible frames and >= 20 frames, so a 1:1 mix stays 1:1 (re-drawing the dataset too gave 0.05 / 0.55 = 9 %)
    sampler = PairSampler([[seq(30)] + [seq(10)] * 9, [seq(30)]], [1, 1], max_gap=5)
    rng = np.random.default_rng(4)
    first = sum(sampler.sample(rng).dataset == 0 for _ in range(2000)) / 2000
    assert 0.45 < first < 0.55


def test_sampler_zero_size_boxes_are_absent_and_stills_pair_with_themselves():
    boxes = np.tile([1.0, 1.0, 5.0, 5.0], (25, 1))
    boxes[::2, 2] = 0
    sampler = PairSampler([[FakeSeq(boxes), seq(1)]], [1], max_gap=3)
    rng = np.random.default_rng(2)
    seen_still = False
    for _ in range(200):
        p = sampler.sample(rng)
        if p.sequence == 1:
            seen_still = True
            assert p.template_frame == p.search_frame == 0
        else:
            assert boxes[p.template_frame, 2] > 0 and boxes[p.search_frame, 2] > 0
    assert seen_still


def test_sampler_empty_data_is_a_clear_error():
    with pytest.raises(TrainingError, match="no sequences"):
        PairSampler([[]], [1], 10)
    with pytest.raises(TrainingError, match="could not sample"):
        PairSampler([[seq(5)]], [1], 10).sample(np.random.default_rng(0))


def test_gaussian_target_peaks_at_box_centre():
    m = gaussian_map([0.25, 0.5, 0.25, 0.25], 16)  # centre (0.375, 0.625) * 16 = (6, 10)
    assert m.max() == 1.0 and np.unravel_index(m.argmax(), m.shape) == (10, 6)
    r = int(gaussian_radius(4.0, 4.0))
    assert r >= 1 and (m > 0).sum() <= (2 * r + 1) ** 2
    assert m[10, 6 + r + 1] == 0 and m[10, 6 + r] > 0
    small = gaussian_map([0.5, 0.5, 0.01, 0.01], 16)
    assert (small > 0).sum() == 1  # radius 0 -> one positive cell


def test_gaussian_target_of_a_centre_left_of_or_above_the_map_keeps_its_tail():
    # official draw_gaussian clips the (2r+1)^2 window to the map on every side: a 4x4-cell box gives r = 1
    # (r3 = (-11.2 + sqrt(179.2)) / 2 = 1.09), sigma = 3/6, so the cell one step from the centre holds exp(-2)
    # and the diagonal one exp(-4); a centre one cell left of (or above) the 24x24 map leaves that column (row)
    w = 4 / 24
    left = gaussian_map([-1 / 24 - w / 2, 12 / 24 - w / 2, w, w], 24)   # centre cell (-1, 12)
    assert left[12, 0] == pytest.approx(np.exp(-2.0)) and left[11, 0] == left[13, 0] == pytest.approx(np.exp(-4.0))
    assert (left > 0).sum() == 3
    top = gaussian_map([5 / 24 - w / 2, -1 / 24 - w / 2, w, w], 24)    # centre cell (5, -1)
    assert top[0, 5] == pytest.approx(np.exp(-2.0)) and (top > 0).sum() == 3
    assert not gaussian_map([-2 / 24 - w / 2, 0.5, w, w], 24).any()    # two cells out: nothing inside


class _Draws:
    """A stand-in RNG: a fixed brightness factor, and no flip."""

    def uniform(self, lo, hi):
        return 1.1

    def random(self):
        return 0.9


def test_brightness_jitter_rounds_as_the_official_to_tensor_and_jitter():
    # official: torch.from_numpy(img.transpose(2, 0, 1)).float().mul(f / 255.0).clamp(0, 1), then Normalize
    proc = Processing.from_config(load_config("tiny_ce_test"))
    patch = np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None].repeat(3, axis=2)
    out, _ = proc._finish(_Draws(), patch, np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    ref = torch.from_numpy(patch.transpose(2, 0, 1).copy()).float().mul(1.1 / 255.0).clamp(0.0, 1.0)
    ref = (ref - torch.tensor(proc.mean)) / torch.tensor(proc.std)
    assert np.array_equal(out, ref.numpy())


def test_lr_scaling_and_reference_batch():
    cfg = load_config("vitb_384_mae_ce_32x4_ep300")
    assert reference_batch(cfg) == 128
    assert scaled_lr(cfg, 128) == pytest.approx(2.5e-4)
    assert scaled_lr(cfg, 32) == pytest.approx(2.5e-4 / 4)


def test_iterations_per_epoch_as_the_official_distributed_loader():
    # DistributedSampler: ceil(N / world) samples per rank, drop_last batches; 60000 on 4 x 32 -> 468 (DropTrack log)
    assert epoch_iterations(60000, 4, 32) == 468 and epoch_iterations(60000, 1, 32) == 1875
    assert epoch_iterations(10, 4, 1) == 3   # ceil(2.5) = 3 per rank (10 // 4 would be 2)
    assert epoch_iterations(100, 3, 17) == 2   # 34 per rank: two batches of 17 (100 // 51 would be 1)


def test_ce_keep_rate_schedule_matches_spec():
    assert ce_keep_rate(20, 20, 80, 0.7) == 1.0 and ce_keep_rate(19, 20, 80, 0.7) == 1.0
    assert ce_keep_rate(21, 20, 80, 0.7) == pytest.approx(0.7 + 0.15 * (np.cos(np.pi / 80) + 1))  # 0.99988
    model = build_model(load_config("vitb_384_mae_ce_32x4_ep300"))
    assert model.backbone.keep_counts(ce_keep_rate(23, 20, 80, 0.7)) == [None] * 12  # no pruning before epoch 24
    assert model.backbone.keep_counts(ce_keep_rate(24, 20, 80, 0.7))[3] == 575
    assert ce_keep_rate(60, 20, 80, 0.7) == pytest.approx(0.85)
    assert ce_keep_rate(100, 20, 80, 0.7) == 0.7 and ce_keep_rate(70, 20, 50, 0.7) == 0.7
    assert [c for c in model.backbone.keep_counts(ce_keep_rate(60, 20, 80, 0.7)) if c] == [490, 417, 355]


def test_optimizer_groups_and_step_lr():
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg, training=True)
    opt, sched = build_optimizer(model, cfg, 1e-3)
    assert opt.param_groups[1]["lr"] == pytest.approx(1e-4)  # backbone x 0.1
    assert all(g["weight_decay"] == 1e-4 for g in opt.param_groups)
    for _ in range(cfg.TRAIN.LR_DROP_EPOCH):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_one_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg, training=True)
    opt, _ = build_optimizer(model, cfg, 1e-3)
    z, x = torch.randn(4, 3, 64, 64), torch.randn(4, 3, 128, 128)
    boxes = torch.tensor([[0.3, 0.3, 0.3, 0.3], [0.4, 0.2, 0.2, 0.4], [0.1, 0.5, 0.3, 0.2], [0.5, 0.5, 0.2, 0.2]])
    maps = torch.from_numpy(np.stack([gaussian_map(b.numpy(), 8) for b in boxes]))
    model.train()
    losses = []
    for _ in range(3):
        loss, stats = tracking_loss(model(z, x, model.template_index), boxes, maps, 2.0, 5.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert set(stats) == {"loss", "giou", "l1", "focal", "iou"}


def _one_batch():
    g = torch.Generator().manual_seed(3)
    boxes = torch.tensor([[0.3, 0.3, 0.3, 0.3], [0.4, 0.2, 0.2, 0.4]])
    maps = torch.from_numpy(np.stack([gaussian_map(b.numpy(), 8) for b in boxes]))
    return {"template": torch.randn(2, 3, 64, 64, generator=g), "search": torch.randn(2, 3, 128, 128, generator=g),
            "search_anno": boxes, "gt_map": maps}


@pytest.mark.parametrize("clip", [0.0, 0.1])
def test_grad_clip_norm_zero_is_no_clipping_as_the_official_trainer(clip):
    # the official trainer clips only `if grad_clip_norm > 0`: 0 means a plain step, any other value the clipped one
    from droptrack.train.loop import EpochSetup, train_epoch
    cfg = load_config("tiny_ce_test")
    cfg.TRAIN.GRAD_CLIP_NORM = clip
    torch.manual_seed(0)
    model = build_model(cfg, training=True)
    ref = build_model(cfg, training=True)
    ref.load_state_dict(model.state_dict())
    opt, _ = build_optimizer(model, cfg, 1e-3)
    ref_opt, _ = build_optimizer(ref, cfg, 1e-3)
    setup = EpochSetup(cfg=cfg, device=torch.device("cpu"), epoch=1, keep_rate=None, show=False)
    torch.manual_seed(5)
    train_epoch(model, model, [_one_batch()], 1, opt, None, setup)
    torch.manual_seed(5)   # the same drop-path draws for the hand-written step
    ref.train()
    b = _one_batch()
    out = ref(b["template"], b["search"], ce_template_mask=ref.template_index, ce_keep_rate=None)
    loss, _ = tracking_loss(out, b["search_anno"], b["gt_map"], cfg.TRAIN.GIOU_WEIGHT, cfg.TRAIN.L1_WEIGHT)
    ref_opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ref.parameters() if p.grad is not None]))
    assert norm > 0.1   # so clipping at 0.1 changes the step and the two cases differ
    if clip:
        for p in ref.parameters():
            if p.grad is not None:
                p.grad.mul_(clip / (norm + 1e-6))
    ref_opt.step()
    for (k, a), b_ in zip(model.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b_, rtol=1e-5, atol=1e-7, msg=k)


@pytest.mark.parametrize("raised", [
    "unable to allocate shared memory(shm) for file </torch_123_456_0>: No space left on device (28)",
    "DataLoader worker (pid 4242) is killed by signal: Bus error. It is possible that dataloader's workers are out "
    "of shared memory. Please try to raise your shared memory limit.",
])
def test_workers_out_of_shared_memory_is_one_line_naming_the_fix(raised):
    # Docker's default /dev/shm (64 MB) filled by dt train --workers N: torch's RuntimeError was a traceback
    from droptrack.train.data import unwrap_worker_errors

    def batches():
        yield 1
        raise RuntimeError(raised)

    it = unwrap_worker_errors(batches())
    assert next(it) == 1
    with pytest.raises(TrainingError) as exc:
        next(it)
    assert "shared memory in /dev/shm" in str(exc.value) and "--workers 0" in str(exc.value)
    assert "--shm-size" in str(exc.value) and "\n" not in str(exc.value)
    other = unwrap_worker_errors(iter_raising(RuntimeError("CUDA error: device-side assert")))
    with pytest.raises(RuntimeError, match="device-side"):
        next(other)


def iter_raising(exc: BaseException):
    raise exc
    yield  # noqa: unreachable - a generator
