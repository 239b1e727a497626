"""Stages that train one network with cross-entropy, and the `arch` records that rebuild them.

    VideoClassifier     TRN on video clips, L = CE                 (VSKD teacher, SAKDN video baseline)
    SensorClassifier    ResNet on one modality's GAF, or the raw-signal
                        encoder on its stream, L = CE              (VSKD sensor baseline)
    SensorTeacherStage  VGG16-BN (or raw-signal encoder) per modality (+ SPAMFM),
                        L = CE(fused) + mean_m CE_m + w_sem * mean_m MSE(fc7_m, E[y])   (SAKDN stage 1)

A sensor network reads GAF images (arch.gaf_size) or the stream on the shared time grid of
training.data.streams (arch.stream_seconds); every stage names what it reads in gaf_size /
stream_seconds (None where it reads no such input), which the data side follows.

The distillation stages (recipes/sakdn.py, recipes/vskd.py) extend the first two with a frozen
teacher. `arch` is the network's typed record (training.models.archs), saved in every checkpoint;
`classifier_stage(arch)` wraps a freshly built network of it for evaluation.
"""
from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from training.data.loaders import CLIPS, TAKES, Batch, Needs
from training.distill.losses import unit_rms
from training.engine.trainer import Stage, StepOutput
from training.models.archs import Arch, Raw1DArch, ResNetArch, SensorTeachersArch, TRNArch
from training.models.fusion import SensorTeachers
from training.models.raw1d import RawEncoder
from training.models.resnet import ResNetStudent
from training.models.trn import TRN


class VideoClassifier(Stage):
    """TRN over the clip's segments; head 'video'."""

    heads = ("video",)
    unit = CLIPS

    def __init__(self, net: TRN, arch: TRNArch):
        super().__init__()
        self.net, self.arch = net, arch
        self.train_needs = self.eval_needs = Needs(video=True)
        self.video_arch = arch

    def compile_targets(self) -> list[nn.Module]:
        return [self.net]

    def forward(self, batch: Batch) -> StepOutput:
        out = self.net(batch.video)
        ce = self.cross_entropy(out.logits, batch.label)
        return StepOutput(loss=ce, terms={"ce": ce}, logits=out.logits)

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        return {"video": self.net(batch.video).logits}


class SensorClassifier(Stage):
    """ResNet on the GAF images, or the raw-signal encoder on the stream, of one sensor modality;
    head = the modality name."""

    unit = TAKES

    def __init__(self, net: ResNetStudent | RawEncoder, modality: str, arch: ResNetArch | Raw1DArch):
        super().__init__()
        self.net, self.modality, self.arch = net, modality, arch
        self.heads = (modality,)
        self.train_needs = self.eval_needs = Needs(modalities=(modality,))
        self.gaf_size, self.stream_seconds = arch.gaf_size, arch.stream_seconds

    def compile_targets(self) -> list[nn.Module]:
        return [self.net]

    def forward(self, batch: Batch) -> StepOutput:
        out = self.net(batch.sensors[self.modality])
        ce = self.cross_entropy(out.logits, batch.label)
        return StepOutput(loss=ce, terms={"ce": ce}, logits=out.logits)

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        return {self.modality: self.net(batch.sensors[self.modality]).logits}


class SensorTeacherStage(Stage):
    """SAKDN stage 1: heads 'fused' then one per modality; with one modality its head alone (the fused
    output of one network, named after its sensor).

    L = CE(fused logits) + mean_m CE(logits_m) + semantic_weight * mean_m MSE(fc7_m, E[y]),
    E (C, D) the class embedding of the store (GloVe vectors of the class names) scaled to unit RMS
    (training.distill.losses.unit_rms), so the weight means the same for 50-d and 300-d vectors.
    """

    unit = TAKES

    def __init__(self, net: SensorTeachers, arch: SensorTeachersArch, class_embedding: Tensor | None = None,
                 semantic_weight: float = 1.0):
        super().__init__()
        self.net, self.arch = net, arch
        self.modalities = tuple(net.modalities)
        self.heads = ("fused", *self.modalities) if len(self.modalities) > 1 else self.modalities
        self.train_needs = self.eval_needs = Needs(modalities=self.modalities)
        self.gaf_size, self.stream_seconds = arch.gaf_size, arch.stream_seconds
        self.semantic_weight = semantic_weight
        if class_embedding is not None:
            self.register_buffer("class_embedding", unit_rms(class_embedding.float()), persistent=False)
        else:
            self.class_embedding = None

    def compile_targets(self) -> list[nn.Module]:
        return list(self.net.nets.values())

    def forward(self, batch: Batch) -> StepOutput:
        out = self.net(batch.sensors)
        per_logits = out.extras["per_modality_logits"]
        per_embedding = out.extras["per_modality_embedding"]
        terms = {
            "ce_fused": self.cross_entropy(out.logits, batch.label),
            "ce": sum(self.cross_entropy(per_logits[m], batch.label) for m in self.modalities) / len(self.modalities),
        }
        if self.semantic_weight > 0 and self.class_embedding is not None:
            target = self.class_embedding[batch.label]
            semantic = sum(F.mse_loss(per_embedding[m].float(), target) for m in self.modalities) / len(self.modalities)
            terms["semantic"] = self.semantic_weight * semantic
        return StepOutput(loss=sum(terms.values()), terms=terms, logits=out.logits)

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        out = self.net(batch.sensors)
        if len(self.modalities) == 1:
            return {self.modalities[0]: out.logits}
        return {"fused": out.logits, **out.extras["per_modality_logits"]}


# The evaluation stage of each kind of network: a freshly built network of the record, wrapped.
CLASSIFIERS: dict[type[Arch], Callable[[Arch], Stage]] = {
    TRNArch: lambda arch: VideoClassifier(arch.build(), arch),
    ResNetArch: lambda arch: SensorClassifier(arch.build(), arch.modality, arch),
    Raw1DArch: lambda arch: SensorClassifier(arch.build(), arch.modality, arch),
    SensorTeachersArch: lambda arch: SensorTeacherStage(arch.build(), arch),
}


def classifier_stage(arch: Arch) -> Stage:
    """An evaluation stage around a freshly built network of `arch` (load the weights after)."""
    return CLASSIFIERS[type(arch)](arch)
