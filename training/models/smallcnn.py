"""A small from-scratch CNN trunk for low-resolution frames (the CPU demo's TRN backbone).

    stem:   conv3x3 (3 -> w0) + BN + ReLU                       H
    block1: maxpool 2 -> conv3x3 (w0 -> w1) + BN + ReLU          H/2
    block2: maxpool 2 -> conv3x3 (w1 -> w2) + BN + ReLU          H/4
    block3: maxpool 2 -> conv3x3 (w2 -> w3) + BN + ReLU          H/8
    block4: maxpool 2 -> conv3x3 (w3 -> w4) + BN + ReLU          H/16
    pooled: global average of block4, (N, w4)

Five named stage taps, so GSDM can pair them with VGG block1..block5 as it does ResNet's.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

SMALL_STAGES: tuple[str, ...] = ("stem", "block1", "block2", "block3", "block4")


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """(N, 3, H, W), H, W >= 32 -> ((N, out_dim) pooled, {stage: map}); widths are the five stages' channels."""

    stage_names = SMALL_STAGES

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128, 128)) -> None:
        super().__init__()
        if len(widths) != len(SMALL_STAGES):
            raise ValueError(f"SmallCNN needs {len(SMALL_STAGES)} widths, got {tuple(widths)}")
        self.widths = tuple(widths)
        self.out_dim = self.widths[-1]
        self.stem = nn.Sequential(*_conv(3, widths[0]))
        for i in range(1, len(SMALL_STAGES)):
            setattr(self, SMALL_STAGES[i], nn.Sequential(nn.MaxPool2d(2), *_conv(widths[i - 1], widths[i])))

    def features(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if x.dim() != 4 or min(x.shape[-2:]) < 32:
            raise ValueError(f"SmallCNN expects (N, 3, H, W) with H, W >= 32, got {tuple(x.shape)}")
        taps = {}
        for name in SMALL_STAGES:
            x = getattr(self, name)(x)
            taps[name] = x
        return x.mean(dim=(2, 3)), taps

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.features(x)
