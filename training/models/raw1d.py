"""ResNet-1D: the raw-signal sensor encoder beside the GAF networks (VGG16-BN teacher, ResNet18 student).

Input (B, 4, T): a take's stream on the shared time grid of ``training.data.streams`` (three axes
and the extent mask); with ``log_dynamics`` the stem first adds each axis's motion on a log scale
(``LogDynamics``: 7 channels). The 1-D convolutions are (1, k) 2-D convolutions on the input viewed as (B, 4, 1, T), so every tap is a
(B, C, 1, T_k) map that SPAMFM, GSDM and the attention losses take as they take image maps.

Layout (``stages`` in order, then ``classifier``), the same stage contract as ``VGG16BN``, so
``SensorTeachers`` builds and fuses either::

    block1     [LogDynamics], conv 1x7 / 2 - BN - ReLU, BasicBlock  (widths[0] channels, T/2)
    block2..4  BasicBlock / 2, BasicBlock                           (widths[1..3],      T/4 .. T/16)
    fc6        global average pool -> Linear(widths[3], D, no bias) -> BN1d -> ReLU
    fc7        Linear(D, D)     the semantic layer; its (signed) output is the embedding
    classifier Linear(D, C)     on fc7's output

BasicBlock is torchvision's (two k-wide convs with BN, identity or 1x1-conv shortcut), along time.
Global pooling makes the network length-agnostic; the grid keeps the duration it pools over.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.gaf import LOG_SCALE_EPS

from .output import NetOutput, staged_forward
from .vgg import semantic_head

RAW_WIDTHS: tuple[int, ...] = (32, 64, 128, 256)
RAW_BLOCKS: tuple[str, ...] = ("block1", "block2", "block3", "block4")


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, (1, kernel), stride=(1, stride), padding=(0, kernel // 2), bias=False)


class AsRow(nn.Module):
    """(B, C, T) -> (B, C, 1, T); a (B, C, 1, T) input passes unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(2)
        if x.dim() != 4 or x.shape[2] != 1 or x.shape[-1] < 16:
            raise ValueError(f"RawEncoder expects (B, C, T) or (B, C, 1, T) with T >= 16, got {tuple(x.shape)}")
        return x


class LogDynamics(nn.Module):
    """(B, 4, 1, T) stream -> (B, 7, 1, T): the stream, then per axis c its motion on a log scale,

        d_c(t) = (x_c(t) - mean_{mask} x_c) * mask(t),    z_c(t) = sign(d_c(t)) * log(1 + |d_c(t)| / eps),

    the mean taken over the take's extent (mask = channel 3), so the padding stays 0.

    Why: the grid keeps every sensor's fixed physical range, so the motion of a weak site is tiny beside
    gravity and beside the strong actions. At Berkeley's ankles, clapping and waving move 0.015 g (std over
    the take) against 0.7 g for a jump: 0.007 of the [-1, 1] scale. A forest of statistics thresholds such
    differences at any scale; the linear stream hides them (the ankle networks ended at 72-77 % TRAINING
    accuracy). The log spreads 0.005-1 g over ~0.7-6 and keeps sign and order; the linear channels keep
    the gravity level (the sensor's orientation).
    """

    def __init__(self, eps: float = LOG_SCALE_EPS) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        axes, mask = x[:, :-1], x[:, -1:]
        mean = (axes * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp(min=1)
        motion = (axes - mean) * mask
        return torch.cat([x, torch.sign(motion) * torch.log1p(motion.abs() / self.eps)], dim=1)


class BasicBlock1d(nn.Module):
    """x -> ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)), convolutions along time (1 x kernel)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel: int = 5) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv(in_channels, out_channels, kernel, stride), nn.BatchNorm2d(out_channels)
        self.conv2, self.bn2 = _conv(out_channels, out_channels, kernel), nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(_conv(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class RawEncoder(nn.Module):
    """ResNet-1D on (B, in_channels, T) or (B, in_channels, 1, T), T >= 16 -> NetOutput.

    taps: block1..block4 outputs (B, widths[k], 1, T / 2^(k+1)); embedding: fc7 output (B, embed_dim);
    logits (B, num_classes). log_dynamics: the stem adds LogDynamics' in_channels - 1 motion channels
    (the last input channel is the extent mask).
    """

    def __init__(self, num_classes: int, embed_dim: int = 300, in_channels: int = 4,
                 widths: tuple[int, ...] = RAW_WIDTHS, log_dynamics: bool = False) -> None:
        super().__init__()
        if num_classes < 1 or embed_dim < 1 or in_channels < 1 or len(widths) != len(RAW_BLOCKS):
            raise ValueError(f"RawEncoder: num_classes, embed_dim, in_channels >= 1 and {len(RAW_BLOCKS)} widths "
                             f"needed, got {num_classes}, {embed_dim}, {in_channels}, {widths}")
        self.num_classes, self.embed_dim = num_classes, embed_dim
        self.log_dynamics = log_dynamics
        read = [AsRow(), LogDynamics()] if log_dynamics else [AsRow()]
        channels = 2 * in_channels - 1 if log_dynamics else in_channels
        stem = nn.Sequential(*read, _conv(channels, widths[0], 7, 2), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages: dict[str, nn.Module] = {"block1": nn.Sequential(stem, BasicBlock1d(widths[0], widths[0]))}
        for name, (previous, width) in zip(RAW_BLOCKS[1:], zip(widths, widths[1:])):
            stages[name] = nn.Sequential(BasicBlock1d(previous, width, stride=2), BasicBlock1d(width, width))
        stages["fc6"], stages["fc7"] = semantic_head(widths[-1], embed_dim)
        self.stages = nn.ModuleDict(stages)
        self.classifier = nn.Linear(embed_dim, num_classes)
        self.tap_names: tuple[str, ...] = RAW_BLOCKS
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> NetOutput:
        return staged_forward(self.stages, self.tap_names, self.classifier, x)
