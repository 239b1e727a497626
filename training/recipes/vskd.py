"""VSKD (vision -> sensor): a TRN video teacher distilled into a ResNet18 on one modality's GAF
(or, with --sensor-encoder raw, the raw-signal encoder on its stream).

Stage 1 ("teachers"): VideoClassifier (TRN, CE) on the clips.
Stage 2 ("student"): ResNet18 on the GAF images of `student_modality`; each training take is
paired with one of ITS clips (random in training), which the frozen teacher sees:

    L = CE + DASK,  DASK = alpha * KD_T + beta * (L_distance + L_angle) + gamma * L_semantic
    KD_T      = T^2 KL(softmax(t/T) || softmax(s/T))
    L_distance, L_angle = RKD distance / angle (smooth-L1) between the embeddings
    L_semantic = MSE(student fc0, teacher semantic feature)

`--ablate distance,angle,semantic` drops a DASK term (then neither computed nor logged);
`--kd NAME` replaces DASK by one baseline of the LOSSES registry; `--kd none` trains the sensor
baseline (CE only, no teacher, no video).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.archs import Raw1DArch, ResNetArch, TRNArch
from training.data import Batch, Needs
from training.engine import StepOutput
from training.losses import build_loss
from training.models.raw1d import RawEncoder
from training.models.resnet import ResNetStudent
from training.models.trn import TRN
from training.options import KD_NONE, RunOptions
from training.recipes.classifiers import SensorClassifier, VideoClassifier
from training.recipes.common import (
    RecipeError,
    baseline_kd,
    freeze,
    load_frozen,
    load_pretrained_weights,
    stream_seconds,
    teachers_run,
    video_network,
)

class VskdStudent(SensorClassifier):
    """ResNet student on one modality with a frozen TRN teacher on the paired clip."""

    def __init__(self, net: ResNetStudent | RawEncoder, modality: str, arch: ResNetArch | Raw1DArch, teacher: TRN,
                 teacher_arch: TRNArch, options: RunOptions):
        super().__init__(net, modality, arch)
        self.teacher = freeze(teacher)
        self.train_needs = Needs(video=True, modalities=(modality,))
        self.video_arch = teacher_arch
        self.kd_name = options.kd
        if options.kd is not None:
            self.kd, self.kd_weight = baseline_kd(options.kd, options.kd_weight, student_taps=net.tap_names,
                                                  teacher_taps=teacher.gsdm_taps[1:], embed_dim=net.embed_dim,
                                                  temperature=options.temperature)
        else:
            switches = {term: term not in options.ablate for term in ("distance", "angle", "semantic")}
            self.dask = build_loss("dask", T=options.temperature, alpha=options.alpha, beta=options.beta,
                                   gamma=options.gamma, **switches)
            self.weights = {"kd": options.alpha, "distance": options.beta, "angle": options.beta,
                            "semantic": options.gamma}

    def frozen_modules(self) -> list[nn.Module]:
        return [self.teacher]

    def forward(self, batch: Batch) -> StepOutput:
        student = self.net(batch.sensors[self.modality])
        with torch.no_grad():
            teacher = self.teacher(batch.video)
        terms = {"ce": F.cross_entropy(student.logits, batch.label)}
        if self.kd_name is not None:
            terms[f"kd_{self.kd_name}"] = self.kd_weight * self.kd(student, teacher, labels=batch.label)
        else:
            for name, value in self.dask.terms(student, teacher).items():
                if self.weights[name] != 0:
                    terms[name] = self.weights[name] * value
        return StepOutput(loss=sum(terms.values()), terms=terms, logits=student.logits)


def teachers_stage(store: Store, spec: DatasetSpec, options: RunOptions, segments: int) -> VideoClassifier:
    """Stage 1: the TRN video teacher (CE)."""
    return VideoClassifier(*video_network(store, spec, options, segments))


def student_modality(store: Store, options: RunOptions) -> str:
    modality = options.student_modality or (store.modalities[0] if store.modalities else None)
    if modality is None:
        raise RecipeError(f"{store.path}: store holds no sensor modality for the student")
    return modality


def student_network(store: Store, spec: DatasetSpec, options: RunOptions,
                    seconds: float | None = None) -> SensorClassifier:
    """The student modality's network, CE only: ResNet18 on its GAF images (with --pretrained-sensor
    weights), or with --sensor-encoder raw the raw-signal encoder on its stream over a grid of
    `seconds` (None: the store's, recipes.common.stream_seconds)."""
    modality = student_modality(store, options)
    embed_dim = store.class_embedding.shape[1]
    if options.sensor_encoder == "raw":
        if options.pretrained_sensor:
            raise RecipeError("--pretrained-sensor holds GAF network weights; --sensor-encoder raw trains from scratch")
        arch = Raw1DArch(num_classes=spec.num_classes, embed_dim=embed_dim, modality=modality,
                         stream_seconds=seconds or stream_seconds(store, (modality,)))
        return SensorClassifier(arch.build(), modality, arch)
    arch = ResNetArch(num_classes=spec.num_classes, embed_dim=embed_dim, modality=modality,
                      gaf_size=options.data.gaf_size or store.layout.gaf_size)
    net = arch.build()
    if options.pretrained_sensor:
        load_pretrained_weights(net, options.pretrained_sensor, "resnet")
    return SensorClassifier(net, modality, arch)


def student_stage(store: Store, spec: DatasetSpec, options: RunOptions, teachers_dir: Path | None) -> SensorClassifier:
    """Stage 2: ResNet18 on the student modality (with the frozen TRN teacher unless --kd none)."""
    baseline = student_network(store, spec, options)
    if options.kd == KD_NONE:
        return baseline
    teacher, teacher_arch = load_frozen(teachers_run(teachers_dir), TRNArch, spec, store)
    return VskdStudent(baseline.net, baseline.modality, baseline.arch, teacher, teacher_arch, options)
