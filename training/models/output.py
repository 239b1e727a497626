"""The one return type of every network in ``training.models``."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


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
