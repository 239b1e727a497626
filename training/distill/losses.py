"""Distillation losses: one function per formula, one KDLoss module per registered method.

Functions take tensors and return a scalar tensor; the teacher side of every loss is detached
inside, so gradients reach the student only. Every registered loss is an ``nn.Module`` called as

    loss(student: NetOutput, teacher: NetOutput, **context) -> Tensor (scalar)

Context keys (ignored by losses that do not need them): ``labels`` (B,) int64 for losses with a
class-embedding target; ``student_ablated`` / ``teacher_ablated`` (NetOutput of the same
networks on an all-zero batch, see training.distill.gsdm.ablated_forward) for GSDM.

Several teachers: when ``teacher.extras`` holds ``per_modality_logits`` / ``per_modality_embedding``
(SensorTeachers), logit- and embedding-based losses average over the teachers,
L = 1/m sum_k L(student, teacher_k) (SAKDN Eqs. 23-24); ``per_teacher=False`` uses the fused output.

Losses with learnable parts (``fitnet``) own parameters: add ``loss.parameters()`` to the optimiser.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.distill.gsdm import GSDMLoss, resize_maps
from training.models.output import NetOutput

__all__ = [
    "labelled_cross_entropy", "soft_target_loss", "logits_mse_loss", "semantic_loss", "unit_rms", "pairwise_distances",
    "rkd_distance_loss", "rkd_angle_loss", "attention_map", "attention_transfer_loss",
    "similarity_matrix", "similarity_preserving_loss", "cc_correlation", "correlation_congruence_loss",
    "KDLoss", "SoftTarget", "LogitsMSE", "Semantic", "sakdn_teacher_loss", "SimilarityPreserving", "RKD",
    "CorrelationCongruence", "AttentionTransfer", "FitNet", "DASK", "GSDM", "LOSSES", "build_loss",
    "BaselineInputs", "KDBaseline", "KD_BASELINES",
]


# ---------------------------------------------------------------- tensor functions

def labelled_cross_entropy(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy over the rows with a label (labels >= 0; a withheld label is negative),
    0 (with a gradient path) for a batch without one, never NaN. label_smoothing as torch's: the
    target is (1 - s) one-hot + s / C uniform."""
    labelled = labels >= 0
    per_row = F.cross_entropy(logits, labels.clamp(min=0), reduction="none", label_smoothing=label_smoothing)
    return (per_row * labelled).sum() / labelled.sum().clamp(min=1)


def soft_target_loss(student_logits: Tensor, teacher_logits: Tensor, T: float = 4.0) -> Tensor:
    """Hinton soft target: T^2 * mean_b KL(softmax(t_b/T) || softmax(s_b/T)).

    (B, C), (B, C) -> scalar. Zero iff the two rows give the same distribution.
    """
    log_p_student = F.log_softmax(student_logits / T, dim=1)
    p_teacher = F.softmax(teacher_logits.detach() / T, dim=1)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * (T * T)


def logits_mse_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """Logit matching (Ba & Caruana): mean over B*C of (s - t)^2."""
    return F.mse_loss(student_logits, teacher_logits.detach())


def semantic_loss(student_features: Tensor, target: Tensor) -> Tensor:
    """Semantic preserving: mean over B*D of (h_s - h_t)^2; target = teacher feature or class embedding."""
    return F.mse_loss(student_features, target.detach())


def unit_rms(embedding: Tensor) -> Tensor:
    """E / sqrt(mean(E^2)): a (C, D) class-embedding table scaled to unit root-mean-square coordinate.

    The semantic targets' scale then no longer depends on their source: the published 300-d
    glove.840B sums have RMS 0.5-1.0 (MMAct, Berkeley, UTD), the packaged 50-d GloVe 6B sums 1.0-2.4,
    so one loss weight serves both (an MSE of 1 is a prediction of zero). Directions, and so GSDM's
    slope ratios, are unchanged.
    """
    return embedding / embedding.float().pow(2).mean().sqrt().clamp(min=1e-12)


