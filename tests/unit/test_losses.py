"""Distillation losses: hand-computed values, invariances, ablation switches and gradient isolation."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from training.distill.gsdm import ablated_forward
from training.distill.losses import (
    DASK, LOSSES, FitNet, SoftTarget, attention_transfer_loss, build_loss, cc_correlation,
    correlation_congruence_loss, logits_mse_loss, rkd_angle_loss, rkd_distance_loss, sakdn_teacher_loss, semantic_loss,
    similarity_preserving_loss, soft_target_loss,
)
from training.models.output import NetOutput
from training.models.resnet import ResNetStudent
from training.models.vgg import VGG16BN

torch.set_num_threads(1)


def _kl(p: list[float], q: list[float]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def _softmax(z: list[float]) -> list[float]:
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


# ------------------------------------------------------------------ soft target

def test_soft_target_zero_for_identical_logits():
    z = torch.randn(6, 5)
    assert soft_target_loss(z, z.clone(), T=4.0).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0])
def test_soft_target_two_class_hand_value(T):
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    expected = T * T * _kl(_softmax([math.log(3.0) / T, 0.0]), [0.5, 0.5])
    assert soft_target_loss(student, teacher, T=T).item() == pytest.approx(expected, rel=1e-5)
    if T == 1.0:
        assert expected == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))


def test_soft_target_temperature_scaling_and_batch_mean():
    torch.manual_seed(0)
    s, t = torch.randn(8, 6), torch.randn(8, 6)
    for T in (2.0, 4.0, 7.5):
        assert soft_target_loss(s, t, T).item() == pytest.approx(T * T * soft_target_loss(s / T, t / T, 1.0).item(), rel=1e-5)
    per_row = [soft_target_loss(s[i:i + 1], t[i:i + 1], 4.0).item() for i in range(8)]
    assert soft_target_loss(s, t, 4.0).item() == pytest.approx(sum(per_row) / 8, rel=1e-5)


def test_soft_target_module_averages_over_teachers():
    torch.manual_seed(1)
    s, t1, t2 = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    student = NetOutput(s, torch.randn(4, 2), {})
    teacher = NetOutput((t1 + t2) / 2, torch.randn(4, 2), {}, {"per_modality_logits": {"a": t1, "b": t2}})
    expected = (soft_target_loss(s, t1, 4.0) + soft_target_loss(s, t2, 4.0)) / 2
    assert SoftTarget()(student, teacher).item() == pytest.approx(expected.item(), rel=1e-6)
    fused = SoftTarget(per_teacher=False)(student, teacher)
    assert fused.item() == pytest.approx(soft_target_loss(s, (t1 + t2) / 2, 4.0).item(), rel=1e-6)


# ------------------------------------------------------------------ small hand-computed cases

def test_logits_mse_hand_value():
    assert logits_mse_loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])).item() == pytest.approx(2.5)


def test_semantic_mse_hand_value():
    assert semantic_loss(torch.tensor([[1.0, 1.0, 1.0]]), torch.tensor([[1.0, 3.0, 1.0]])).item() == pytest.approx(4.0 / 3)


def test_attention_transfer_hand_value():
    student = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    teacher = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    assert attention_transfer_loss(student, teacher).item() == pytest.approx(1.0)
    assert attention_transfer_loss(student, student * 5).item() == pytest.approx(0.0, abs=1e-7)


def test_attention_transfer_different_channels_and_sizes():
    torch.manual_seed(2)
    s = torch.rand(3, 8, 14, 14, requires_grad=True)
    t = torch.rand(3, 32, 7, 7)
    loss = attention_transfer_loss(s, t)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0 and s.grad.abs().sum() > 0


def test_correlation_congruence_hand_value():
    gamma = 0.4
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    teacher = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    c = math.exp(-2 * gamma)
    diag = c * (1 + 2 * gamma + (2 * gamma) ** 2 / 2)
    assert torch.allclose(cc_correlation(student, gamma, 2), torch.tensor([[diag, c], [c, diag]]))
    expected = 2 / 4 * (diag - c) ** 2
    assert correlation_congruence_loss(student, teacher, gamma, 2).item() == pytest.approx(expected, rel=1e-5)


def test_fitnet_hand_value_linear_and_conv():
    fit = FitNet(2, 2)
    with torch.no_grad():
        fit.regressor.weight.copy_(torch.eye(2) * 2)
        fit.regressor.bias.zero_()
    s = NetOutput(torch.zeros(1, 3), torch.tensor([[1.0, 1.0]]), {})
    t = NetOutput(torch.zeros(1, 3), torch.tensor([[3.0, 2.0]]), {})
    assert fit(s, t).item() == pytest.approx(((2 - 3) ** 2 + (2 - 2) ** 2) / 2)

    conv = FitNet(1, 1, pair=("x", "y"))
    with torch.no_grad():
        conv.regressor.weight.fill_(2.0)
        conv.regressor.bias.zero_()
    s = NetOutput(torch.zeros(1, 3), torch.zeros(1, 2), {"x": torch.ones(1, 1, 2, 2)})
    t = NetOutput(torch.zeros(1, 3), torch.zeros(1, 2), {"y": torch.full((1, 1, 2, 2), 3.0)})
    loss = conv(s, t)
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert conv.regressor.weight.grad is not None and conv.regressor.weight.grad.abs().sum() > 0


def test_fitnet_resizes_to_teacher_grid():
    fit = FitNet(4, 6, pair=("x", "y"))
    s = NetOutput(torch.zeros(2, 3), torch.zeros(2, 2), {"x": torch.randn(2, 4, 8, 8)})
    t = NetOutput(torch.zeros(2, 3), torch.zeros(2, 2), {"y": torch.randn(2, 6, 4, 4)})
    assert torch.isfinite(fit(s, t))


# ------------------------------------------------------------------ invariances

def test_rkd_invariant_to_global_scale():
    torch.manual_seed(3)
    s, t = torch.randn(6, 5), torch.randn(6, 7)
    d, a = rkd_distance_loss(s, t), rkd_angle_loss(s, t)
    assert d.item() > 0 and a.item() > 0
    for scale in (0.01, 3.0, 250.0):
        assert rkd_distance_loss(s * scale, t).item() == pytest.approx(d.item(), rel=1e-4)
        assert rkd_distance_loss(s, t * scale).item() == pytest.approx(d.item(), rel=1e-4)
        assert rkd_angle_loss(s * scale, t * scale).item() == pytest.approx(a.item(), rel=1e-4, abs=1e-7)
    assert rkd_distance_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)
    assert rkd_angle_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)


def test_similarity_preserving_invariant_to_common_rotation():
    torch.manual_seed(4)
    s, t = torch.randn(5, 8), torch.randn(5, 8)
    q, _ = torch.linalg.qr(torch.randn(8, 8))
    base = similarity_preserving_loss(s, t)
    assert base.item() > 1e-3
    assert similarity_preserving_loss(s @ q, t @ q).item() == pytest.approx(base.item(), rel=1e-4)
    assert similarity_preserving_loss(s, s @ q).item() == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------ DASK switches

def _relational_outputs(seed: int = 5) -> tuple[NetOutput, NetOutput]:
    g = torch.Generator().manual_seed(seed)
    student = NetOutput(torch.randn(6, 4, generator=g), torch.randn(6, 8, generator=g), {})
    teacher = NetOutput(torch.randn(6, 4, generator=g), torch.randn(6, 8, generator=g), {})
    return student, teacher


def test_dask_is_weighted_sum_and_switches_remove_terms():
    s, t = _relational_outputs()
    kd = soft_target_loss(s.logits, t.logits, 4.0).item()
    dist = rkd_distance_loss(s.embedding, t.embedding).item()
    ang = rkd_angle_loss(s.embedding, t.embedding).item()
    sem = semantic_loss(s.embedding, t.embedding).item()
    alpha, beta, gamma = 0.5, 2.0, 3.0
    full = DASK(alpha=alpha, beta=beta, gamma=gamma)(s, t).item()
    assert full == pytest.approx(alpha * kd + beta * (dist + ang) + gamma * sem, rel=1e-5)
    no_d = DASK(alpha=alpha, beta=beta, gamma=gamma, distance=False)(s, t).item()
    no_a = DASK(alpha=alpha, beta=beta, gamma=gamma, angle=False)(s, t).item()
    no_s = DASK(alpha=alpha, beta=beta, gamma=gamma, semantic=False)(s, t).item()
    only_kd = DASK(alpha=alpha, beta=beta, gamma=gamma, distance=False, angle=False, semantic=False)(s, t).item()
    assert no_d == pytest.approx(full - beta * dist, rel=1e-5)
    assert no_a == pytest.approx(full - beta * ang, rel=1e-5)
    assert no_s == pytest.approx(full - gamma * sem, rel=1e-5)
    assert only_kd == pytest.approx(alpha * kd, rel=1e-5)
    assert set(DASK(angle=False).terms(s, t)) == {"st", "distance", "semantic"}


# ------------------------------------------------------------------ registry and gradient isolation

def _registry_kwargs(emb: torch.Tensor) -> dict[str, dict]:
    return {
        "st": {"T": 4.0},
        "logits": {},
        "semantic": {},
        "sp": {"pairs": [("layer3", "block3")]},
        "rkd": {},
        "cc": {},
        "at": {"pairs": [("layer2", "block2"), ("layer4", "block4")]},
        "fitnet": {"student_dim": 256, "teacher_dim": 256, "pair": ("layer3", "block3")},
        "dask": {"beta": 1.0, "gamma": 1.0},
        "gsdm": {"class_embedding": emb, "student_taps": ["layer1", "layer2", "layer3", "layer4"],
                 "teacher_taps": ["block1", "block2", "block3", "block4"]},
    }


def test_registry_names():
    assert {"st", "at", "sp", "rkd", "cc", "fitnet", "logits", "dask", "gsdm"} <= set(LOSSES)
    with pytest.raises(KeyError, match="unknown distillation loss"):
        build_loss("nope")


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(6)
    student = ResNetStudent(18, num_classes=5, embed_dim=16)
    teacher = VGG16BN(num_classes=5, embed_dim=16)
    teacher.eval()
    emb = torch.randn(5, 16)
    return student, teacher, emb


@pytest.mark.parametrize("name", ["st", "logits", "semantic", "sp", "rkd", "cc", "at", "fitnet", "dask", "gsdm"])
def test_gradients_reach_student_only(nets, name):
    student, teacher, emb = nets
    student.zero_grad(set_to_none=True)
    teacher.zero_grad(set_to_none=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    loss_fn = build_loss(name, **_registry_kwargs(emb)[name])
    s_out, t_out = student(x), teacher(x)
    context = {}
    if name == "gsdm":
        context = {"student_ablated": ablated_forward(student, x), "teacher_ablated": ablated_forward(teacher, x)}
    loss = loss_fn(s_out, t_out, **context)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads
    if name != "gsdm":   # GSDM's student gradient vanishes when its slope weights are <= 0 (see test_gsdm)
        assert sum(g.abs().sum().item() for g in grads) > 0


def test_teacher_tensors_are_detached_inside():
    s = torch.randn(4, 5, requires_grad=True)
    t = torch.randn(4, 5, requires_grad=True)
    for fn in (soft_target_loss, logits_mse_loss, semantic_loss, rkd_distance_loss, rkd_angle_loss,
               similarity_preserving_loss, correlation_congruence_loss):
        fn(s, t).backward()
    assert t.grad is None and s.grad is not None


def test_semantic_with_class_embedding_needs_labels():
    emb = torch.randn(3, 4)
    loss_fn = build_loss("semantic", class_embedding=emb)
    s = NetOutput(torch.randn(2, 3), emb[[2, 0]].clone(), {})
    assert loss_fn(s, None, labels=torch.tensor([2, 0])).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="labels"):
        loss_fn(s, None)


def test_missing_tap_is_named():
    loss_fn = build_loss("at", pairs=[("layer9", "block1")])
    out = NetOutput(torch.zeros(1, 2), torch.zeros(1, 2), {"layer1": torch.zeros(1, 1, 2, 2)})
    with pytest.raises(KeyError, match="layer9"):
        loss_fn(out, out)


def test_semantic_class_embedding_averages_modalities_and_teacher_objective():
    emb = torch.randn(3, 4)
    labels = torch.tensor([1, 2])
    h_a, h_b = emb[labels].clone(), emb[labels] + 1.0
    logits_a, logits_b = torch.randn(2, 3), torch.randn(2, 3)
    fused = NetOutput((logits_a + logits_b) / 2, (h_a + h_b) / 2, {},
                      {"per_modality_logits": {"a": logits_a, "b": logits_b},
                       "per_modality_embedding": {"a": h_a, "b": h_b}})
    assert build_loss("semantic", class_embedding=emb)(fused, None, labels=labels).item() == pytest.approx(0.5)
    ce = (nn.functional.cross_entropy(logits_a, labels) + nn.functional.cross_entropy(logits_b, labels)) / 2
    assert sakdn_teacher_loss(fused, labels, emb).item() == pytest.approx(ce.item() + 0.5, rel=1e-6)


def test_gsdm_registry_with_fused_sensor_teachers(nets):
    from training.distill.gsdm import GSDMLoss
    from training.models.fusion import SensorTeachers

    student, _, emb = nets
    torch.manual_seed(8)
    teachers = SensorTeachers(["acc", "gyro"], num_classes=5, embed_dim=16).eval()
    g = torch.Generator().manual_seed(9)
    video = torch.randn(3, 3, 32, 32, generator=g)
    gaf = {"acc": torch.randn(3, 3, 32, 32, generator=g), "gyro": torch.randn(3, 3, 32, 32, generator=g)}
    s_out, t_out = student(video), teachers(gaf)
    s_abl, t_abl = ablated_forward(student, video), ablated_forward(teachers, gaf)
    kwargs = _registry_kwargs(emb)["gsdm"]
    loss = build_loss("gsdm", **kwargs)(s_out, t_out, student_ablated=s_abl, teacher_ablated=t_abl)
    s_taps = [s_out.taps[n] for n in kwargs["student_taps"]]
    t_taps = [[t_out.taps[f"{m}.{n}"] for n in kwargs["teacher_taps"]] for m in ("acc", "gyro")]
    t_logits = [t_out.extras["per_modality_logits"][m] for m in ("acc", "gyro")]
    t_abl_logits = [t_abl.extras["per_modality_logits"][m] for m in ("acc", "gyro")]
    expected = GSDMLoss(emb)(s_taps, s_out.logits, s_abl.logits, t_taps, t_logits, t_abl_logits)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is None for p in teachers.parameters())
    with pytest.raises(ValueError, match="student_ablated"):
        build_loss("gsdm", **kwargs)(s_out, t_out)
