"""GSDM: slope weights, graph affinity, maps, the loss and the ablated forward pass."""
from __future__ import annotations

import math

import pytest
import torch

from training.distill.gsdm import (
    GSDMLoss, ablated_forward, channel_weights, graph_affinity, gsdm_map, map_distance, normalise_map, slope_weights,
)
from training.models.vgg import VGG16BN

torch.set_num_threads(1)


def test_graph_affinity_hand_value():
    s = graph_affinity(torch.tensor([[0.0], [2.0]]))
    w = math.exp(-4.0 / 2)
    expected = torch.tensor([[1.0, w], [w, 1.0]]) / (1.0 + w)
    assert torch.allclose(s, expected, atol=1e-6)


def test_graph_affinity_symmetric_normalisation():
    torch.manual_seed(0)
    s = graph_affinity(torch.randn(5, 7))
    assert torch.allclose(s, s.t(), atol=1e-6)
    eig = torch.linalg.eigvalsh(s.double())
    assert eig.max().item() == pytest.approx(1.0, abs=1e-6)   # D^-1/2 W D^-1/2 has top eigenvalue 1


def test_plain_slope_weight_hand_value():
    emb = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    logits = torch.tensor([[3.0, 0.0]])
    ablated = torch.tensor([[0.0, 3.0]])
    w = slope_weights(logits, ablated, emb, graph=False)
    assert w.shape == (1, 2)
    assert w[0].tolist() == pytest.approx([(1 - 2) / 1, (2 - 1) / 2])
    assert (slope_weights(logits, logits, emb, graph=False) == 0).all()


def test_channel_weights_resize_the_slope_to_the_layer_width():
    slope = torch.tensor([[0.0, 1.0, 2.0]])
    assert channel_weights(slope, 3) is slope
    assert channel_weights(slope, 5)[0].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


def test_channel_weighting_is_not_the_plain_channel_sum():
    torch.manual_seed(3)
    emb = torch.randn(4, 6)
    logits = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 2.0]])
    ablated = torch.tensor([[0, 2.0, 0, 0]]).repeat(4, 1)
    taps = [torch.rand(4, 8, 5, 5)]
    channel_maps = GSDMLoss(emb, graph=False, weighting="channel").maps(taps, logits, ablated)
    mean_maps = GSDMLoss(emb, graph=False, weighting="mean").maps(taps, logits, ablated)
    assert channel_maps[0].shape == mean_maps[0].shape == (4, 5, 5)
    ch, mn = normalise_map(channel_maps[0]), normalise_map(mean_maps[0])
    assert not torch.allclose(ch[0], mn[0], atol=1e-3)


def test_graph_and_plain_variants_differ():
    torch.manual_seed(1)
    emb = torch.randn(4, 6)
    logits = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0], [1.9, 0, 0, 0]])
    ablated = torch.zeros(4, 4)
    plain = slope_weights(logits, ablated, emb, graph=False)
    graph = slope_weights(logits, ablated, emb, graph=True)
    assert torch.isfinite(plain).all() and torch.isfinite(graph).all()
    assert not torch.allclose(plain, graph)
    taps = [torch.randn(4, 3, 5, 5)]
    plain_loss = GSDMLoss(emb, graph=False)(taps, logits, ablated, [torch.rand(4, 3, 5, 5)], logits, ablated)
    graph_loss = GSDMLoss(emb, graph=True)(taps, logits, ablated, [torch.rand(4, 3, 5, 5)], logits, ablated)
    assert torch.isfinite(plain_loss) and torch.isfinite(graph_loss)


def test_slope_weights_finite_with_zero_embedding_coordinates():
    emb = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    w = slope_weights(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), emb, graph=False)
    assert torch.isfinite(w).all()


def test_gsdm_map_is_relu_of_weighted_channel_sum():
    a = torch.tensor([[[[1.0, -3.0]], [[2.0, 1.0]]]])          # (1, 2, 1, 2)
    assert torch.equal(gsdm_map(a, torch.tensor([2.0])), torch.tensor([[[6.0, 0.0]]]))
    assert torch.equal(gsdm_map(a, torch.tensor([-1.0])), torch.tensor([[[0.0, 2.0]]]))


