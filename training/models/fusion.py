"""Similarity-Preserving Adaptive Multi-modal Fusion (SPAMFM) and the fused sensor teachers of SAKDN (section III-C).

For m modalities with features A_k (B, C, H, W) or (B, C) at one layer:

    G_k = rownorm(R_k R_k^T),  R_k = A_k flattened to (B, C*H*W)       Eqs. 4-5  (B, B)
    S_k = GAP(A_k)                                                      Eq. 6     (B, C)
    Z_con = W_con1 [G_1 S_1, ..., G_m S_m] + b,  Z_sum = W_sum1 sum_k G_k S_k + b,
    Z_had = W_had1 prod_k G_k S_k + b                                   Eqs. 7-9
    E^k_r = W^k_r2 Z_r + b  for r in (con, sum, had)                    Eqs. 10-12
    A_k <- (ReLU(E^k_con) + ReLU(E^k_sum) + ReLU(E^k_had)) * A_k  (channel-wise)   Eq. 13

gate="paper" follows these equations: the first layer of each relation is shared by the
modalities, the second is per modality, no non-linearity between them, hidden widths
c_con = m C / (2 m), c_sum = c_had = C. Its excitation layers start at zero weight and bias 1/3,
so the gate starts as the identity (an initialisation choice; the paper gives none).
gate="code" (default) follows the published code: per modality and relation FC -> ReLU -> FC ->
Sigmoid, then the same ReLU-sum gate, hidden widths (m C)/r and C/r, r = 4. It is the default
because its gate is bounded in (0, 3): the paper's gate is unbounded, and multiplied over the seven
fused stages it drove the teachers' eval-mode activations to about 1e15 within a few epochs.
``reduction=r`` overrides the widths of either variant to (m C)/r, C/r, C/r.

Evaluation is per sample. In training, G_k S_k is taken over the batch as in the paper; in eval mode
a sample's output must not depend on the other samples it is batched with (the published code takes
G over the test batch, so its figures change with the test batch size and order, and a batch of one
class lets the gate see the label). Like BatchNorm, SPAMFM keeps running statistics of what it
computed over training batches (momentum 0.1) and uses them in eval mode, by ``eval_descriptor``:

    "running" (default)  D_k = running mean over training batches of mean_b (G_k S_k)_b   (C,)
                         the same for every sample: the gates a mean training batch would give
    "sample"             D_k(b) = rho_k * S_k(b),  rho_k = running mean of the row sums of G_k
                         the sample's own descriptor at the scale a batch row gives it

Both descriptors were measured on the same trained checkpoints (the demo's teachers, three seeds): tied on
validation (100 / 90 / 80% both); on the test split "running" led by 0.4, 0.4 and 1.5 points, while
the published batch-dependent evaluation moved one checkpoint between 69.0% and 91.4% with the eval
batch size alone. "running" is the default because it gives the gate what it saw in training: with
ReLU features every row of G_k is close to uniform, so a training row of G_k S_k is mostly the
batch mean, which "sample" replaces by one sample's descriptor.

Where to fuse (``fusion_stages``, train --spamfm-stages). A training-batch row of G_k S_k is a
similarity-weighted mix of the batch, so it carries the class of a sample's neighbours across
sensors, and networks fused at every stage learn to lean on it; in eval mode no descriptor can give
it back (no sample may see the others). Measured on real Berkeley-MHAD (raw-signal teachers of six
sensors, cpu preset, leave-one-subject-out folds 1 and 4; docs/results/berkeley-loso-spamfm.md): fused at
every stage, the per-sensor heads scored 32-92% on their own TRAINING takes in eval mode and the
fused head 90.9 / 88.9% on the unseen subject (the best single sensor: 98.2 / 88.9); fused after fc7
only, 96.4 / 98.1%. The "sample" descriptor did not help there (92.7 / 79.6% at every stage).
The berkeley-mhad `cpu` preset fuses after fc7; the default stays every stage, as the published
code does.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.models.encoders import sensor_encoder
from training.models.output import NetOutput
from training.options import SPAMFM_EVAL, SPAMFM_GATES

__all__ = ["SPAMFM", "SensorTeachers", "RELATIONS", "batch_descriptors"]

RELATIONS: tuple[str, ...] = ("con", "sum", "had")


def _relation_widths(channels: int, m: int, reduction: int | None, gate: str) -> dict[str, int]:
    if reduction is None and gate == "paper":
        widths = {"con": (m * channels) // (2 * m), "sum": channels, "had": channels}
    else:
        r = 4 if reduction is None else reduction
        widths = {"con": (m * channels) // r, "sum": channels // r, "had": channels // r}
    return {k: max(1, v) for k, v in widths.items()}


class SPAMFM(nn.Module):
    """SPAMFM over m modalities of equal channel count: list of m (B, C, H, W) or (B, C) -> list of m, same shapes.

    Modalities may differ in H, W. In training, batch statistics enter through G_k (as in the paper);
    in eval mode each output row depends on its own sample only (module docstring, ``eval_descriptor``).
    """

    def __init__(self, channels: int, num_modalities: int, reduction: int | None = None, gate: str = SPAMFM_GATES[0],
                 eval_descriptor: str = SPAMFM_EVAL[0], momentum: float = 0.1):
        super().__init__()
        if gate not in SPAMFM_GATES:
            raise ValueError(f"SPAMFM gate must be one of {SPAMFM_GATES}, got {gate!r}")
        if eval_descriptor not in SPAMFM_EVAL:
            raise ValueError(f"SPAMFM eval_descriptor must be one of {SPAMFM_EVAL}, got {eval_descriptor!r}")
        self.eval_descriptor, self.momentum = eval_descriptor, momentum
        self.register_buffer("running_descriptor", torch.zeros(num_modalities, channels))
        self.register_buffer("running_row_sum", torch.ones(num_modalities))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))
        if channels < 1 or num_modalities < 1 or (reduction is not None and reduction < 1):
            raise ValueError(f"SPAMFM: channels, num_modalities, reduction must be >= 1, got {channels}, {num_modalities}, {reduction}")
        self.channels, self.num_modalities, self.gate = channels, num_modalities, gate
        m = num_modalities
        self.widths = _relation_widths(channels, m, reduction, gate)
        in_widths = {"con": m * channels, "sum": channels, "had": channels}
        if gate == "paper":
            self.squeeze = nn.ModuleDict({r: nn.Linear(in_widths[r], self.widths[r]) for r in RELATIONS})
            self.excite = nn.ModuleList(
                nn.ModuleDict({r: nn.Linear(self.widths[r], channels) for r in RELATIONS}) for _ in range(m))
            for heads in self.excite:
                for layer in heads.values():
                    nn.init.zeros_(layer.weight)
                    nn.init.constant_(layer.bias, 1.0 / len(RELATIONS))
        else:
            self.excite = nn.ModuleList(
                nn.ModuleDict({r: nn.Sequential(nn.Linear(in_widths[r], self.widths[r]), nn.ReLU(inplace=True),
                                                nn.Linear(self.widths[r], channels), nn.Sigmoid())
                               for r in RELATIONS})
                for _ in range(m))

    def modality_descriptors(self, features: Sequence[Tensor]) -> list[Tensor]:
        """G_k S_k of each modality, (B, C): over the batch in training, per sample in eval mode."""
        if not self.training:
            return self._eval_descriptors([_pooled(a) for a in features])
        gs, grams = batch_descriptors(features)
        self._track(gs, grams)
        return gs

    @torch.no_grad()
    def _track(self, gs: list[Tensor], grams: list[Tensor]) -> None:
        """Running means (BatchNorm's update rule) of mean_b G_k S_k and of G_k's row sums."""
        batch_descriptor = torch.stack([x.detach().float().mean(dim=0) for x in gs])
        row_sum = torch.stack([g.detach().float().sum(dim=1).mean() for g in grams])
        rate = 1.0 if int(self.num_batches_tracked) == 0 else self.momentum
        self.running_descriptor.lerp_(batch_descriptor, rate)
        self.running_row_sum.lerp_(row_sum, rate)
        self.num_batches_tracked += 1

    def _eval_descriptors(self, pooled: list[Tensor]) -> list[Tensor]:
        if self.eval_descriptor == "sample":
            return [self.running_row_sum[k].to(s.dtype) * s for k, s in enumerate(pooled)]
        return [self.running_descriptor[k].to(s.dtype).expand_as(s) for k, s in enumerate(pooled)]

    def descriptors(self, features: Sequence[Tensor]) -> dict[str, Tensor]:
        """The three joint inputs [G_k S_k]_k, sum_k G_k S_k, prod_k G_k S_k, each (B, *)."""
        gs = self.modality_descriptors(features)
        had = gs[0]
        for x in gs[1:]:
            had = had * x
        return {"con": torch.cat(gs, dim=1), "sum": torch.stack(gs).sum(dim=0), "had": had}

    def gates(self, features: Sequence[Tensor]) -> list[Tensor]:
        """Channel gates (B, C), one per modality."""
        joint = self.descriptors(features)
        if self.gate == "paper":
            z = {r: self.squeeze[r](joint[r]) for r in RELATIONS}
            return [sum(F.relu(heads[r](z[r])) for r in RELATIONS) for heads in self.excite]
        return [sum(F.relu(heads[r](joint[r])) for r in RELATIONS) for heads in self.excite]

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        features = list(features)
        if len(features) != self.num_modalities:
            raise ValueError(f"SPAMFM built for {self.num_modalities} modalities, got {len(features)}")
        for a in features:
            if a.dim() not in (2, 4) or a.shape[1] != self.channels or len(a) != len(features[0]):
                raise ValueError(f"SPAMFM expects (B, {self.channels}, H, W) or (B, {self.channels}) with one B, "
                                 f"got {[tuple(x.shape) for x in features]}")
        out = []
        for a, g in zip(features, self.gates(features)):
            out.append(a * (g.view(*g.shape, 1, 1) if a.dim() == 4 else g))
        return out


def _pooled(a: Tensor) -> Tensor:
    """S_k = GAP(A_k): (B, C, H, W) or (B, C) -> (B, C)."""
    return a.mean(dim=(2, 3)) if a.dim() == 4 else a


def batch_descriptors(features: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """G_k S_k over the batch, (B, C) each, and the G_k, (B, B) each (Eqs. 4-6): what training uses."""
    grams = [F.normalize(a.flatten(1) @ a.flatten(1).t(), p=2, dim=1) for a in features]
    return [g @ _pooled(a) for g, a in zip(grams, features)], grams


def _stage_channels(stage: nn.Module) -> int:
    """Output channels of a VGG stage: the width of its last BN, Linear or Conv."""
    for module in reversed(list(stage.modules())):
        for attr in ("num_features", "out_features", "out_channels"):
            if hasattr(module, attr):
                return int(getattr(module, attr))
    raise ValueError(f"cannot tell the output width of stage {stage!r}")


class SensorTeachers(nn.Module):
    """One sensor network per modality, SPAMFM after each stage in ``fusion_stages`` (default: every
    stage; fuse=False: none). `encoder` names the teacher network (training.models.encoders): "gaf",
    VGG16BN on (B, 3, G, G) GAF images; "raw", RawEncoder on (B, 4, T) streams (its (B, C, 1, T) maps
    fuse as image maps do; log_dynamics: theirs with training.models.raw1d.LogDynamics).

    forward(dict modality -> (B, 3, G, G)) -> NetOutput with
      logits = mean_k logits_k,  embedding = mean_k fc7_k,  taps "{modality}.block{i}" (after fusion),
      extras["per_modality_logits"] / ["per_modality_embedding"]: dict modality -> (B, num_classes) / (B, D).
    """

    def __init__(self, modalities: Sequence[str], num_classes: int, embed_dim: int = 300, fuse: bool = True,
                 fusion_stages: Sequence[str] | None = None, reduction: int | None = None,
                 gate: str = SPAMFM_GATES[0], eval_descriptor: str = SPAMFM_EVAL[0], encoder: str = "gaf",
                 log_dynamics: bool = False):
        super().__init__()
        self.modalities = list(modalities)
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"SensorTeachers needs distinct modality names, got {self.modalities}")
        entry = sensor_encoder(encoder)
        self.num_classes, self.embed_dim, self.fuse, self.encoder = num_classes, embed_dim, fuse, encoder
        if log_dynamics and not entry.reads_stream:
            raise ValueError(f"log_dynamics applies to stream encoders; {encoder!r} reads GAF images")
        reads = {"log_dynamics": True} if log_dynamics else {}
        self.nets = nn.ModuleDict({m: entry.teacher(num_classes, embed_dim, **reads) for m in self.modalities})
        first = self.nets[self.modalities[0]]
        self.stage_names = list(first.stages.keys())
        fusion_stages = self.stage_names if fusion_stages is None else list(fusion_stages)
        unknown = [s for s in fusion_stages if s not in self.stage_names]
        if unknown:
            raise ValueError(f"unknown fusion stages {unknown}; {type(first).__name__} stages are {self.stage_names}")
        self.fusion_stages = fusion_stages if fuse else []
        self.fusion = nn.ModuleDict({
            s: SPAMFM(_stage_channels(first.stages[s]), len(self.modalities), reduction, gate, eval_descriptor)
            for s in self.fusion_stages})

    def forward(self, inputs: Mapping[str, Tensor]) -> NetOutput:
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f"SensorTeachers input lacks modalities {missing}; got {sorted(inputs)}")
        xs = [inputs[m] for m in self.modalities]
        taps: dict[str, Tensor] = {}
        for stage in self.stage_names:
            xs = [self.nets[m].stages[stage](x) for m, x in zip(self.modalities, xs)]
            if stage in self.fusion:
                xs = self.fusion[stage](xs)
            for m, x in zip(self.modalities, xs):
                if stage in self.nets[m].tap_names:
                    taps[f"{m}.{stage}"] = x
        logits = {m: self.nets[m].classifier(x) for m, x in zip(self.modalities, xs)}
        embeddings = dict(zip(self.modalities, xs))
        return NetOutput(
            logits=torch.stack(list(logits.values())).mean(dim=0),
            embedding=torch.stack(xs).mean(dim=0),
            taps=taps,
            extras={"per_modality_logits": logits, "per_modality_embedding": embeddings},
        )
