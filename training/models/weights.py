"""Load pretrained weights from a LOCAL file (never the network) and say exactly what happened.

Supported ``kind``s and the key layouts they read:

    vgg16_bn     torchvision ``vgg16_bn().state_dict()``: ``features.N.*`` -> ``stages.block{k}.{i}.*``
                 (block k starts at features index 0, 7, 14, 24, 34); ``classifier.*`` is unused.
    resnet       torchvision ``resnet18/50().state_dict()``: keys as is into the ResNet trunk; ``fc.*`` unused.
    bninception  TSN/TRN-style BN-Inception: ``conv1_7x7_s2.weight`` -> ``stages.conv1.7x7_s2.weight``,
                 ``inception_3a_1x1_bn.bias`` -> ``stages.inception3a.1x1_bn.bias``; ``last_linear.*``
                 or ``fc.*`` -> ``last_linear.*`` (used when the module has a head of that size).

The file may hold the state dict itself or wrap it as ``{"state_dict": ...}`` / ``{"model": ...}``;
the prefixes ``module.`` and ``base_model.`` (DataParallel, TSN/TRN checkpoints) are stripped.
The target is the network's backbone where it has one (TRN, ResNetStudent), else the network.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .bninception import BNInception
from .resnet import ResNetTrunk
from .vgg import VGG16_BLOCKS, VGG16BN, vgg_feature_index

STRIPPED_PREFIXES = ("module.", "base_model.")
_BNI_STEM = re.compile(r"^(conv[12])_(.+)$")
_BNI_INCEPTION = re.compile(r"^inception_(\d[a-e])_(.+)$")
_VGG_FEATURE = re.compile(r"^features\.(\d+)\.(.+)$")


class WeightsError(ValueError):
    """A weights file that cannot be used at all (absent, unreadable, or nothing in it fits)."""


@dataclass
class LoadReport:
    """Outcome of ``load_pretrained``; names are the target module's state-dict keys unless noted."""

    path: Path
    kind: str
    target: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # file keys (after prefix stripping)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # (key, file, module)

    @property
    def complete(self) -> bool:
        """True when every parameter and buffer of the target came from the file."""
        return not self.missing and not self.mismatched

    @property
    def message(self) -> str:
        parts = [f"{self.path}: loaded {len(self.loaded)} tensors ({self.kind}) into {self.target}"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (kept initialised): {_preview(self.missing)}")
        if self.mismatched:
            shown = [f"{k} file {list(a)} vs module {list(b)}" for k, a, b in self.mismatched]
            parts.append(f"{len(self.mismatched)} shape mismatches (kept initialised): {_preview(shown)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unused file keys: {_preview(self.unexpected)}")
        return "; ".join(parts)

    def __str__(self) -> str:
        return self.message


def _preview(items: list[str], limit: int = 6) -> str:
    head = ", ".join(items[:limit])
    return head + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


def vgg16_bn_key(name: str) -> str | None:
    """torchvision vgg16_bn key -> VGG16BN key (None when it has no counterpart)."""
    match = _VGG_FEATURE.match(name)
    if not match:
        return None
    index, rest = int(match.group(1)), match.group(2)
    for block in range(len(VGG16_BLOCKS), 0, -1):
        start = vgg_feature_index(block, 0)
        if index >= start:
            return f"stages.block{block}.{index - start}.{rest}"
    return None


def bninception_key(name: str) -> str | None:
    """TSN/TRN BN-Inception key -> BNInception key (None when it has no counterpart)."""
    if match := _BNI_STEM.match(name):
        return f"stages.{match.group(1)}.{match.group(2)}"
    if match := _BNI_INCEPTION.match(name):
        return f"stages.inception{match.group(1)}.{match.group(2)}"
    for head in ("last_linear.", "fc."):
        if name.startswith(head):
            return "last_linear." + name[len(head):]
    return None


def resnet_key(name: str) -> str | None:
    """torchvision resnet key -> ResNetTrunk key (None for the ``fc`` head)."""
    return None if name.startswith("fc.") else name


@dataclass(frozen=True)
class WeightKind:
    """A family of published weights files: how a key of the file maps to our network's key
    (None: not loaded), and the network type the tensors go into."""

    key_map: Callable[[str], str | None]
    target: type[nn.Module]


WEIGHT_KINDS: dict[str, WeightKind] = {
    "vgg16_bn": WeightKind(vgg16_bn_key, VGG16BN),
    "resnet": WeightKind(resnet_key, ResNetTrunk),
    "bninception": WeightKind(bninception_key, BNInception),
}


def _target_module(module: nn.Module, kind: str) -> nn.Module:
    wanted = WEIGHT_KINDS[kind].target
    for candidate in (module, getattr(module, "backbone", None)):
        if isinstance(candidate, wanted):
            return candidate
    raise WeightsError(f"load_pretrained: kind {kind!r} loads into a {wanted.__name__}, and {type(module).__name__} has none")


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors of a local ``torch.save`` file, unwrapped and with DataParallel/TSN prefixes removed."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found (weights are only read from local files)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for corrupt or foreign files
        raise WeightsError(f"{path}: not a readable torch state dict ({type(exc).__name__}: {exc})") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj:
        raise WeightsError(f"{path}: expected a non-empty dict of tensors, found {type(obj).__name__}")
    tensors: dict[str, Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, Tensor):
            continue
        for prefix in STRIPPED_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        tensors[key] = value
    return tensors


def _fit(value: Tensor, shape: torch.Size) -> Tensor | None:
    """value reshaped to shape when equal up to leading singleton dims (Caffe-converted BN params are (1, C))."""
    if value.shape == shape:
        return value
    extra = value.dim() - len(shape)
    if extra > 0 and value.shape[extra:] == shape and all(d == 1 for d in value.shape[:extra]):
        return value.reshape(shape)
    return None


def load_pretrained(module: nn.Module, path: Path, kind: str) -> LoadReport:
    """Copy the matching tensors of a local weights file of ``kind`` into ``module`` (or its backbone).

    Tensors whose key has no counterpart are reported as unexpected, counterparts with another
    shape as mismatched (left as initialised), target tensors absent from the file as missing
    (BN ``num_batches_tracked`` counters are not listed). Raises WeightsError when nothing loads.
    """
    if kind not in WEIGHT_KINDS:
        raise WeightsError(f"load_pretrained: unknown kind {kind!r}; choose one of {', '.join(WEIGHT_KINDS)}")
    target = _target_module(module, kind)
    tensors = read_state_dict(Path(path))
    own = target.state_dict()
    report = LoadReport(path=Path(path), kind=kind, target=type(target).__name__)
    to_load: dict[str, Tensor] = {}
    for key, value in tensors.items():
        mapped = WEIGHT_KINDS[kind].key_map(key)
        if mapped is None or mapped not in own:
            report.unexpected.append(key)
            continue
        fitted = _fit(value, own[mapped].shape)
        if fitted is None:
            report.mismatched.append((mapped, tuple(value.shape), tuple(own[mapped].shape)))
            continue
        to_load[mapped] = fitted
    if not to_load:
        raise WeightsError(f"{path}: no tensor fits a {report.target} as kind {kind!r} ({len(tensors)} keys, e.g. {_preview(list(tensors), 3)})")
    target.load_state_dict(to_load, strict=False)
    report.loaded = sorted(to_load)
    mismatched = {k for k, _, _ in report.mismatched}
    report.missing = [k for k in own if k not in to_load and k not in mismatched and not k.endswith("num_batches_tracked")]
    return report