def test_maps_finite_for_all_zero_batch():
    torch.manual_seed(2)
    net = VGG16BN(num_classes=4, embed_dim=8).eval()
    zeros = torch.zeros(3, 3, 32, 32)
    with torch.no_grad():
        out = net(zeros)
    gsdm = GSDMLoss(torch.randn(4, 8), graph=True)
    maps = gsdm.maps(list(out.taps.values()), out.logits, out.logits)
    assert all(torch.isfinite(m).all() and torch.isfinite(normalise_map(m)).all() for m in maps)
    loss = gsdm(list(out.taps.values()), out.logits, out.logits, [list(out.taps.values())], [out.logits], [out.logits])
    assert torch.isfinite(loss)
    assert torch.equal(normalise_map(torch.zeros(2, 3, 3)), torch.zeros(2, 3, 3))


def test_loss_zero_when_student_maps_equal_teacher_maps():
    torch.manual_seed(3)
    emb = torch.randn(5, 6)
    taps = [torch.rand(4, 8, 8, 8), torch.rand(4, 16, 4, 4)]
    logits, ablated = torch.randn(4, 5), torch.randn(4, 5)
    loss = GSDMLoss(emb)(taps, logits, ablated, [taps, taps], [logits, logits], [ablated, ablated])
    assert loss.item() == pytest.approx(0.0, abs=1e-10)


def test_differentiable_for_student_not_teacher():
    torch.manual_seed(4)
    emb = torch.randn(5, 6)
    s_taps = [torch.rand(4, 8, 8, 8, requires_grad=True), torch.rand(4, 16, 4, 4, requires_grad=True)]
    t_taps = [torch.rand(4, 12, 8, 8, requires_grad=True), torch.rand(4, 20, 2, 2, requires_grad=True)]
    logits = torch.tensor([[3.0, 0, 0, 0, 0], [0, 3.0, 0, 0, 0], [0, 0, 3.0, 0, 0], [0, 0, 0, 3.0, 0]])
    gsdm = GSDMLoss(emb, graph=True)
    loss = gsdm(s_taps, logits, torch.zeros(4, 5), t_taps, logits.flip(0), torch.zeros(4, 5))
    assert loss.item() > 0
    loss.backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in s_taps)
    assert all(t.grad is None for t in t_taps)


def test_interpolates_to_common_size():
    a = torch.rand(2, 6, 10)
    assert map_distance(torch.ones(2, 8, 8), torch.full((2, 4, 4), 3.0)).item() == pytest.approx(0.0, abs=1e-10)
    assert map_distance(a, a.clone()).item() == pytest.approx(0.0, abs=1e-10)
    left = torch.zeros(1, 8, 8)
    left[..., :4] = 1.0
    right_small = torch.zeros(1, 4, 4)
    right_small[..., 2:] = 1.0
    left_small = torch.zeros(1, 4, 4)
    left_small[..., :2] = 1.0
    assert map_distance(left, left_small).item() < 0.05 < map_distance(left, right_small).item()
    assert torch.isfinite(map_distance(torch.rand(2, 6, 10), torch.rand(2, 3, 5)))
    assert torch.isfinite(map_distance(torch.rand(2, 3, 10), torch.rand(2, 6, 5)))   # mixed up/down sampling
    s = torch.rand(2, 7, 7, requires_grad=True)
    map_distance(s, torch.rand(2, 14, 14)).backward()
    assert s.grad.abs().sum() > 0


def test_mismatched_pairs_raise():
    gsdm = GSDMLoss(torch.randn(3, 4))
    taps = [torch.rand(2, 4, 4, 4)]
    with pytest.raises(ValueError, match="one to one"):
        gsdm(taps, torch.randn(2, 3), torch.randn(2, 3), [taps + taps], [torch.randn(2, 3)], [torch.randn(2, 3)])
    with pytest.raises(ValueError, match="num_classes, D"):
        GSDMLoss(torch.randn(3))


