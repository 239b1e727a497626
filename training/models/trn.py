"""Temporal Relation Network (Zhou et al. 2018), multi-scale, as the video student of SAKDN.

    frames (B, S, 3, H, W) -> backbone per segment -> (B*S, F) -> Dropout -> Linear(F, D) = bottleneck (B, S, D)
    relation(x) = sum over scales k = S, S-1, ..., 2 of sum over chosen k-frame tuples t of
                  g_k(concat_{i in t} x_i),   g_k = ReLU -> Linear(k*D, 256) -> ReLU -> Linear(256, C)

Frame tuples are ordered k-combinations of the S segments (itertools order). Scale S has the one
tuple (0..S-1). A smaller scale uses at most ``max_tuples`` (3, as in TRN) of its tuples: a fresh
uniform random subset per forward in training mode (torch's RNG, so ``torch.manual_seed`` fixes
it), and in eval mode a fixed set evenly spaced over the itertools order
(``round(linspace(0, n-1, max_tuples))``), so evaluation is deterministic and still mixes early
and late segments.

NetOutput: logits (B, C); embedding = mean over segments of the bottleneck (B, D) (signed, before
the relation head's ReLU); taps = the backbone stage maps in ``tap_names`` averaged over
segments, (B, C_k, h_k, w_k). ``gsdm_taps`` names the five taps paired with VGG block1..block5.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import Tensor, nn

from .bninception import BNInception
from .output import NetOutput
from .resnet import ResNetTrunk
from .smallcnn import SMALL_STAGES, SmallCNN


@dataclass(frozen=True)
class VideoBackbone:
    """A per-frame backbone of the TRN, as one registry entry.

    build() returns a module with ``out_dim``, ``stage_names`` and ``features(x) -> ((N, out_dim)
    pooled, {stage: (N, C_k, h_k, w_k)})`` for frames x (N, 3, H, W); gsdm_taps are the five stage
    maps GSDM pairs with VGG block1..block5; normalization is the input convention its pretrained
    weights expect (training.models.normalize.CONVENTIONS); weights is the key map that loads a
    local weights file into it (training.models.weights.WEIGHT_KINDS), None when none exists.
    """

    build: Callable[[], nn.Module]
    gsdm_taps: tuple[str, ...]
    normalization: str
    weights: str | None = None


_RESNET_TAPS = ("stem", "layer1", "layer2", "layer3", "layer4")
VIDEO_BACKBONES: dict[str, VideoBackbone] = {
    "bninception": VideoBackbone(partial(BNInception, num_classes=0),
                                 ("conv2", "inception3c", "inception4c", "inception5a", "inception5b"),
                                 normalization="caffe", weights="bninception"),
    "resnet18": VideoBackbone(partial(ResNetTrunk, 18), _RESNET_TAPS, normalization="imagenet", weights="resnet"),
    "resnet50": VideoBackbone(partial(ResNetTrunk, 50), _RESNET_TAPS, normalization="imagenet", weights="resnet"),
    # small from-scratch trunks for the CPU demo's low-resolution frames (no pretrained weights)
    "smallcnn": VideoBackbone(partial(SmallCNN, (16, 32, 64, 128, 128)), SMALL_STAGES, normalization="imagenet"),
}


def video_backbone(name: str) -> VideoBackbone:
    """The registry entry of a backbone name, with a clear error for an unknown one."""
    try:
        return VIDEO_BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown video backbone {name!r}; choose one of {', '.join(VIDEO_BACKBONES)}") from None


def evenly_spaced(n: int, k: int) -> list[int]:
    """k distinct indices evenly spaced over range(n) (all of them when k >= n)."""
    if k >= n:
        return list(range(n))
    return [int(i) for i in np.round(np.linspace(0, n - 1, k))]


class RelationHead(nn.Module):
    """Multi-scale temporal relation: (B, S, D) -> (B, C), see the module docstring."""

    def __init__(self, num_segments: int, feature_dim: int, num_classes: int, hidden: int = 256, max_tuples: int = 3) -> None:
        super().__init__()
        self.scales = list(range(num_segments, 1, -1))
        self.max_tuples = max_tuples
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Linear(k * feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
            for k in self.scales
        )
        for k in self.scales:
            tuples = torch.tensor(list(itertools.combinations(range(num_segments), k)), dtype=torch.long)
            self.register_buffer(f"tuples_{k}", tuples, persistent=False)

    def chosen_tuples(self, scale: int) -> Tensor:
        """(n, scale) segment indices used for this scale in the current mode."""
        tuples: Tensor = getattr(self, f"tuples_{scale}")
        n = tuples.shape[0]
        if n <= self.max_tuples:
            return tuples
        if self.training:
            pick = torch.randperm(n)[: self.max_tuples]
        else:
            pick = torch.tensor(evenly_spaced(n, self.max_tuples))
        return tuples[pick.to(tuples.device)]

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[0]
        out = x.new_zeros(())
        for scale, mlp in zip(self.scales, self.mlps):
            tuples = self.chosen_tuples(scale)
            stacked = x[:, tuples].reshape(batch * tuples.shape[0], -1)
            out = out + mlp(stacked).view(batch, tuples.shape[0], -1).sum(dim=1)
        return out


class TRN(nn.Module):
    """Multi-scale TRN: (B, num_segments, 3, H, W) normalised frames, H, W >= 32 -> NetOutput."""

    def __init__(
        self,
        num_classes: int,
        num_segments: int,
        backbone: str = "bninception",
        embed_dim: int = 300,
        dropout: float = 0.8,
        tap_names: Sequence[str] | None = None,
        relation_hidden: int = 256,
        max_tuples: int = 3,
    ) -> None:
        super().__init__()
        if num_segments < 2:
            raise ValueError(f"TRN needs num_segments >= 2 for a temporal relation, got {num_segments}")
        if num_classes < 1 or embed_dim < 1:
            raise ValueError(f"TRN: num_classes and embed_dim must be >= 1, got {num_classes}, {embed_dim}")
        self.backbone_name = backbone
        entry = video_backbone(backbone)
        self.backbone = entry.build()
        self.num_classes, self.num_segments, self.embed_dim = num_classes, num_segments, embed_dim
        self.gsdm_taps: tuple[str, ...] = entry.gsdm_taps
        self.tap_names: tuple[str, ...] = tuple(tap_names) if tap_names is not None else self.gsdm_taps
        unknown = set(self.tap_names) - set(self.backbone.stage_names)
        if unknown:
            raise ValueError(f"TRN: unknown taps {sorted(unknown)} for {backbone}; stages are {self.backbone.stage_names}")
        self.dropout = nn.Dropout(dropout)
        self.bottleneck = nn.Linear(self.backbone.out_dim, embed_dim)
        self.relation = RelationHead(num_segments, embed_dim, num_classes, relation_hidden, max_tuples)

    def forward(self, x: Tensor) -> NetOutput:
        if x.dim() != 5 or x.shape[1] != self.num_segments:
            raise ValueError(f"TRN expects (B, {self.num_segments}, 3, H, W), got {tuple(x.shape)}")
        batch, segments = x.shape[:2]
        pooled, maps = self.backbone.features(x.flatten(0, 1))
        per_segment = self.bottleneck(self.dropout(pooled)).view(batch, segments, -1)
        taps = {name: maps[name].unflatten(0, (batch, segments)).mean(dim=1) for name in self.tap_names}
        return NetOutput(logits=self.relation(per_segment), embedding=per_segment.mean(dim=1), taps=taps)
