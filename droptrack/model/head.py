"""CENTER head (OSTrack `CenterPredictor`): score, size and offset maps plus argmax box decoding."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """Conv3x3 (bias) + BatchNorm + ReLU: keys `.0.*` and `.1.*` as in the official checkpoints."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=True), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x.sigmoid(), min=1e-4, max=1 - 1e-4)


class CenterPredictor(nn.Module):
    """Three branches of 4x(Conv3x3+BN+ReLU) C->c->c/2->c/4->c/8 and a Conv1x1 (1/2/2 channels)."""

    def __init__(self, inplanes: int = 768, channel: int = 256, feat_sz: int = 24):
        super().__init__()
        self.feat_sz = feat_sz
        chans = [inplanes, channel, channel // 2, channel // 4, channel // 8]
        for name, out in (("ctr", 1), ("offset", 2), ("size", 2)):
            for k in range(4):
                setattr(self, f"conv{k + 1}_{name}", conv_bn_relu(chans[k], chans[k + 1]))
            setattr(self, f"conv5_{name}", nn.Conv2d(chans[4], out, kernel_size=1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _branch(self, name: str, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 6):
            x = getattr(self, f"conv{k}_{name}")(x)
        return x

    def get_score_map(self, x: torch.Tensor):
        """(score (B,1,F,F) sigmoid-clamped, size (B,2,F,F) sigmoid-clamped, offset (B,2,F,F) raw)."""
        return _sigmoid(self._branch("ctr", x)), _sigmoid(self._branch("size", x)), self._branch("offset", x)

    def cal_bbox(self, score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor,
                 return_score: bool = False):
        """Box (B,4) (cx,cy,w,h) normalised to the search crop, read at the argmax of `score_map`."""
        max_score, idx = torch.max(score_map.flatten(1), dim=1, keepdim=True)
        idx_y = torch.div(idx, self.feat_sz, rounding_mode="floor")
        idx_x = idx % self.feat_sz
        idx2 = idx.unsqueeze(1).expand(idx.shape[0], 2, 1)
        size = size_map.flatten(2).gather(dim=2, index=idx2)
        offset = offset_map.flatten(2).gather(dim=2, index=idx2).squeeze(-1)
        bbox = torch.cat([(idx_x.to(torch.float) + offset[:, :1]) / self.feat_sz,
                          (idx_y.to(torch.float) + offset[:, 1:]) / self.feat_sz, size.squeeze(-1)], dim=1)
        return (bbox, max_score) if return_score else bbox

    def forward(self, x: torch.Tensor, gt_score_map: torch.Tensor | None = None):
        score_map, size_map, offset_map = self.get_score_map(x)
        ref = score_map if gt_score_map is None else gt_score_map.unsqueeze(1)
        return score_map, self.cal_bbox(ref, size_map, offset_map), size_map, offset_map
