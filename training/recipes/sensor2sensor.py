"""sensor2sensor: many sensors teach one. SAKDN's fused sensor teachers distilled into a ResNet18 on
ONE sensor modality (a watch, a phone), with the losses that work across networks of different inputs.

Stage 1 ("teachers"): SAKDN's SensorTeacherStage (VGG16-BN per teacher modality + SPAMFM) on the
modalities of `--teacher-modalities` (default: every modality of the store, the student's included).
Stage 2 ("student"): ResNet18 on the GAF images of `student_modality`; the frozen teachers see the
GAF images of the SAME take (every batch row is one take), and the fused teacher is one teacher.
With --sensor-encoder raw, teachers and student are raw-signal ResNet-1Ds on the streams, on the
teachers' time grid:

    L = CE + DASK,  DASK = w_st * KD_T + w_distance * L_distance + w_angle * L_angle + w_semantic * L_semantic
    (Table I: alpha the soft target, beta both RKD terms, gamma the semantic term)
    KD_T       = T^2 KL(softmax(t/T) || softmax(s/T)),   t = the fused logits (mean over teachers)
    L_distance, L_angle = RKD distance / angle between the student's and the fused embedding
    L_semantic = MSE(student fc0, fused fc7)

`--ablate st,distance,angle,semantic` drops a term; `--kd NAME` replaces DASK by one baseline of the
LOSSES registry (st, sp, rkd, at, ...); `--kd none` trains the single-sensor baseline (CE only).
"""
from __future__ import annotations

from pathlib import Path

from torch import Tensor

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.data.loaders import Batch, Needs
from training.distill.losses import build_loss
from training.engine.trainer import Stage
from training.models.archs import Raw1DArch, ResNetArch, SensorTeachersArch
from training.models.fusion import SensorTeachers
from training.models.output import NetOutput
from training.models.raw1d import RawEncoder
from training.models.resnet import ResNetStudent
from training.options import KD_NONE, RunOptions
from training.recipes.classifiers import SensorClassifier
from training.recipes.common import RecipeError, load_frozen, teachers_run
from training.recipes.student import DistilledStudent
from training.recipes.vskd import DASK_TERMS, dask_switches, distilled_title, student_network


class SensorStudent(DistilledStudent, SensorClassifier):
    """ResNet student on one modality with frozen fused SensorTeachers on the same take's other sensors."""

    TERMS = DASK_TERMS

    def __init__(self, net: ResNetStudent | RawEncoder, modality: str, arch: ResNetArch | Raw1DArch,
                 teachers: SensorTeachers, options: RunOptions):
        super().__init__(net, modality, arch)
        self.train_needs = Needs(modalities=tuple(dict.fromkeys((modality, *teachers.modalities))))
        depth = len(net.tap_names)  # the teachers' last taps, as deep as the student's
        teacher_taps = [f"{m}.{tap}" for m in teachers.modalities for tap in teachers.nets[m].tap_names[-depth:]]
        self.distil_from(teachers, options.weights, options, (net.tap_names, teacher_taps))
        if options.kd is None:
            self.dask = build_loss("dask", T=options.temperature, per_teacher=False, **dask_switches(options))

    def student_output(self, batch: Batch) -> NetOutput:
        return self.net(batch.sensors[self.modality])

    def teacher_output(self, batch: Batch) -> NetOutput:
        """The teachers' fused output as one teacher (their per-sensor outputs left out)."""
        out = self.teacher({m: batch.sensors[m] for m in self.teacher.modalities})
        return NetOutput(logits=out.logits, embedding=out.embedding, taps=out.taps)

    def method_terms(self, student: NetOutput, teacher: NetOutput, batch: Batch) -> dict[str, Tensor]:
        return self.dask.terms(student, teacher)


def student_title(stage: Stage, options: RunOptions) -> str:
    return distilled_title("sensor student of the fused teachers", stage, options)


def student_stage(store: Store, spec: DatasetSpec, options: RunOptions, teachers_dir: Path | None) -> SensorClassifier:
    """Stage 2: ResNet18 on the student modality, with the frozen fused teachers unless --kd none."""
    if options.kd == KD_NONE:
        return student_network(store, spec, options)
    teachers, teacher_arch = load_frozen(teachers_run(teachers_dir), SensorTeachersArch, spec, store)
    if teacher_arch.encoder != options.sensor_encoder:
        raise RecipeError(f"{teachers_dir}: teachers read {teacher_arch.encoder} sensor inputs, the student "
                          f"--sensor-encoder {options.sensor_encoder}; train both with one encoder")
    baseline = student_network(store, spec, options, teacher_arch.stream_seconds)
    if teacher_arch.gaf_size != baseline.arch.gaf_size:
        raise RecipeError(f"{teachers_dir}: teachers read {teacher_arch.gaf_size} px GAF images, the student "
                          f"{baseline.arch.gaf_size} px; train both at one --gaf-size")
    return SensorStudent(baseline.net, baseline.modality, baseline.arch, teachers, options)
