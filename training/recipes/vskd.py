"""VSKD (vision -> sensor): a TRN video teacher distilled into a ResNet18 on one modality's GAF
(or, with --sensor-encoder raw, the raw-signal encoder on its stream).

Stage 1 ("teachers"): VideoClassifier (TRN, CE) on the clips.
Stage 2 ("student"): ResNet18 on the GAF images of `student_modality`; each training take is
paired with one of ITS clips (random in training), which the frozen teacher sees:

    L = CE + DASK,  DASK = w_st * KD_T + w_distance * L_distance + w_angle * L_angle + w_semantic * L_semantic
    (Table I: alpha the soft target, beta both RKD terms, gamma the semantic term)
    KD_T      = T^2 KL(softmax(t/T) || softmax(s/T))
    L_distance, L_angle = RKD distance / angle (smooth-L1) between the embeddings
    L_semantic = MSE(student fc0, teacher semantic feature)

`--ablate distance,angle,semantic` drops a DASK term (then neither computed nor logged);
`--kd NAME` replaces DASK by one baseline of the LOSSES registry; `--kd none` trains the sensor
baseline (CE only, no teacher, no video).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import Tensor, nn

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.data.loaders import Batch, Needs
from training.distill.losses import build_loss
from training.engine.trainer import Stage
from training.models.archs import OneSensorArch, TRNArch
from training.models.encoders import sensor_encoder
from training.models.output import NetOutput
from training.models.trn import TRN
from training.options import KD_NONE, RunOptions
from training.recipes.classifiers import SensorClassifier, VideoClassifier
from training.recipes.common import (
    RecipeError,
    load_frozen,
    load_pretrained_weights,
    pretrained_kind,
    sensor_inputs,
    stream_reading,
    teachers_run,
    video_network,
)
from training.recipes.student import DistilledStudent

DASK_TERMS = ("st", "distance", "angle", "semantic")  # soft target, RKD distance and angle, semantic


class VskdStudent(DistilledStudent, SensorClassifier):
    """ResNet student on one modality with a frozen TRN teacher on the paired clip."""

    TERMS = DASK_TERMS

    def __init__(self, net: nn.Module, modality: str, arch: OneSensorArch, teacher: TRN,
                 teacher_arch: TRNArch, options: RunOptions):
        super().__init__(net, modality, arch)
        self.train_needs = Needs(video=True, modalities=(modality,))
        self.video_arch = teacher_arch
        self.distil_from(teacher, options.weights, options, (net.tap_names, teacher.gsdm_taps[1:]))
        if options.kd is None:
            self.dask = build_loss("dask", T=options.temperature, **dask_switches(options))

    def student_output(self, batch: Batch) -> NetOutput:
        return self.net(batch.sensors[self.modality])

    def teacher_output(self, batch: Batch) -> NetOutput:
        return self.teacher(batch.video)

    def method_terms(self, student: NetOutput, teacher: NetOutput, batch: Batch) -> dict[str, Tensor]:
        return self.dask.terms(student, teacher)


def dask_switches(options: RunOptions) -> dict[str, bool]:
    """The DASK terms --ablate leaves on (the soft target is always computed)."""
    return {term: term not in options.ablate for term in DASK_TERMS[1:]}


def teachers_title(stage: Stage, options: RunOptions) -> str:
    return f"video teacher ({stage.arch.network}, CE)"


def student_title(stage: Stage, options: RunOptions) -> str:
    return distilled_title("VSKD student", stage, options)


def distilled_title(method: str, stage: Stage, options: RunOptions) -> str:
    """A one-sensor student's row: its --kd none baseline, or the method with its terms (DASK or --kd)."""
    arch = stage.arch
    if options.kd == KD_NONE:
        return f"sensor baseline ({arch.network}{' on GAF' if arch.gaf_size else ''}, CE)"
    return f"{method} ({arch.network}, {f'KD {options.kd}' if options.kd else 'DASK'})"


def teachers_stage(store: Store, spec: DatasetSpec, options: RunOptions) -> VideoClassifier:
    """Stage 1: the TRN video teacher (CE)."""
    return VideoClassifier(*video_network(store, spec, options))


def student_modality(store: Store, options: RunOptions) -> str:
    modality = options.student_modality or (store.modalities[0] if store.modalities else None)
    if modality is None:
        raise RecipeError(f"{store.path}: store holds no sensor modality for the student")
    return modality


def student_network(store: Store, spec: DatasetSpec, options: RunOptions,
                    seconds: float | None = None) -> SensorClassifier:
    """The student modality's network, CE only: ResNet18 on its GAF images (with --pretrained-sensor
    weights), or with --sensor-encoder raw the raw-signal encoder on its stream over a grid of
    `seconds` (None: the store's, recipes.common.stream_seconds, which its teachers read too)."""
    modality = student_modality(store, options)
    encoder = sensor_encoder(options.sensor_encoder)
    arch = dataclasses.replace(encoder.student(spec.num_classes, store.class_embedding.shape[1], modality,
                                               *sensor_inputs(encoder, store, options, seconds)),
                               **stream_reading(encoder, options))
    net = arch.build()
    if options.pretrained_sensor:
        load_pretrained_weights(net, options.pretrained_sensor,
                                pretrained_kind(encoder.student_weights, options.sensor_encoder))
    return SensorClassifier(net, modality, arch)


def student_stage(store: Store, spec: DatasetSpec, options: RunOptions, teachers_dir: Path | None) -> SensorClassifier:
    """Stage 2: ResNet18 on the student modality (with the frozen TRN teacher unless --kd none)."""
    baseline = student_network(store, spec, options)
    if options.kd == KD_NONE:
        return baseline
    teacher, teacher_arch = load_frozen(teachers_run(teachers_dir), TRNArch, spec, store)
    return VskdStudent(baseline.net, baseline.modality, baseline.arch, teacher, teacher_arch, options)
