"""SAKDN (sensor -> vision): fused VGG16-BN sensor teachers distilled into a TRN video student.

Stage 1 ("teachers"): SensorTeacherStage on the GAF images (or, with --sensor-encoder raw, the
streams) of every sensor modality.
Stage 2 ("student"): TRN on the clip, the teachers frozen (eval mode, no_grad) on the sensor
inputs of the clip's own take:

    L = CE + w_st * ST + w_gsdm * GSDM + w_semantic * SEMANTIC      (Table I: alpha, beta, gamma)
    ST       = 1/m sum_k T^2 KL(softmax(t_k/T) || softmax(s/T))            (per-teacher soft targets)
    GSDM     = graph-guided map distance of TRN.gsdm_taps vs VGG block1..5 (training.distill.gsdm;
               raw-signal teachers: their block1..4 against the last four TRN taps)
    SEMANTIC = 1/m sum_k MSE(student embedding, fc7_k)    (the paper's SP, "semantic preserving")

The weights are `--weight st=...,gsdm=...,semantic=...` (RunOptions.weights). `--ablate
st,gsdm,semantic` drops a term (it is then neither computed nor logged), `--ablate spamfm`
trains the teachers without fusion; `--kd NAME` replaces ST + GSDM + SEMANTIC by one baseline of the
LOSSES registry, weighted by kd_weight; `--kd none` trains the video baseline (CE only, no teacher).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor
from torch.autograd.profiler import record_function

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.data.loaders import Batch, Needs
from training.distill.gsdm import ablated_forward
from training.distill.losses import build_loss
from training.engine.trainer import Stage
from training.models.archs import SensorTeachersArch, TRNArch
from training.models.encoders import sensor_encoder
from training.models.fusion import SensorTeachers
from training.models.output import NetOutput
from training.models.trn import TRN
from training.options import KD_NONE, RunOptions
from training.recipes.classifiers import SensorTeacherStage, VideoClassifier
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


class SakdnStudent(DistilledStudent, VideoClassifier):
    """TRN student with frozen SensorTeachers; terms as in the module docstring."""

    TERMS = ("st", "gsdm", "semantic")

    def __init__(self, net: TRN, arch: TRNArch, teachers: SensorTeachers, teacher_arch: SensorTeachersArch,
                 class_embedding: Tensor, options: RunOptions):
        super().__init__(net, arch)
        self.train_needs = Needs(video=True, modalities=tuple(teachers.modalities))
        self.gaf_size, self.stream_seconds = teacher_arch.gaf_size, teacher_arch.stream_seconds
        teacher_taps = teachers.nets[teachers.modalities[0]].tap_names  # VGG block1..5, raw block1..4
        self.distil_from(teachers, options.weights, options,
                         (net.gsdm_taps, [f"{m}.{tap}" for m in teachers.modalities for tap in teacher_taps]))
        if options.kd is None:
            self.st = build_loss("st", T=options.temperature)
            self.gsdm = build_loss("gsdm", class_embedding=class_embedding, teacher_taps=teacher_taps,
                                   student_taps=net.gsdm_taps[len(net.gsdm_taps) - len(teacher_taps):])
            self.semantic = build_loss("semantic")

    def student_output(self, batch: Batch) -> NetOutput:
        return self.net(batch.video)

    def teacher_output(self, batch: Batch) -> NetOutput:
        return self.teacher(batch.sensors)

    def teacher_cacheable(self) -> bool:
        """GAF teachers (their images are never augmented) and the method's own terms (a --kd baseline
        may read whole taps); raw-signal teachers read augmented streams and run live."""
        return self.stream_seconds is None and self.kd_name is None

    def compact_teacher(self, output: NetOutput) -> NetOutput:
        """GSDM reads the teachers' taps only through their channel sums (losses.GSDM.compact_teacher_tap)."""
        if "gsdm" not in self.weights:
            return dataclasses.replace(output, taps={})
        return dataclasses.replace(output, taps={name: self.gsdm.compact_teacher_tap(tap)
                                                 for name, tap in output.taps.items()})

    def live_ablated_teacher(self, batch: Batch) -> NetOutput | None:
        return ablated_forward(self.teacher, batch.sensors) if "gsdm" in self.weights else None

    def method_terms(self, student: NetOutput, teacher: NetOutput, batch: Batch) -> dict[str, Tensor]:
        terms = {}
        if "st" in self.weights:
            with record_function("term.st"):
                terms["st"] = self.st(student, teacher)
        if "gsdm" in self.weights:
            with record_function("gsdm.ablated_student"):
                student_ablated = ablated_forward(self.net, batch.video)
            with record_function("gsdm.ablated_teacher"):
                teacher_ablated = self.ablated_teacher(batch)
            with record_function("term.gsdm"):
                terms["gsdm"] = self.gsdm(student, teacher, student_ablated=student_ablated,
                                          teacher_ablated=teacher_ablated)
        if "semantic" in self.weights:
            with record_function("term.semantic"):
                terms["semantic"] = self.semantic(student, teacher)
        return terms