def pairwise_distances(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Euclidean distance matrix (B, D) -> (B, B) with an exact zero diagonal."""
    sq = x.pow(2).sum(dim=1)
    d2 = (sq.unsqueeze(0) + sq.unsqueeze(1) - 2.0 * x @ x.t()).clamp(min=eps)
    d = d2.sqrt()
    return d * (1.0 - torch.eye(len(x), device=x.device, dtype=x.dtype))


def _normalised_distances(x: Tensor) -> Tensor:
    d = pairwise_distances(x)
    positive = d[d > 0]
    mean = positive.mean() if positive.numel() else d.new_tensor(1.0)
    return d / mean


def rkd_distance_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """RKD distance: smooth-L1(psi_D(s), psi_D(t)) over all B^2 pairs, psi_D = ||x_i - x_j|| / mu,

    mu = mean of the positive distances of the same network. (B, Ds), (B, Dt) -> scalar.
    """
    with torch.no_grad():
        t_d = _normalised_distances(teacher.flatten(1).detach())
    s_d = _normalised_distances(student.flatten(1))
    return F.smooth_l1_loss(s_d, t_d)


def _angles(x: Tensor) -> Tensor:
    diff = x.unsqueeze(0) - x.unsqueeze(1)          # diff[i, j] = x_j - x_i
    unit = F.normalize(diff, p=2, dim=2)
    return torch.bmm(unit, unit.transpose(1, 2))    # [i, j, k] = cos angle at apex i


def rkd_angle_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """RKD angle: smooth-L1 over all B^3 triplets of cos<(x_j - x_i), (x_k - x_i)>. (B, Ds), (B, Dt) -> scalar."""
    with torch.no_grad():
        t_a = _angles(teacher.flatten(1).detach())
    s_a = _angles(student.flatten(1))
    return F.smooth_l1_loss(s_a, t_a)


def attention_map(feature: Tensor, p: float = 2.0) -> Tensor:
    """Spatial attention (Zagoruyko & Komodakis): a = L2-normalise(mean_c |f_c|^p), (B, C, H, W) -> (B, H*W)."""
    return F.normalize(feature.abs().pow(p).mean(dim=1).flatten(1), p=2, dim=1)


def _common_size(a: Tensor, b: Tensor) -> tuple[int, int]:
    return min(a.shape[-2], b.shape[-2]), min(a.shape[-1], b.shape[-1])


def attention_transfer_loss(student: Tensor, teacher: Tensor, p: float = 2.0) -> Tensor:
    """Attention transfer: mean over B*H*W of (a_s - a_t)^2.

    Feature maps of different spatial size are first resized (bilinear, antialiased) to the
    smaller height and width; channel counts may differ.
    """
    size = _common_size(student, teacher)
    with torch.no_grad():
        a_t = attention_map(resize_maps(teacher.detach().float(), size), p)
    a_s = attention_map(resize_maps(student.float(), size), p)
    return (a_s - a_t).pow(2).mean()


def similarity_matrix(x: Tensor) -> Tensor:
    """Row-L2-normalised batch similarity G = rownorm(F F^T), F = x flattened to (B, N)."""
    f = x.flatten(1)
    return F.normalize(f @ f.t(), p=2, dim=1)


def similarity_preserving_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Similarity preserving (Tung & Mori): ||G_s - G_t||_F^2 / B^2, invariant to rotations of either feature space."""
    with torch.no_grad():
        g_t = similarity_matrix(teacher.detach())
    g_s = similarity_matrix(student)
    return (g_s - g_t).pow(2).sum() / (len(student) ** 2)


def cc_correlation(x: Tensor, gamma: float = 0.4, order: int = 2) -> Tensor:
    """CCKD correlation matrix: Gaussian RBF kernel k(x_i, x_j) = exp(-gamma ||x_i - x_j||^2) on L2-normalised

    features, i.e. exp(-2 gamma) exp(2 gamma x_i.x_j), with the second factor replaced by its Taylor
    series to ``order``: C_ij = exp(-2 gamma) sum_{p=0..P} (2 gamma)^p / p! (x_i.x_j)^p. (B, D) -> (B, B).
    """
    f = F.normalize(x.flatten(1), p=2, dim=1)
    sim = f @ f.t()
    corr = torch.zeros_like(sim)
    for p in range(order + 1):
        corr = corr + (2.0 * gamma) ** p / math.factorial(p) * sim.pow(p)
    return math.exp(-2.0 * gamma) * corr


def correlation_congruence_loss(student: Tensor, teacher: Tensor, gamma: float = 0.4, order: int = 2) -> Tensor:
    """Correlation congruence (Peng et al. 2019): mean over B^2 of (C_s - C_t)^2 with C = cc_correlation."""
    with torch.no_grad():
        c_t = cc_correlation(teacher.detach(), gamma, order)
    c_s = cc_correlation(student, gamma, order)
    return F.mse_loss(c_s, c_t)


# ---------------------------------------------------------------- NetOutput adapters

def _teacher_views(teacher: NetOutput, field: str, per_teacher: bool) -> list[Tensor]:
    """The tensors of a (fused) output a loss averages over: per-modality ones when present, else the fused one."""
    key = {"logits": "per_modality_logits", "embedding": "per_modality_embedding"}[field]
    extras = getattr(teacher, "extras", None) or {}
    if per_teacher and extras.get(key):
        return list(extras[key].values())
    return [getattr(teacher, field)]


def _mean_over_teachers(teacher: NetOutput, field: str, per_teacher: bool, term: Callable[[Tensor], Tensor]) -> Tensor:
    """mean_v term(v) over the teacher's views of `field` (_teacher_views: each sensor's, or the fused one)."""
    views = _teacher_views(teacher, field, per_teacher)
    return sum(term(v) for v in views) / len(views)


def _tap(output: NetOutput, name: str, role: str) -> Tensor:
    try:
        return output.taps[name]
    except KeyError:
        raise KeyError(f"{role} output has no tap {name!r}; available: {sorted(output.taps)}") from None


def _check_field(field: str) -> str:
    if field not in ("logits", "embedding"):
        raise ValueError(f"feature must be 'logits' or 'embedding', got {field!r}")
    return field


class KDLoss(Protocol):
    """What every registered loss is: an nn.Module called as loss(student, teacher, **context) -> scalar Tensor."""

    def __call__(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor: ...


class SoftTarget(nn.Module):
    """``st``: 1/m sum_k T^2 KL(softmax(t_k/T) || softmax(s/T)) over the teachers' logits. kwargs: T=4.0, per_teacher=True."""

    def __init__(self, T: float = 4.0, per_teacher: bool = True):
        super().__init__()
        self.T = float(T)
        self.per_teacher = per_teacher

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        return _mean_over_teachers(teacher, "logits", self.per_teacher,
                                   lambda t: soft_target_loss(student.logits, t, self.T))


class LogitsMSE(nn.Module):
    """``logits``: 1/m sum_k mean (s - t_k)^2 over the logits. kwargs: per_teacher=True."""

    def __init__(self, per_teacher: bool = True):
        super().__init__()
        self.per_teacher = per_teacher

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        return _mean_over_teachers(teacher, "logits", self.per_teacher, lambda t: logits_mse_loss(student.logits, t))


class Semantic(nn.Module):
    """``semantic``: MSE(student embedding, target), SAKDN Eqs. 19/24, VSKD Eq. 8.

    target = the teachers' embeddings (averaged over teachers, per_teacher=True), or, when built with
    ``class_embedding`` (C, D), the class vectors of ``labels`` passed in the context (teacher may be
    None); then a fused output's per-modality embeddings are each compared and averaged (Eq. 19).
    """

    def __init__(self, class_embedding: Tensor | None = None, per_teacher: bool = True):
        super().__init__()
        self.per_teacher = per_teacher
        if class_embedding is not None:
            self.register_buffer("class_embedding", torch.as_tensor(class_embedding, dtype=torch.float32))
        else:
            self.class_embedding = None

    def forward(self, student: NetOutput, teacher: NetOutput | None = None, **context) -> Tensor:
        if self.class_embedding is not None:
            labels = context.get("labels")
            if labels is None:
                raise ValueError("semantic loss with a class embedding needs labels=(B,) in the context")
            target = self.class_embedding[labels]
            return _mean_over_teachers(student, "embedding", self.per_teacher, lambda h: semantic_loss(h, target))
        if teacher is None:
            raise ValueError("semantic loss without a class embedding needs a teacher output")
        return _mean_over_teachers(teacher, "embedding", self.per_teacher,
                                   lambda t: semantic_loss(student.embedding, t))


def sakdn_teacher_loss(output: NetOutput, labels: Tensor, class_embedding: Tensor | np.ndarray) -> Tensor:
    """SAKDN teacher objective (Eq. 20): 1/m sum_k CE(logits_k, y) + 1/m sum_k MSE(H_k, E[y]).

    output: SensorTeachers output (per-modality logits/embeddings in extras) or any single network.
    """
    logits = _teacher_views(output, "logits", True)
    embeddings = _teacher_views(output, "embedding", True)
    target = torch.as_tensor(class_embedding, dtype=embeddings[0].dtype, device=embeddings[0].device)[labels]
    ce = sum(F.cross_entropy(z, labels) for z in logits) / len(logits)
    return ce + sum(F.mse_loss(h, target) for h in embeddings) / len(embeddings)


class SimilarityPreserving(nn.Module):
    """``sp``: similarity preserving, ||G_s - G_t||_F^2 / B^2 averaged over tap pairs.

    kwargs: pairs = [(student tap, teacher tap), ...]; None compares embeddings (averaged over teachers).
    """

    def __init__(self, pairs: Sequence[tuple[str, str]] | None = None, per_teacher: bool = True):
        super().__init__()
        self.pairs = [tuple(p) for p in pairs] if pairs else None
        self.per_teacher = per_teacher

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        if self.pairs is None:
            return _mean_over_teachers(teacher, "embedding", self.per_teacher,
                                       lambda t: similarity_preserving_loss(student.embedding, t))
        terms = [similarity_preserving_loss(_tap(student, s, "student"), _tap(teacher, t, "teacher"))
                 for s, t in self.pairs]
        return sum(terms) / len(terms)


class RKD(nn.Module):
    """``rkd``: w_dist * L_distance + w_angle * L_angle on ``feature`` (embedding|logits), averaged over teachers.

    kwargs: w_dist=1.0, w_angle=2.0 (RKD paper), feature="embedding", per_teacher=True.
    """

    def __init__(self, w_dist: float = 1.0, w_angle: float = 2.0, feature: str = "embedding", per_teacher: bool = True):
        super().__init__()
        self.w_dist, self.w_angle = float(w_dist), float(w_angle)
        self.feature = _check_field(feature)
        self.per_teacher = per_teacher

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        s = getattr(student, self.feature)
        return _mean_over_teachers(
            teacher, self.feature, self.per_teacher,
            lambda t: self.w_dist * rkd_distance_loss(s, t) + self.w_angle * rkd_angle_loss(s, t))


class CorrelationCongruence(nn.Module):
    """``cc``: CCKD with the Taylor-approximated Gaussian RBF kernel (see cc_correlation) on ``feature``.

    kwargs: gamma=0.4, order=2, feature="embedding", per_teacher=True.
    """

    def __init__(self, gamma: float = 0.4, order: int = 2, feature: str = "embedding", per_teacher: bool = True):
        super().__init__()
        self.gamma, self.order = float(gamma), int(order)
        self.feature = _check_field(feature)
        self.per_teacher = per_teacher

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        s = getattr(student, self.feature)
        return _mean_over_teachers(teacher, self.feature, self.per_teacher,
                                   lambda t: correlation_congruence_loss(s, t, self.gamma, self.order))


class AttentionTransfer(nn.Module):
    """``at``: attention transfer averaged over tap pairs. kwargs: pairs=[(student tap, teacher tap), ...] (required), p=2."""

    def __init__(self, pairs: Sequence[tuple[str, str]], p: float = 2.0):
        super().__init__()
        if not pairs:
            raise ValueError("attention transfer needs at least one (student tap, teacher tap) pair")
        self.pairs = [tuple(x) for x in pairs]
        self.p = float(p)

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        terms = [attention_transfer_loss(_tap(student, s, "student"), _tap(teacher, t, "teacher"), self.p)
                 for s, t in self.pairs]
        return sum(terms) / len(terms)


class FitNet(nn.Module):
    """``fitnet``: hint loss mean (r(f_s) - f_t)^2 with a learnable regressor r.

    kwargs: student_dim, teacher_dim (channels of the hint layers), pair=(student tap, teacher tap)
    or None for the embeddings (then r is Linear(student_dim, teacher_dim), else a 1x1 Conv2d; the
    regressed map is resized bilinearly to the teacher's spatial size). Its parameters must be optimised.
    """

    def __init__(self, student_dim: int, teacher_dim: int, pair: tuple[str, str] | None = None):
        super().__init__()
        self.pair = tuple(pair) if pair else None
        if self.pair is None:
            self.regressor: nn.Module = nn.Linear(student_dim, teacher_dim)
        else:
            self.regressor = nn.Conv2d(student_dim, teacher_dim, kernel_size=1)

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        if self.pair is None:
            s, t = student.embedding, teacher.embedding
        else:
            s, t = _tap(student, self.pair[0], "student"), _tap(teacher, self.pair[1], "teacher")
        hint = self.regressor(s)
        if hint.dim() == 4 and hint.shape[-2:] != t.shape[-2:]:
            hint = F.interpolate(hint, size=tuple(t.shape[-2:]), mode="bilinear", align_corners=False)
        return F.mse_loss(hint, t.detach())


class DASK(nn.Module):
    """``dask`` (VSKD Eq. 9 without the cross-entropy): alpha L_KD + beta (L_D + L_A) + gamma L_S.

    L_KD = soft target (T), L_D / L_A = RKD distance / angle on ``feature`` (embedding by default),
    L_S = MSE(student embedding, teacher embedding). Switches distance/angle/semantic=False drop a term
    (the paper's ablations ASK, DSK, SK, DAK). kwargs: T=4, alpha=1, beta=1, gamma=1, feature, per_teacher.
    """

    def __init__(self, T: float = 4.0, alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0,
                 distance: bool = True, angle: bool = True, semantic: bool = True,
                 feature: str = "embedding", per_teacher: bool = True):
        super().__init__()
        self.T, self.alpha, self.beta, self.gamma = float(T), float(alpha), float(beta), float(gamma)
        self.distance, self.angle, self.semantic = distance, angle, semantic
        self.feature = _check_field(feature)
        self.per_teacher = per_teacher

    def terms(self, student: NetOutput, teacher: NetOutput) -> dict[str, Tensor]:
        """The unweighted terms that are switched on: st (the soft target), distance, angle, semantic."""
        s = getattr(student, self.feature)
        terms = {"st": ("logits", lambda t: soft_target_loss(student.logits, t, self.T)),
                 "distance": (self.feature, lambda t: rkd_distance_loss(s, t)),
                 "angle": (self.feature, lambda t: rkd_angle_loss(s, t)),
                 "semantic": ("embedding", lambda t: semantic_loss(student.embedding, t))}
        switched = {"st": True, "distance": self.distance, "angle": self.angle, "semantic": self.semantic}
        return {name: _mean_over_teachers(teacher, field, self.per_teacher, term)
                for name, (field, term) in terms.items() if switched[name]}

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        t = self.terms(student, teacher)
        loss = self.alpha * t["st"]
        if "distance" in t:
            loss = loss + self.beta * t["distance"]
        if "angle" in t:
            loss = loss + self.beta * t["angle"]
        if "semantic" in t:
            loss = loss + self.gamma * t["semantic"]
        return loss


class GSDM(nn.Module):
    """``gsdm``: SAKDN Eq. 17 through training.distill.gsdm.GSDMLoss on named taps.

    kwargs: class_embedding (C, D), student_taps (e.g. TRN.gsdm_taps), teacher_taps
    (default block1..block5, looked up as "{modality}.{tap}" for each teacher modality, or as-is for
    a single plain network), graph=True, weighting="mean" (the published code's per-sample slope) or
    "channel". Context: student_ablated, teacher_ablated (NetOutput on an all-zero batch; only their
    logits are used).
    """

    def __init__(self, class_embedding: Tensor, student_taps: Sequence[str],
                 teacher_taps: Sequence[str] = ("block1", "block2", "block3", "block4", "block5"),
                 graph: bool = True, weighting: str = "mean"):
        super().__init__()
        if len(student_taps) != len(teacher_taps):
            raise ValueError(f"GSDM pairs taps one to one: {len(student_taps)} student vs {len(teacher_taps)} teacher taps")
        self.student_taps = list(student_taps)
        self.teacher_taps = list(teacher_taps)
        self.core = GSDMLoss(class_embedding, graph=graph, weighting=weighting)

    def compact_teacher_tap(self, tap: Tensor) -> Tensor:
        """What this loss reads of a teacher tap (B, C, H, W). With "mean" weighting a map is
        ReLU(sum_c w_b A_bc) with one weight per sample, the same as ReLU(w_b sum_c A_bc): the channel
        sum (B, 1, H, W) gives the same map, so a teacher cache keeps only it. "channel": the whole tap."""
        return tap.sum(dim=1, keepdim=True) if self.core.weighting == "mean" else tap

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        s_abl, t_abl = context.get("student_ablated"), context.get("teacher_ablated")
        if s_abl is None or t_abl is None:
            raise ValueError("gsdm needs student_ablated= and teacher_ablated= outputs (all-zero batch) in the context")
        per_mod = (getattr(teacher, "extras", None) or {}).get("per_modality_logits")
        if per_mod:
            modalities = list(per_mod)
            t_logits = [per_mod[m] for m in modalities]
            t_abl_logits = [t_abl.extras["per_modality_logits"][m] for m in modalities]
            t_taps = [[_tap(teacher, f"{m}.{name}", "teacher") for name in self.teacher_taps] for m in modalities]
        else:
            t_logits, t_abl_logits = [teacher.logits], [t_abl.logits]
            t_taps = [[_tap(teacher, name, "teacher") for name in self.teacher_taps]]
        s_taps = [_tap(student, name, "student") for name in self.student_taps]
        return self.core(s_taps, student.logits, s_abl.logits, t_taps, t_logits, t_abl_logits)


LOSSES: dict[str, Callable[..., KDLoss]] = {
    "st": SoftTarget,
    "logits": LogitsMSE,
    "semantic": Semantic,
    "sp": SimilarityPreserving,
    "rkd": RKD,
    "cc": CorrelationCongruence,
    "at": AttentionTransfer,
    "fitnet": FitNet,
    "dask": DASK,
    "gsdm": GSDM,
}


@dataclass(frozen=True)
class BaselineInputs:
    """What a --kd baseline is built from: the student's and the teacher's feature taps (in pairing
    order), the embedding width both sides share, and the soft-target temperature."""

    student_taps: tuple[str, ...]
    teacher_taps: tuple[str, ...]
    embed_dim: int
    temperature: float


@dataclass(frozen=True)
class KDBaseline:
    """A loss that can stand in for a method's distillation terms (`train --kd NAME`): how to build
    it for a pair of networks, and the weight it gets unless --kd-weight says otherwise."""

    build: Callable[[BaselineInputs], KDLoss]
    weight: float


def _tap_pairs(inputs: BaselineInputs) -> list[tuple[str, str]]:
    """Student and teacher taps paired in order; with more teacher taps (several teachers) the student's repeat."""
    student = inputs.student_taps
    return [(student[i % len(student)], t) for i, t in enumerate(inputs.teacher_taps)]


# The --kd baselines, with RepDistiller's default weights where it has one.
KD_BASELINES: dict[str, KDBaseline] = {
    "st": KDBaseline(lambda inputs: SoftTarget(T=inputs.temperature), 1.0),
    "logits": KDBaseline(lambda inputs: LogitsMSE(), 1.0),
    "sp": KDBaseline(lambda inputs: SimilarityPreserving(), 3000.0),
    "rkd": KDBaseline(lambda inputs: RKD(), 1.0),
    "cc": KDBaseline(lambda inputs: CorrelationCongruence(), 0.02),
    "at": KDBaseline(lambda inputs: AttentionTransfer(pairs=_tap_pairs(inputs)), 1000.0),
    "fitnet": KDBaseline(lambda inputs: FitNet(student_dim=inputs.embed_dim, teacher_dim=inputs.embed_dim), 100.0),
}


def build_loss(name: str, **kwargs) -> KDLoss:
    """LOSSES[name](**kwargs) with a clear error for an unknown name."""
    try:
        factory = LOSSES[name]
    except KeyError:
        raise KeyError(f"unknown distillation loss {name!r}; choose one of {sorted(LOSSES)}") from None
    return factory(**kwargs)
