"""Stages that train one network with cross-entropy, and the `arch` records that rebuild them.

    VideoClassifier     TRN on video clips, L = CE                 (VSKD teacher, SAKDN video baseline)
    SensorClassifier    ResNet on one modality's GAF, or the raw-signal
                        encoder on its stream, L = CE              (VSKD sensor baseline)
    SensorTeacherStage  VGG16-BN (or raw-signal encoder) per modality (+ SPAMFM),
                        L = CE(fused) + mean_m CE_m + w_sem * mean_m MSE(fc7_m, E[y])   (SAKDN stage 1)

A sensor network reads GAF images (arch "gaf_size") or the stream on the shared time grid of
training.streams (arch "stream_seconds"); every stage names what it reads in gaf_size /
stream_seconds (None where it reads no such input), which the data side follows.

The distillation stages (recipes/sakdn.py, recipes/vskd.py) extend the first two with a frozen
teacher. `arch` is a plain dict saved in every checkpoint; `build_network(arch)` rebuilds the
network from it and `classifier_stage(arch)` wraps it for evaluation.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from training.data import CLIPS, TAKES, Batch, Needs
from training.engine import Stage, StepOutput
from training.fusion import SensorTeachers
from training.losses import unit_rms
from training.models.raw1d import RawEncoder
from training.models.resnet import ResNetStudent
from training.models.trn import TRN


def trn_arch(num_classes: int, segments: int, backbone: str, embed_dim: int, dropout: float, crop_size: int,
             video_input: str = "rgb") -> dict:
    """A TRN over `segments` frames cropped to crop_size x crop_size (video_input: rgb | motion)."""
    return {"kind": "trn", "num_classes": num_classes, "segments": segments, "backbone": backbone,
            "embed_dim": embed_dim, "dropout": dropout, "crop_size": crop_size, "video_input": video_input}


def resnet_arch(num_classes: int, modality: str, embed_dim: int, gaf_size: int, depth: int = 18) -> dict:
    """A ResNet on gaf_size x gaf_size GAF images of one modality."""
    return {"kind": "resnet", "num_classes": num_classes, "modality": modality, "embed_dim": embed_dim,
            "gaf_size": gaf_size, "depth": depth}


def raw_arch(num_classes: int, modality: str, embed_dim: int, stream_seconds: float) -> dict:
    """The raw-signal encoder (ResNet-1D) on one modality's stream over a grid of stream_seconds."""
    return {"kind": "raw1d", "num_classes": num_classes, "modality": modality, "embed_dim": embed_dim,
            "stream_seconds": stream_seconds}


def teachers_arch(num_classes: int, modalities: tuple[str, ...], embed_dim: int, fuse: bool, gaf_size: int | None,
                  gate: str, eval_descriptor: str, stream_seconds: float | None = None) -> dict:
    """One network per modality, SPAMFM-fused (with `gate` and `eval_descriptor`, see training.fusion)
    when `fuse`: VGG16-BN on gaf_size x gaf_size GAF images, or with stream_seconds the raw-signal
    encoder on the streams."""
    return {"kind": "sensor_teachers", "num_classes": num_classes, "modalities": list(modalities),
            "embed_dim": embed_dim, "fuse": fuse, "gaf_size": None if stream_seconds else gaf_size, "gate": gate,
            "eval_descriptor": eval_descriptor, "encoder": "raw" if stream_seconds else "gaf",
            "stream_seconds": stream_seconds}


def build_network(arch: dict) -> nn.Module:
    """The (untrained) network an arch record describes."""
    if arch["kind"] == "trn":
        return TRN(arch["num_classes"], arch["segments"], backbone=arch["backbone"], embed_dim=arch["embed_dim"],
                   dropout=arch["dropout"])
    if arch["kind"] == "resnet":
        return ResNetStudent(arch["depth"], arch["num_classes"], embed_dim=arch["embed_dim"])
    if arch["kind"] == "raw1d":
        return RawEncoder(arch["num_classes"], embed_dim=arch["embed_dim"])
    if arch["kind"] == "sensor_teachers":
        return SensorTeachers(arch["modalities"], arch["num_classes"], embed_dim=arch["embed_dim"], fuse=arch["fuse"],
                              gate=arch["gate"], eval_descriptor=arch["eval_descriptor"],
                              encoder=arch.get("encoder", "gaf"))
    raise ValueError(f"unknown network kind {arch['kind']!r} in checkpoint")


