"""MobileNetV2's first layers (torchvision's layout and state-dict keys), used as a frozen ImageNet stem and teacher.

Built here, never imported from torchvision (which does not load beside the CPU torch); the weights are read as
tensors only by whoever loads them (`train.distill.load_teacher`, a checkpoint of a stem model).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# torchvision's MobileNetV2 (width 1.0): expansion t, channels c, repeats n, first stride s
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
LAST_STRIDE16 = 13   # features.13: the last block at stride 16 (96 channels)
STEM_LAST = 10       # features.10: the stem's last block (64 channels at stride 16)


def _conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU6(inplace=True)] if act else layers


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand (unless t = 1), 3x3 depthwise, linear 1x1 project; a residual at stride 1."""

    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        layers = _conv_bn(cin, hidden, 1, 1) if t != 1 else []
        layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden) + _conv_bn(hidden, cout, 1, 1, act=False)
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Features(nn.Module):
    """`features.0`..`features.{last}` of torchvision's MobileNetV2 (its state dict keys)."""

    def __init__(self, last: int = LAST_STRIDE16):
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(*_conv_bn(3, 32, 3, 2))]
        widths = [32]
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                blocks.append(InvertedResidual(widths[-1], c, s if i == 0 else 1, t))
                widths.append(c)
        self.features = nn.Sequential(*blocks[:last + 1])
        self.channels = widths[last]
        self.source: Path | None = None   # the weights file, once loaded (load_teacher)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class StemEmbed(nn.Module):
    """MODEL.BACKBONE.STEM 'mobilenetv2': frozen ImageNet MobileNetV2 `features.0`-`features.10` (64 channels at
    stride 16) and a 1x1 projection to the ViT's width, in place of the 16-px patch conv; output (B, N, C) row-major.

    The stem stays in eval mode and out of the optimiser (its BatchNorm statistics are ImageNet's): training moves
    only the projection and what follows, so the features a few hundred photos cannot teach are kept."""

    def __init__(self, dim: int, last: int = STEM_LAST):
        super().__init__()
        self.stem = MobileNetV2Features(last)
        self.stem_proj = nn.Conv2d(self.stem.channels, dim, kernel_size=1)
        for p in self.stem.parameters():
            p.requires_grad_(False)
        self.stem.eval()

    def train(self, mode: bool = True) -> "StemEmbed":
        """Train the projection; the frozen stem stays in eval mode (ImageNet's BatchNorm statistics)."""
        super().train(mode)
        self.stem.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem_proj(self.stem(x)).flatten(2).transpose(1, 2)
