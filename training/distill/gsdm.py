"""Graph-guided Semantically Discriminative Mapping (GSDM), SAKDN section III-D.

For one network (the student, or teacher k) with logits y on the batch I and y_a on the ablated
batch I_a (all zeros, same shape), and class embeddings E (C, D):

    e   = E[argmax y],  e_a = E[argmax y_a]                       (B, D)   Eq. 14
    S   = D^-1/2 W D^-1/2,  W_ij = exp(-mean_c (y_ic - y_jc)^2 / 2)  (graph variant; plain: S = I)
    S_a = the same over y_a
    w   = (S e - S_a e_a) / (S e)                                  (B, D)   Eq. 15
    M   = ReLU(sum_c w_b A_bc)                                     (B, H, W) Eq. 16

Every network is ablated on its own input: the student on a zero video batch, each teacher on a
zero GAF batch; the slope weights of a network come from its own logits only. The slope w is
D-dimensional and the paper "adjusts it to the feature maps in the same way as Grad-CAM"; how is
not said, and GloVe coordinates have no correspondence with feature channels. Two weightings:

    "mean" (default)  w_b = mean_d ReLU(w_bd): one weight per sample, as the published code
    "channel"         w_bc = w_bd resized linearly from D to the C channels of the layer

"mean" is the default: interpolated GloVe coordinates gave channel weights up to ~900 against a
median of ~1, three quarters negative, so most maps were ReLU(negative) = 0. With one non-negative
weight per sample and L2-normalised maps, the map is the normalised channel sum of the activations
(all-zero when the sample's slope is nowhere positive). Weights are constants (no gradient): the
student gradient flows through its activation maps A. The loss is Eq. 17, a squared norm:

    L = 1/(m |P|) sum_k sum_{l in P} mean_b || M^S_l(b)/||M^S_l(b)|| - M^Tk_l(b)/||M^Tk_l(b)|| ||^2

after both maps of a pair are resized (bilinear, antialiased) to their common (smaller) size. P are
the pairs whose common size is larger than 1x1: a normalised 1x1 map is the constant 1 (or 0), so
such a pair carries no spatial information and no gradient (VGG block5 of a 32-64 px GAF image).
Teachers are evaluated under no_grad.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.models.output import map_tensors

__all__ = ["graph_affinity", "slope_weights", "channel_weights", "gsdm_map", "normalise_map", "common_size", "map_distance",
           "ablated_forward", "GSDMLoss"]


def graph_affinity(z: Tensor) -> Tensor:
    """Normalised Gaussian affinity S = D^-1/2 W D^-1/2 over the batch, W_ij = exp(-mean((z_i - z_j)^2) / 2). (B, K) -> (B, B)."""
    z = z.flatten(1).float()
    d2 = (z.unsqueeze(1) - z.unsqueeze(0)).pow(2).mean(dim=2)
    w = torch.exp(-d2 / 2.0)
    inv_sqrt_deg = w.sum(dim=1).rsqrt()            # degree >= 1 because W_ii = 1
    return inv_sqrt_deg.unsqueeze(1) * w * inv_sqrt_deg.unsqueeze(0)


def _safe_denominator(x: Tensor, eps: float) -> Tensor:
    return torch.where(x >= 0, x.clamp(min=eps), x.clamp(max=-eps))


@torch.no_grad()
def slope_weights(logits: Tensor, ablated_logits: Tensor, class_embedding: Tensor,
                  graph: bool = True, eps: float = 1e-6) -> Tensor:
    """Slope w_bd = (S e - S_a e_a)_bd / (S e)_bd. (B, K), (B, K), (K, D) -> (B, D).

    Denominator entries are kept at least ``eps`` away from zero (sign kept) so w is finite.
    """
    if logits.shape != ablated_logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and ablated logits {tuple(ablated_logits.shape)} differ in shape")
    emb = class_embedding.to(device=logits.device, dtype=torch.float32)
    e = emb[logits.argmax(dim=1)]
    e_a = emb[ablated_logits.argmax(dim=1)]
    if graph:
        e = graph_affinity(logits) @ e
        e_a = graph_affinity(ablated_logits) @ e_a
    return (e - e_a) / _safe_denominator(e, eps)


def channel_weights(slope: Tensor, channels: int) -> Tensor:
    """Slope (B, D) resized linearly along D to one weight per channel. -> (B, channels)."""
    if slope.shape[1] == channels:
        return slope
    return F.interpolate(slope.unsqueeze(1), size=channels, mode="linear", align_corners=True).squeeze(1)


def gsdm_map(feature: Tensor, weights: Tensor) -> Tensor:
    """M = ReLU(sum_c w_bc A_bc). (B, C, H, W) with weights (B, C) or one per sample (B,) -> (B, H, W)."""
    if feature.dim() != 4:
        raise ValueError(f"GSDM needs (B, C, H, W) activation maps, got shape {tuple(feature.shape)}")
    w = weights.to(feature.dtype)
    w = w.view(-1, 1, 1, 1) if w.dim() == 1 else w.view(*w.shape, 1, 1)
    return F.relu((w * feature).sum(dim=1))


def normalise_map(m: Tensor, eps: float = 1e-12) -> Tensor:
    """Per-sample L2 normalisation over H*W: m / max(||m||, eps). (B, H, W) -> (B, H, W); an all-zero map stays zero."""
    flat = F.normalize(m.flatten(1), p=2, dim=1, eps=eps)
    return flat.view_as(m)


def resize_maps(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(..., H, W) maps of any leading shape, bilinear with antialiasing to `size` (unchanged when equal):
    the one resizing of GSDM and of the attention losses when two networks' taps differ in side."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    return F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=True).reshape(*lead, *size)


def common_size(student_map: Tensor, teacher_map: Tensor) -> tuple[int, int]:
    """The smaller height and width of two (B, H, W) maps: the size a pair is compared at."""
    return min(student_map.shape[-2], teacher_map.shape[-2]), min(student_map.shape[-1], teacher_map.shape[-1])


def map_distance(student_map: Tensor, teacher_map: Tensor) -> Tensor:
    """mean_b ||s_b - t_b||^2 of the L2-normalised maps, both resized to their common size (Eq. 17).

    (B, H, W), (B, H', W') -> scalar in [0, 4] (2 when one map is zero and the other is not).
    """
    if len(student_map) != len(teacher_map):
        raise ValueError(f"student and teacher batches differ: {len(student_map)} vs {len(teacher_map)}")
    size = common_size(student_map, teacher_map)
    s = normalise_map(resize_maps(student_map.float(), size))
    t = normalise_map(resize_maps(teacher_map.detach().float(), size))
    return (s - t).pow(2).flatten(1).sum(dim=1).mean()


def _zeros_like_input(inputs, rows: int | None = None):
    """All-zero input shaped like `inputs` (its first `rows` rows only, when given)."""
    if isinstance(inputs, Tensor):
        return torch.zeros_like(inputs[:rows])
    if isinstance(inputs, Mapping):
        return {k: torch.zeros_like(v[:rows]) for k, v in inputs.items()}
    raise TypeError(f"ablated_forward takes a Tensor or a mapping of Tensors, got {type(inputs).__name__}")


def _batch_size(inputs) -> int:
    return len(inputs) if isinstance(inputs, Tensor) else len(next(iter(inputs.values())))


@torch.no_grad()
def ablated_forward(model: nn.Module, inputs, eval_mode: bool = True):
    """model(all-zero batch shaped like inputs) without gradient; the model's state is left as it was.

    inputs: the (already normalised) network input, a Tensor or a dict modality -> Tensor.
    eval_mode=True (default) runs the network in eval mode (BN running statistics, no dropout): its
    response to a black input. In eval mode every network answers each sample on its own (tests pin
    it) and the rows of a zero batch are equal, so one row is computed and broadcast to the batch.
    eval_mode=False keeps the current mode, so train-mode BN normalises the zero batch by its own
    statistics (the whole batch is computed). Every buffer (BN and SPAMFM running statistics) is
    restored afterwards either way.
    (The published code instead appended the zero batch to the real one, mixing their BN statistics.)
    """
    buffers = [(m, name, b) for m in model.modules() for name, b in m.named_buffers(recurse=False)]
    modes = [(m, m.training) for m in model.modules()]
    for m, name, b in buffers:      # run on copies: the originals may be saved by autograd
        setattr(m, name, b.clone())
    if eval_mode:
        model.eval()
    try:
        if not eval_mode:
            return model(_zeros_like_input(inputs))
        rows = _batch_size(inputs)
        return map_tensors(lambda t: t.expand(rows, *t.shape[1:]), model(_zeros_like_input(inputs, rows=1)))
    finally:
        for m, training in modes:
            m.training = training
        for m, name, b in buffers:
            setattr(m, name, b)


class GSDMLoss(nn.Module):
    """GSDM distillation loss (module docstring formulas). Build once with the class embeddings (C, D).

    forward(student_taps, student_logits, student_ablated_logits,
            teacher_taps, teacher_logits, teacher_ablated_logits) -> scalar
      student_taps:  list of L maps (B, C_l, H_l, W_l), paired in order with each teacher's taps
      teacher_taps:  list over m teachers of lists of L maps (a single list = one teacher)
      *_logits:      (B, num_classes); teacher_* lists over the m teachers (a Tensor = one teacher)
    """

    def __init__(self, class_embedding: Tensor, graph: bool = True, weighting: str = "mean", eps: float = 1e-6):
        super().__init__()
        if weighting not in ("channel", "mean"):
            raise ValueError(f"weighting must be 'channel' or 'mean', got {weighting!r}")
        self.weighting = weighting
        emb = torch.as_tensor(class_embedding, dtype=torch.float32)
        if emb.dim() != 2:
            raise ValueError(f"class_embedding must be (num_classes, D), got shape {tuple(emb.shape)}")
        self.register_buffer("class_embedding", emb)
        self.graph = graph
        self.eps = eps

    def weights(self, logits: Tensor, ablated_logits: Tensor) -> Tensor:
        """Slope of one network: (B, D) for channel weighting, mean_d ReLU(slope) (B,) for mean weighting."""
        slope = slope_weights(logits, ablated_logits, self.class_embedding, self.graph, self.eps)
        return slope if self.weighting == "channel" else F.relu(slope).mean(dim=1)

    def maps(self, taps: Sequence[Tensor], logits: Tensor, ablated_logits: Tensor) -> list[Tensor]:
        """GSDM maps (B, H_l, W_l) of one network, one per tap (not normalised)."""
        w = self.weights(logits, ablated_logits)
        if w.dim() == 1:
            return [gsdm_map(a, w) for a in taps]
        return [gsdm_map(a, channel_weights(w, a.shape[1])) for a in taps]

    def forward(self, student_taps: Sequence[Tensor], student_logits: Tensor, student_ablated_logits: Tensor,
                teacher_taps: Sequence[Sequence[Tensor]] | Sequence[Tensor], teacher_logits: Sequence[Tensor] | Tensor,
                teacher_ablated_logits: Sequence[Tensor] | Tensor) -> Tensor:
        if isinstance(teacher_logits, Tensor):
            teacher_logits, teacher_ablated_logits = [teacher_logits], [teacher_ablated_logits]
        if teacher_taps and isinstance(teacher_taps[0], Tensor):
            teacher_taps = [teacher_taps]
        if not (len(teacher_taps) == len(teacher_logits) == len(teacher_ablated_logits)) or not teacher_taps:
            raise ValueError(f"need taps, logits and ablated logits for each teacher: got {len(teacher_taps)}, "
                             f"{len(teacher_logits)}, {len(teacher_ablated_logits)}")
        student_maps = self.maps(student_taps, student_logits, student_ablated_logits)
        distances = []
        for taps, logits, ablated in zip(teacher_taps, teacher_logits, teacher_ablated_logits):
            if len(taps) != len(student_maps):
                raise ValueError(f"teacher has {len(taps)} taps, student {len(student_maps)}: pairs must match one to one")
            with torch.no_grad():
                teacher_maps = self.maps([t.detach() for t in taps], logits.detach(), ablated.detach())
            distances += [map_distance(s_map, t_map) for s_map, t_map in zip(student_maps, teacher_maps)
                          if max(common_size(s_map, t_map)) > 1]
        if not distances:
            sizes = [tuple(m.shape[-2:]) for m in student_maps]
            raise ValueError(f"GSDM: every tap pair meets at 1x1 (student maps {sizes}); use larger inputs")
        return torch.stack(distances).mean()
