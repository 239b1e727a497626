"""BN-Inception (Ioffe & Szegedy 2015) as the per-frame backbone of TSN/TRN; 1024-d output.

Stages (``stages`` in order; each output is a tap)::

    conv1        conv 7x7/2 64 -> BN -> ReLU -> max-pool 3x3/2 (ceil)              64 ch, H/4
    conv2        conv 1x1 64 -> BN -> ReLU -> conv 3x3 192 -> BN -> ReLU -> max-pool 192 ch, H/8
    inception3a, 3b             1x1 | 3x3 | double 3x3 | avg-pool + 1x1 proj    256, 320 ch
    inception3c  (stride 2)     3x3/2 | double 3x3 (/2) | max-pool 3x3/2        576 ch, H/16
    inception4a..4d                                                              576, 576, 608, 608 ch
    inception4e  (stride 2)                                                      1056 ch, H/32
    inception5a, 5b             (5b pools with max instead of average)           1024 ch
    global average pool -> (B, 1024)

Every conv has a bias and is followed by BN and ReLU, and the parameter names inside a stage
are those of the TSN/TRN BN-Inception files with the stage prefix turned into a module path:
``inception_3a_double_3x3_1_bn.weight`` is ``stages.inception3a.double_3x3_1_bn.weight`` here and
``conv1_7x7_s2.bias`` is ``stages.conv1.7x7_s2.bias`` (``weights.bninception_key`` maps them).

Sizes: at 224 px the stages are 56, 28, 28, 28, 14, ..., 7 px; any input from 32 px up works.
The pool branch of a stride-2 module pads an odd map by one row/column of -inf before the
ceil-mode pool, so that it matches the strided convs; on even maps it is the TSN pool exactly.
Input: (B, 3, H, W) float, BGR 0-255 minus [104, 117, 128] (``normalize.input_normalizer``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .output import NetOutput

STAGE_NAMES: tuple[str, ...] = (
    "conv1", "conv2", "inception3a", "inception3b", "inception3c",
    "inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
    "inception5a", "inception5b",
)
FEATURE_DIM = 1024


@dataclass(frozen=True)
class InceptionSpec:
    """Widths of one inception module; c1x1 = 0 and pool_proj = 0 mark a stride-2 reduction module."""

    c1x1: int
    c3x3_reduce: int
    c3x3: int
    double_reduce: int
    double: int
    pool: str  # "avg" or "max"
    pool_proj: int

    @property
    def stride(self) -> int:
        return 2 if self.c1x1 == 0 else 1

    def out_channels(self, in_channels: int) -> int:
        pool_out = self.pool_proj if self.pool_proj else in_channels
        return self.c1x1 + self.c3x3 + self.double + pool_out


INCEPTION_SPECS: dict[str, InceptionSpec] = {
    "inception3a": InceptionSpec(64, 64, 64, 64, 96, "avg", 32),
    "inception3b": InceptionSpec(64, 64, 96, 64, 96, "avg", 64),
    "inception3c": InceptionSpec(0, 128, 160, 64, 96, "max", 0),
    "inception4a": InceptionSpec(224, 64, 96, 96, 128, "avg", 128),
    "inception4b": InceptionSpec(192, 96, 128, 96, 128, "avg", 128),
    "inception4c": InceptionSpec(160, 128, 160, 128, 160, "avg", 128),
    "inception4d": InceptionSpec(96, 128, 192, 160, 192, "avg", 128),
    "inception4e": InceptionSpec(0, 128, 192, 192, 256, "max", 0),
    "inception5a": InceptionSpec(352, 192, 320, 160, 224, "avg", 128),
    "inception5b": InceptionSpec(352, 192, 320, 192, 224, "max", 128),
}


class _ConvBNStage(nn.Module):
    """Holds conv ``name`` + BN ``name_bn`` pairs; ``_chain`` runs conv -> BN -> ReLU along a list of names."""

    def _add_conv(self, name: str, in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> None:
        self.add_module(name, nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2))
        self.add_module(f"{name}_bn", nn.BatchNorm2d(out_channels))

    def _chain(self, names: tuple[str, ...], x: Tensor) -> Tensor:
        for name in names:
            x = F.relu(self.get_submodule(f"{name}_bn")(self.get_submodule(name)(x)), inplace=True)
        return x


class StemStage(_ConvBNStage):
    """conv -> BN -> ReLU layers named as in TSN, then max-pool 3x3/2 (ceil mode)."""

    def __init__(self, layers: list[tuple[str, int, int, int, int]]) -> None:
        super().__init__()
        for name, cin, cout, kernel, stride in layers:
            self._add_conv(name, cin, cout, kernel, stride)
        self.names = tuple(name for name, *_ in layers)
        self.out_channels = layers[-1][2]
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self._chain(self.names, x))


class StridedMaxPool(nn.Module):
    """Max-pool 3x3/2 in ceil mode after padding odd H or W with one -inf row/column at the end.

    Output size ceil(H/2) x ceil(W/2), equal to the 3x3/2 (pad 1) convs of the same module.
    """

    def forward(self, x: Tensor) -> Tensor:
        pad_w, pad_h = x.shape[-1] % 2, x.shape[-2] % 2
        if pad_w or pad_h:
            x = F.pad(x, (0, pad_w, 0, pad_h), value=float("-inf"))
        return F.max_pool2d(x, 3, stride=2, ceil_mode=True)


class InceptionModule(_ConvBNStage):
    """Concatenation of [1x1] | 3x3_reduce -> 3x3 | double_3x3_reduce -> 3x3 -> 3x3 | pool [-> pool_proj]."""

    def __init__(self, in_channels: int, spec: InceptionSpec) -> None:
        super().__init__()
        s = spec.stride
        self.branches: list[tuple[str, ...]] = []
        if spec.c1x1:
            self._add_conv("1x1", in_channels, spec.c1x1, 1)
            self.branches.append(("1x1",))
        self._add_conv("3x3_reduce", in_channels, spec.c3x3_reduce, 1)
        self._add_conv("3x3", spec.c3x3_reduce, spec.c3x3, 3, s)
        self.branches.append(("3x3_reduce", "3x3"))
        self._add_conv("double_3x3_reduce", in_channels, spec.double_reduce, 1)
        self._add_conv("double_3x3_1", spec.double_reduce, spec.double, 3)
        self._add_conv("double_3x3_2", spec.double, spec.double, 3, s)
        self.branches.append(("double_3x3_reduce", "double_3x3_1", "double_3x3_2"))
        if s == 2:
            self.pool: nn.Module = StridedMaxPool()
        elif spec.pool == "max":
            self.pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        else:
            self.pool = nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True, count_include_pad=True)
        self.pool_names: tuple[str, ...] = ()
        if spec.pool_proj:
            self._add_conv("pool_proj", in_channels, spec.pool_proj, 1)
            self.pool_names = ("pool_proj",)
        self.out_channels = spec.out_channels(in_channels)

    def forward(self, x: Tensor) -> Tensor:
        outs = [self._chain(names, x) for names in self.branches]
        outs.append(self._chain(self.pool_names, self.pool(x)))
        return torch.cat(outs, dim=1)


class BNInception(nn.Module):
    """BN-Inception: (B, 3, H, W), H, W >= 32 -> NetOutput.

    embedding: global-average-pooled inception5b output (B, 1024); taps: every stage in
    STAGE_NAMES; logits: ``last_linear`` (1024 -> num_classes) when num_classes > 0, else an
    empty (B, 0) tensor (backbone use). ``features(x)`` returns (pooled, taps) without the head.
    """

    out_dim = FEATURE_DIM
    stage_names = STAGE_NAMES

    def __init__(self, num_classes: int = 0) -> None:
        super().__init__()
        if num_classes < 0:
            raise ValueError(f"BNInception: num_classes must be >= 0, got {num_classes}")
        stages: dict[str, nn.Module] = {
            "conv1": StemStage([("7x7_s2", 3, 64, 7, 2)]),
            "conv2": StemStage([("3x3_reduce", 64, 64, 1, 1), ("3x3", 64, 192, 3, 1)]),
        }
        channels = 192
        for name, spec in INCEPTION_SPECS.items():
            stages[name] = InceptionModule(channels, spec)
            channels = stages[name].out_channels
        assert channels == FEATURE_DIM
        self.stages = nn.ModuleDict(stages)
        self.num_classes = num_classes
        self.last_linear = nn.Linear(FEATURE_DIM, num_classes) if num_classes else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def features(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(B, 3, H, W) -> ((B, 1024) pooled feature, {stage: (B, C, h, w)})."""
        if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < 32:
            raise ValueError(f"BNInception expects (B, 3, H, W) with H, W >= 32, got {tuple(x.shape)}")
        taps: dict[str, Tensor] = {}
        for name, stage in self.stages.items():
            x = stage(x)
            taps[name] = x
        return x.mean(dim=(2, 3)), taps

    def forward(self, x: Tensor) -> NetOutput:
        pooled, taps = self.features(x)
        logits = self.last_linear(pooled) if self.last_linear is not None else pooled.new_zeros(pooled.shape[0], 0)
        return NetOutput(logits=logits, embedding=pooled, taps=taps)
