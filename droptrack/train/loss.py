"""OSTrack losses: focal on the Gaussian target + GIoU + L1 on the argmax-decoded box (ostrack_spec.md 5.1)."""

from __future__ import annotations

import torch


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def xywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    x, y, w, h = b.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-sample values, or their weight-weighted mean (0 where every weight is 0)."""
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp(min=1e-12)


def giou_loss(pred: torch.Tensor, gt: torch.Tensor,
              weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (1 - GIoU), weighted per sample if given, and mean IoU of (N,4) xyxy boxes (continuous areas)."""
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    lt = torch.max(pred[:, :2], gt[:, :2])
    rb = torch.min(pred[:, 2:], gt[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    union = area_p + area_g - inter
    iou = inter / union
    lt_c = torch.min(pred[:, :2], gt[:, :2])
    rb_c = torch.max(pred[:, 2:], gt[:, 2:])
    area_c = (rb_c - lt_c).clamp(min=0).prod(dim=1)
    giou = iou - (area_c - union) / area_c
    return weighted_mean(1 - giou, weight), iou.mean()


def focal_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """CenterNet focal loss (alpha 2, beta 4) on a clamped-sigmoid score map."""
    pred = pred.clamp(min=1e-12)
    pos = gt.eq(1).float()
    neg = gt.lt(1).float()
    pos_loss = (torch.log(pred) * torch.pow(1 - pred, 2) * pos).sum()
    neg_loss = (torch.log(1 - pred) * torch.pow(pred, 2) * torch.pow(1 - gt, 4) * neg).sum()
    num_pos = pos.sum()
    return -neg_loss if num_pos == 0 else -(pos_loss + neg_loss) / num_pos


def tracking_loss(out: dict, gt_box: torch.Tensor, gt_map: torch.Tensor, giou_w: float, l1_w: float,
                  box_weight: torch.Tensor | None = None):
    """Total = giou_w*GIoU + l1_w*L1 + focal; returns (total, stats dict of floats as tensors).

    `box_weight` (N,) weighs each sample's GIoU and L1 (DATA.TRAIN.BOX_WEIGHT: boxes whose centre is trusted and
    whose size is not, such as a classic tracker's, train the score map only); None is the official mean."""
    pred = out["pred_boxes"]
    if torch.isnan(pred).any():
        raise FloatingPointError("network outputs NaN")
    pred_xyxy = cxcywh_to_xyxy(pred).view(-1, 4)
    gt_xyxy = xywh_to_xyxy(gt_box).clamp(min=0.0, max=1.0)
    if bool(((pred_xyxy[:, 2:] >= pred_xyxy[:, :2]).all())):
        giou, iou = giou_loss(pred_xyxy, gt_xyxy, box_weight)
    else:  # official: a failed GIoU assertion zeroes GIoU loss and IoU for the batch
        giou, iou = pred.new_tensor(0.0), pred.new_tensor(0.0)
    l1 = torch.nn.functional.l1_loss(pred_xyxy, gt_xyxy) if box_weight is None else \
        weighted_mean((pred_xyxy - gt_xyxy).abs().mean(dim=1), box_weight)
    focal = focal_loss(out["score_map"], gt_map.unsqueeze(1))
    total = giou_w * giou + l1_w * l1 + focal
    return total, {"loss": total.detach(), "giou": giou.detach(), "l1": l1.detach(), "focal": focal.detach(),
                   "iou": iou.detach()}