class VideoClassifier(Stage):
    """TRN over the clip's segments; head 'video'.

    Every stage tells the data side what to feed it: unit (clips | takes), train_needs /
    eval_needs, video_arch (the arch of the network that reads video, for segments, crop size and
    input normalisation; None without video), gaf_size (GAF side; None: as stored) and
    stream_seconds (the stream grid of a raw-signal encoder; None: GAF input).
    """

    heads = ("video",)
    unit = CLIPS

    def __init__(self, net: TRN, arch: dict):
        super().__init__()
        self.net, self.arch = net, arch
        self.train_needs = self.eval_needs = Needs(video=True)
        self.video_arch, self.gaf_size, self.stream_seconds = arch, None, None

    def compile_targets(self) -> list[nn.Module]:
        return [self.net]

    def forward(self, batch: Batch) -> StepOutput:
        out = self.net(batch.video)
        ce = F.cross_entropy(out.logits, batch.label)
        return StepOutput(loss=ce, terms={"ce": ce}, logits=out.logits)

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        return {"video": self.net(batch.video).logits}


class SensorClassifier(Stage):
    """ResNet on the GAF images, or the raw-signal encoder on the stream, of one sensor modality;
    head = the modality name."""

    unit = TAKES

    def __init__(self, net: ResNetStudent | RawEncoder, modality: str, arch: dict):
        super().__init__()
        self.net, self.modality, self.arch = net, modality, arch
        self.heads = (modality,)
        self.train_needs = self.eval_needs = Needs(modalities=(modality,))
        self.video_arch, self.gaf_size, self.stream_seconds = None, arch.get("gaf_size"), arch.get("stream_seconds")

    def compile_targets(self) -> list[nn.Module]:
        return [self.net]

    def forward(self, batch: Batch) -> StepOutput:
        out = self.net(batch.sensors[self.modality])
        ce = F.cross_entropy(out.logits, batch.label)
        return StepOutput(loss=ce, terms={"ce": ce}, logits=out.logits)

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        return {self.modality: self.net(batch.sensors[self.modality]).logits}


class SensorTeacherStage(Stage):
    """SAKDN stage 1: heads 'fused' then one per modality; with one modality its head alone (the fused
    output of one network, named after its sensor).

    L = CE(fused logits) + mean_m CE(logits_m) + semantic_weight * mean_m MSE(fc7_m, E[y]),
    E (C, D) the class embedding of the store (GloVe vectors of the class names) scaled to unit RMS
    (training.losses.unit_rms), so the weight means the same for 50-d and 300-d vectors.
    """

    unit = TAKES

    def __init__(self, net: SensorTeachers, arch: dict, class_embedding: Tensor | None = None,
                 semantic_weight: float = 1.0):
        super().__init__()
        self.net, self.arch = net, arch
        self.modalities = tuple(net.modalities)
        self.heads = ("fused", *self.modalities) if len(self.modalities) > 1 else self.modalities
        self.train_needs = self.eval_needs = Needs(modalities=self.modalities)
        self.video_arch, self.gaf_size, self.stream_seconds = None, arch.get("gaf_size"), arch.get("stream_seconds")
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
            "ce_fused": F.cross_entropy(out.logits, batch.label),
            "ce": sum(F.cross_entropy(per_logits[m], batch.label) for m in self.modalities) / len(self.modalities),
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


def classifier_stage(arch: dict) -> Stage:
    """An evaluation stage around a freshly built network of `arch` (load the weights after)."""
    net = build_network(arch)
    if arch["kind"] == "trn":
        return VideoClassifier(net, arch)
    if arch["kind"] in ("resnet", "raw1d"):
        return SensorClassifier(net, arch["modality"], arch)
    return SensorTeacherStage(net, arch)
