"""The one return type of every network in ``training.models``."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator, Mapping
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


def map_tensors(fn: Callable[..., Tensor], *values):
    """`fn` applied to the tensors at the same place of `values` (Tensors, mappings, or dataclasses such
    as NetOutput, nested; all shaped alike), the structure kept; anything else is taken from the first.
    E.g. map_tensors(lambda t: t[rows], output) selects rows of an output, and
    map_tensors(lambda *ts: torch.cat(ts), *outputs) joins several outputs' rows."""
    first = values[0]
    if isinstance(first, Tensor):
        return fn(*values)
    if isinstance(first, Mapping):
        return {k: map_tensors(fn, *(v[k] for v in values)) for k in first}
    if dataclasses.is_dataclass(first):
        return dataclasses.replace(first, **{f.name: map_tensors(fn, *(getattr(v, f.name) for v in values))
                                             for f in dataclasses.fields(first)})
    return first


def tensors_of(value) -> Iterator[Tensor]:
    """Every tensor in `value`, in map_tensors' order."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from tensors_of(item)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from tensors_of(getattr(value, f.name))
