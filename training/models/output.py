"""The one return type of every network in ``training.models``."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from torch import Tensor, nn


@dataclass
class NetOutput:
    """What a forward pass returns.

    logits: (B, num_classes) class scores (no softmax).
    embedding: (B, D) semantic feature (signed, pre-activation; see each network's docstring).
    taps: named intermediate feature maps, each (B, C, H, W), in network order.
    extras: anything network-specific (e.g. per-modality logits of a fused teacher).
    """

    logits: Tensor
    embedding: Tensor
    taps: dict[str, Tensor]
    extras: dict = field(default_factory=dict)


def staged_forward(stages: Mapping[str, nn.Module], tap_names: Collection[str], classifier: nn.Module,
                   x: Tensor) -> NetOutput:
    """The sensor networks' contract (VGG16BN, RawEncoder): x through the named stages in order, the
    last stage's output is the embedding, `classifier` maps it to logits, the stages in tap_names are taps."""
    taps: dict[str, Tensor] = {}
    for name, stage in stages.items():
        x = stage(x)
        if name in tap_names:
            taps[name] = x
    return NetOutput(logits=classifier(x), embedding=x, taps=taps)
