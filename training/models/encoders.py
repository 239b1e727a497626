"""SENSOR_ENCODERS: how a network reads one sensor, the one place that knows each encoder.

    gaf   the papers' way: Gramian Angular Field images of the stored signal, gaf_size x gaf_size per
          axis; VGG16-BN as SAKDN's teachers, ResNet18 as VSKD's student and the sensor baselines
    raw   the stream itself on one time grid shared by all takes (training.data.streams), duration
          kept; the raw-signal ResNet-1D (training.models.raw1d) for teachers and students alike

An entry gives the teacher network of the fused sensor teachers (training.models.fusion), the arch
record of a one-sensor student, which input the data side serves, the names results tables print,
and the weights kind `--pretrained-sensor` loads into each (None: trained from scratch only). A new
encoder is one entry here (and its networks); `train --sensor-encoder NAME` then offers it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from training.models.archs import OneSensorArch, Raw1DArch, ResNetArch
from training.models.raw1d import RawEncoder
from training.models.vgg import VGG16BN


@dataclass(frozen=True)
class SensorEncoder:
    """One way of reading a sensor (module docstring). `student(num_classes, embed_dim, modality,
    gaf_size, stream_seconds)` is the arch record of a one-sensor network; `reads_stream` says
    whether the networks read the stream (stream_seconds) or GAF images (gaf_size). With
    --log-dynamics a stream encoder's teacher is called with log_dynamics=True and its student
    record gets the field set (training.recipes.common.stream_reading)."""

    teacher: Callable[..., nn.Module]
    student: Callable[[int, int, str, int | None, float | None], OneSensorArch]
    reads_stream: bool
    teacher_name: str
    student_name: str
    input_name: str
    teacher_weights: str | None = None
    student_weights: str | None = None


def _gaf_student(num_classes: int, embed_dim: int, modality: str, gaf_size: int | None,
                 stream_seconds: float | None) -> OneSensorArch:
    return ResNetArch(num_classes=num_classes, embed_dim=embed_dim, modality=modality, gaf_size=gaf_size)


def _raw_student(num_classes: int, embed_dim: int, modality: str, gaf_size: int | None,
                 stream_seconds: float | None) -> OneSensorArch:
    return Raw1DArch(num_classes=num_classes, embed_dim=embed_dim, modality=modality, stream_seconds=stream_seconds)


SENSOR_ENCODERS: dict[str, SensorEncoder] = {
    "gaf": SensorEncoder(VGG16BN, _gaf_student, reads_stream=False, teacher_name="VGG16-BN", student_name="ResNet18",
                         input_name="GAF", teacher_weights="vgg16_bn", student_weights="resnet"),
    "raw": SensorEncoder(RawEncoder, _raw_student, reads_stream=True, teacher_name="raw-signal ResNet-1D",
                         student_name="raw-signal ResNet-1D", input_name="stream"),
}


def sensor_encoder(name: str) -> SensorEncoder:
    """The registry entry of an encoder name; ValueError naming the choices for an unknown one."""
    try:
        return SENSOR_ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown sensor encoder {name!r}; choose one of {', '.join(SENSOR_ENCODERS)}") from None