def teachers_title(stage: Stage, options: RunOptions) -> str:
    return f"sensor teachers ({stage.arch.network})"


def student_title(stage: Stage, options: RunOptions) -> str:
    if options.kd == KD_NONE:
        return f"video baseline ({stage.arch.network}, CE)"
    return f"SAKDN student ({stage.arch.network}{f', KD {options.kd}' if options.kd else ''})"


def teachers_stage(store: Store, spec: DatasetSpec, options: RunOptions) -> SensorTeacherStage:
    """Stage 1: SensorTeachers on every requested modality of the store."""
    modalities = tuple(options.modalities or store.modalities)
    if not modalities:
        raise RecipeError(f"{store.path}: store holds no sensor modality; the sensor teachers need at least one")
    embed_dim = store.class_embedding.shape[1]
    encoder = sensor_encoder(options.sensor_encoder)
    gaf_size, seconds = sensor_inputs(encoder, store, options)
    arch = SensorTeachersArch(num_classes=spec.num_classes, embed_dim=embed_dim, modalities=modalities,
                              fuse="spamfm" not in options.ablate, gate=options.spamfm_gate,
                              eval_descriptor=options.spamfm_eval, encoder=options.sensor_encoder,
                              fusion_stages=tuple(options.spamfm_stages), gaf_size=gaf_size, stream_seconds=seconds,
                              **stream_reading(encoder, options))
    try:
        net = arch.build()
    except ValueError as error:  # an unknown --spamfm-stages name
        raise RecipeError(f"--spamfm-stages: {error}") from None
    if options.pretrained_sensor:
        for modality in modalities:
            load_pretrained_weights(net.nets[modality], options.pretrained_sensor,
                                    pretrained_kind(encoder.teacher_weights, options.sensor_encoder))
    embedding = torch.from_numpy(store.class_embedding)
    return SensorTeacherStage(net, arch, embedding, semantic_weight=options.teacher_semantic)


def student_stage(store: Store, spec: DatasetSpec, options: RunOptions, teachers_dir: Path | None) -> VideoClassifier:
    """Stage 2: the TRN student (with the frozen teachers of teachers_dir unless --kd none)."""
    net, arch = video_network(store, spec, options)
    if options.kd == KD_NONE:
        return VideoClassifier(net, arch)
    teachers, teacher_arch = load_frozen(teachers_run(teachers_dir), SensorTeachersArch, spec, store)
    if "spamfm" in options.ablate and teacher_arch.fuse:
        raise RecipeError(f"{teachers_dir}: these teachers were trained with SPAMFM; --ablate spamfm needs teachers trained with it ablated")
    return SakdnStudent(net, arch, teachers, teacher_arch, torch.from_numpy(store.class_embedding), options)
