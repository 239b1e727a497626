"""Typed records of the networks a run trains: what a checkpoint holds, and how to build it again.

    TRNArch              TRN on video clips                    (SAKDN student, VSKD teacher, video baseline)
    ResNetArch           ResNet on one modality's GAF images   (VSKD student, sensor baseline)
    Raw1DArch            raw-signal ResNet-1D on one modality's stream
    SensorTeachersArch   one network per modality, SPAMFM-fused (SAKDN stage 1)

Every record is a frozen dataclass: `build()` returns the untrained network, `to_dict()` gives
plain types (what a checkpoint stores, so `torch.load(weights_only=True)` reads it), and
`arch_from_dict` reads one back through the ARCHS registry, also from checkpoints written before
a field was renamed. A new network is one record class with its `kind`, added to ARCHS.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

# Fields renamed since checkpoints were first written: old name -> new name.
RENAMED_FIELDS = {"frame_size": "crop_size"}


@dataclass(frozen=True, kw_only=True)
class Arch(ABC):
    """The fields every network shares. gaf_size: the GAF side it reads (None: no GAF input);
    stream_seconds: the time grid of a raw-signal encoder (None: no stream input); log_dynamics: a
    raw-signal encoder also reads each axis's motion on a log scale (training.models.raw1d.LogDynamics;
    False in records written before it existed, whose networks lack it)."""

    kind: ClassVar[str]
    num_classes: int
    embed_dim: int
    gaf_size: int | None = None
    stream_seconds: float | None = None
    log_dynamics: bool = False

    @abstractmethod
    def build(self) -> nn.Module:
        """The untrained network this record describes."""

    def sensor_modalities(self) -> tuple[str, ...]:
        """The sensor modalities the network reads (none for video)."""
        return ()

    @property
    @abstractmethod
    def network(self) -> str:
        """How a results table names the network."""

    def to_dict(self) -> dict[str, Any]:
        """{'kind': ..., every field}; tuples as lists."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"kind": self.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}}


@dataclass(frozen=True, kw_only=True)
class TRNArch(Arch):
    """A TRN over `segments` frames cropped to crop_size x crop_size (video_input: rgb | motion)."""

    kind: ClassVar[str] = "trn"
    segments: int
    backbone: str
    dropout: float
    crop_size: int
    video_input: str = "rgb"

    def build(self) -> nn.Module:
        from training.models.trn import TRN

        return TRN(self.num_classes, self.segments, backbone=self.backbone, embed_dim=self.embed_dim,
                   dropout=self.dropout)

    @property
    def network(self) -> str:
        return f"TRN-{self.backbone}"


@dataclass(frozen=True, kw_only=True)
class OneSensorArch(Arch):
    """A network that reads one sensor modality."""

    modality: str

    def sensor_modalities(self) -> tuple[str, ...]:
        return (self.modality,)


@dataclass(frozen=True, kw_only=True)
class ResNetArch(OneSensorArch):
    """A ResNet of `depth` on gaf_size x gaf_size GAF images of one modality."""

    kind: ClassVar[str] = "resnet"
    gaf_size: int
    depth: int = 18

    def build(self) -> nn.Module:
        from training.models.resnet import ResNetStudent

        return ResNetStudent(self.depth, self.num_classes, embed_dim=self.embed_dim)

    @property
    def network(self) -> str:
        return f"ResNet{self.depth}"


@dataclass(frozen=True, kw_only=True)
class Raw1DArch(OneSensorArch):
    """The raw-signal encoder (ResNet-1D) on one modality's stream over a grid of stream_seconds."""

    kind: ClassVar[str] = "raw1d"
    stream_seconds: float

    def build(self) -> nn.Module:
        from training.models.raw1d import RawEncoder

        return RawEncoder(self.num_classes, embed_dim=self.embed_dim, log_dynamics=self.log_dynamics)

    @property
    def network(self) -> str:
        return "raw-signal ResNet-1D"


@dataclass(frozen=True, kw_only=True)
class SensorTeachersArch(Arch):
    """One network per modality, SPAMFM-fused when `fuse` (with `gate` and `eval_descriptor`, see
    training.models.fusion), each the teacher network of `encoder` (training.models.encoders): on GAF
    images (gaf_size set) or on the streams (stream_seconds set)."""

    kind: ClassVar[str] = "sensor_teachers"
    modalities: tuple[str, ...]
    fuse: bool
    gate: str
    eval_descriptor: str
    encoder: str = "gaf"
    fusion_stages: tuple[str, ...] = ()  # the stages SPAMFM follows; empty: every stage

    def build(self) -> nn.Module:
        from training.models.fusion import SensorTeachers

        return SensorTeachers(self.modalities, self.num_classes, embed_dim=self.embed_dim, fuse=self.fuse,
                              gate=self.gate, eval_descriptor=self.eval_descriptor, encoder=self.encoder,
                              fusion_stages=self.fusion_stages or None, log_dynamics=self.log_dynamics)

    def sensor_modalities(self) -> tuple[str, ...]:
        return self.modalities

    @property
    def network(self) -> str:
        from training.models.encoders import sensor_encoder

        network = sensor_encoder(self.encoder).teacher_name
        return f"{network} + SPAMFM" if self.fuse and len(self.modalities) > 1 else network


ARCHS: dict[str, type[Arch]] = {cls.kind: cls for cls in (TRNArch, ResNetArch, Raw1DArch, SensorTeachersArch)}


def arch_from_dict(raw: Mapping[str, Any]) -> Arch:
    """The record `to_dict` wrote; ValueError for a kind ARCHS does not know or a field it lacks."""
    kind = raw.get("kind")
    if kind not in ARCHS:
        raise ValueError(f"unknown network kind {kind!r} (known: {', '.join(ARCHS)})")
    cls = ARCHS[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    values = {RENAMED_FIELDS.get(k, k): tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        return cls(**{k: v for k, v in values.items() if k in names})
    except TypeError as error:
        raise ValueError(f"a {kind!r} record lacks a field ({error})") from None