@pytest.mark.parametrize("eval_mode", [True, False])
def test_ablated_forward_keeps_state_and_gradients(eval_mode):
    torch.manual_seed(5)
    net = VGG16BN(num_classes=4, embed_dim=8).train()
    x = torch.randn(3, 3, 32, 32)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    out = net(x)                                       # real forward first: its graph must survive
    after_real = {k: v.clone() for k, v in net.state_dict().items()}
    ablated = ablated_forward(net, x, eval_mode=eval_mode)
    assert not ablated.logits.requires_grad
    assert net.training and all(m.training for m in net.modules())
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in after_real.items())
    assert not all(torch.equal(v, after_real[k]) for k, v in before.items())   # the real pass did update BN
    out.logits.sum().backward()
    assert net.stages["block1"][0].weight.grad is not None
    net.train(not eval_mode)
    with torch.no_grad():
        reference = net(torch.zeros_like(x))
    assert torch.allclose(ablated.logits, reference.logits, atol=1e-6)
    assert torch.allclose(ablated.logits, ablated.logits[:1].expand_as(ablated.logits))   # one response per batch


def test_map_distance_is_the_squared_norm_of_eq_17():
    torch.manual_seed(7)
    s, t = torch.rand(3, 4, 4), torch.rand(3, 4, 4)
    ns, nt = s / s.flatten(1).norm(dim=1).view(3, 1, 1), t / t.flatten(1).norm(dim=1).view(3, 1, 1)
    expected = sum(((ns[b] - nt[b]) ** 2).sum() for b in range(3)) / 3
    assert map_distance(s, t).item() == pytest.approx(expected.item(), rel=1e-6)
    assert map_distance(torch.zeros(2, 3, 3), torch.rand(2, 3, 3)).item() == pytest.approx(1.0)


def test_mean_weighting_is_the_published_per_sample_slope():
    torch.manual_seed(8)
    emb = torch.randn(4, 6)
    logits, ablated = torch.randn(5, 4), torch.randn(5, 4)
    slope = slope_weights(logits, ablated, emb, graph=True)
    weights = GSDMLoss(emb, graph=True).weights(logits, ablated)
    assert weights.shape == (5,) and (weights >= 0).all()
    assert torch.allclose(weights, slope.clamp(min=0).mean(dim=1))


def test_pairs_meeting_at_one_pixel_are_left_out():
    torch.manual_seed(9)
    emb = torch.rand(3, 4) + 0.5
    gsdm = GSDMLoss(emb, graph=False)
    logits, ablated = torch.eye(3), torch.eye(3)[[1, 2, 0]]
    s_big, s_one = torch.rand(3, 4, 4, 4, requires_grad=True), torch.rand(3, 4, 1, 1, requires_grad=True)
    t_big, t_one = torch.rand(3, 4, 2, 2), torch.rand(3, 4, 1, 1)
    both = gsdm([s_big, s_one], logits, ablated, [t_big, t_one], logits, ablated)
    alone = gsdm([s_big], logits, ablated, [t_big], logits, ablated)
    assert both.item() == pytest.approx(alone.item())
    both.backward()
    assert s_big.grad.abs().sum() > 0 and s_one.grad is None
    with pytest.raises(ValueError, match="1x1"):
        gsdm([s_one], logits, ablated, [t_one], logits, ablated)


def test_ablated_forward_of_one_row_equals_the_whole_zero_batch():
    from training.models.fusion import SensorTeachers
    from training.models.trn import TRN

    torch.manual_seed(6)
    teachers = SensorTeachers(["acc", "gyro"], num_classes=4, embed_dim=8)
    teachers({m: torch.randn(4, 3, 32, 32) for m in ("acc", "gyro")})          # fills SPAMFM's running statistics
    trn = TRN(num_classes=4, num_segments=3, backbone="resnet18", embed_dim=8)
    for net, x in ((teachers, {m: torch.randn(5, 3, 32, 32) for m in ("acc", "gyro")}),
                   (trn, torch.randn(5, 3, 3, 32, 32))):
        ablated = ablated_forward(net, x)
        net.eval()
        with torch.no_grad():
            whole = net({k: torch.zeros_like(v) for k, v in x.items()} if isinstance(x, dict) else torch.zeros_like(x))
        net.train()
        assert ablated.logits.shape == whole.logits.shape == (5, 4)
        assert torch.allclose(ablated.logits, whole.logits, atol=1e-5)
