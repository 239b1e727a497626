"""Shape contracts, determinism, gradients, weight loading and input normalisation of training.models."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from training.models import (
    TRN,
    VGG16BN,
    BNInception,
    InputNormalizer,
    NetOutput,
    ResNetStudent,
    WeightsError,
    input_normalizer,
    load_pretrained,
)
from training.models.bninception import STAGE_NAMES, StridedMaxPool
from training.models.trn import evenly_spaced

torch.set_num_threads(2)

BNI_CHANNELS = {
    "conv1": 64, "conv2": 192, "inception3a": 256, "inception3b": 320, "inception3c": 576,
    "inception4a": 576, "inception4b": 576, "inception4c": 608, "inception4d": 608,
    "inception4e": 1056, "inception5a": 1024, "inception5b": 1024,
}
BNI_STRIDES = {"conv1": 4, "conv2": 8, "inception3a": 8, "inception3b": 8, "inception3c": 16, "inception4a": 16,
               "inception4b": 16, "inception4c": 16, "inception4d": 16, "inception4e": 32, "inception5a": 32, "inception5b": 32}


def _ceil_div(size: int, stride: int) -> int:
    return -(-size // stride)


def _batch(size: int) -> int:
    return 1 if size >= 224 else 2


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("size", [32, 64, 224])
def test_vgg16bn_shapes(size):
    net = VGG16BN(num_classes=7, embed_dim=50).eval()
    b = _batch(size)
    with torch.no_grad():
        out = net(torch.randn(b, 3, size, size))
    assert isinstance(out, NetOutput)
    assert out.logits.shape == (b, 7) and out.embedding.shape == (b, 50)
    assert list(out.taps) == ["block1", "block2", "block3", "block4", "block5"]
    for k, (name, tap) in enumerate(out.taps.items()):
        assert tap.shape == (b, (64, 128, 256, 512, 512)[k], size // 2 ** (k + 1), size // 2 ** (k + 1)), name


def test_vgg16bn_stages_then_classifier_is_forward():
    net = VGG16BN(num_classes=4, embed_dim=16, in_channels=3).eval()
    x = torch.randn(2, 3, 40, 48)
    with torch.no_grad():
        out = net(x)
        h = x
        for name, stage in net.stages.items():
            h = stage(h)
            if name in out.taps:
                assert torch.equal(h, out.taps[name])
        assert torch.equal(h, out.embedding)
        assert torch.equal(net.classifier(h), out.logits)
    assert list(net.stages) == ["block1", "block2", "block3", "block4", "block5", "fc6", "fc7"]


def test_vgg16bn_in_channels_and_small_input():
    net = VGG16BN(num_classes=3, embed_dim=8, in_channels=6).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 6, 32, 32)).logits.shape == (2, 3)
    with pytest.raises(ValueError, match="H, W >= 32"):
        net(torch.randn(2, 6, 16, 16))


@pytest.mark.parametrize("depth,width", [(18, 512), (50, 2048)])
@pytest.mark.parametrize("size", [32, 64, 224])
def test_resnet_student_shapes(depth, width, size):
    net = ResNetStudent(depth, num_classes=5, embed_dim=30).eval()
    b = _batch(size)
    with torch.no_grad():
        out = net(torch.randn(b, 3, size, size))
    assert out.logits.shape == (b, 5) and out.embedding.shape == (b, 30)
    assert list(out.taps) == ["layer1", "layer2", "layer3", "layer4"]
    expansion = width // 512
    for k, tap in enumerate(out.taps.values()):
        side = _ceil_div(size, 4 * 2 ** k)
        assert tap.shape == (b, 64 * 2 ** k * expansion, side, side)
    assert net.fc0.in_features == width


@pytest.mark.parametrize("size", [32, 48, 64, 97, 224])
def test_bninception_shapes(size):
    net = BNInception(num_classes=10).eval()
    b = _batch(size)
    with torch.no_grad():
        out = net(torch.randn(b, 3, size, size))
    assert out.embedding.shape == (b, 1024) and out.logits.shape == (b, 10)
    assert tuple(out.taps) == STAGE_NAMES
    for name, tap in out.taps.items():
        assert tap.shape[:2] == (b, BNI_CHANNELS[name]), name
    # stride-2 stages halve (rounding up) the map; the stem pools are ceil-mode 3x3/2
    stem = _ceil_div(size, 2)
    conv1 = _ceil_div(stem - 3, 2) + 1
    conv2 = _ceil_div(conv1 - 3, 2) + 1
    assert out.taps["conv1"].shape[-1] == conv1 and out.taps["conv2"].shape[-1] == conv2
    assert out.taps["inception3c"].shape[-1] == _ceil_div(conv2, 2)
    assert out.taps["inception5b"].shape[-1] == _ceil_div(_ceil_div(conv2, 2), 2)
    if size == 224:
        assert {n: t.shape[-1] for n, t in out.taps.items()} == {n: 224 // s for n, s in BNI_STRIDES.items()}


def test_bninception_headless_and_param_count():
    net = BNInception()
    with torch.no_grad():
        out = net.eval()(torch.randn(1, 3, 32, 32))
    assert out.logits.shape == (1, 0)
    # BN-Inception has about 10.3 M parameters without its ImageNet classifier
    assert 10.2e6 < sum(p.numel() for p in net.parameters()) < 10.35e6


def test_strided_max_pool_is_tsn_pool_on_even_maps_and_matches_convs_on_odd():
    pool = StridedMaxPool()
    even = torch.randn(1, 4, 14, 10)
    assert torch.equal(pool(even), F.max_pool2d(even, 3, stride=2, ceil_mode=True))
    odd = torch.randn(1, 4, 7, 9)
    conv = nn.Conv2d(4, 4, 3, stride=2, padding=1)
    assert pool(odd).shape == conv(odd).shape == (1, 4, 4, 5)
    assert torch.isfinite(pool(odd)).all()


@pytest.mark.parametrize("backbone", ["bninception", "resnet18", "resnet50"])
@pytest.mark.parametrize("size", [32, 64])
def test_trn_shapes(backbone, size):
    net = TRN(num_classes=6, num_segments=3, backbone=backbone, embed_dim=20).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 3, size, size))
    assert out.logits.shape == (2, 6) and out.embedding.shape == (2, 20)
    assert tuple(out.taps) == net.gsdm_taps and len(net.gsdm_taps) == 5
    for tap in out.taps.values():
        assert tap.dim() == 4 and tap.shape[0] == 2


def test_trn_bninception_224_taps():
    net = TRN(num_classes=4, num_segments=2, embed_dim=10).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 2, 3, 224, 224))
    assert net.gsdm_taps == ("conv2", "inception3c", "inception4c", "inception5a", "inception5b")
    assert {n: tuple(t.shape) for n, t in out.taps.items()} == {
        "conv2": (1, 192, 28, 28), "inception3c": (1, 576, 14, 14), "inception4c": (1, 608, 14, 14),
        "inception5a": (1, 1024, 7, 7), "inception5b": (1, 1024, 7, 7),
    }


def test_trn_taps_and_embedding_are_segment_means():
    net = TRN(num_classes=3, num_segments=3, backbone="resnet18", embed_dim=8, tap_names=("layer2", "layer4")).eval()
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        out = net(x)
        pooled, maps = net.backbone.features(x.flatten(0, 1))
        bottleneck = net.bottleneck(pooled).view(2, 3, -1)
    assert tuple(out.taps) == ("layer2", "layer4")
    torch.testing.assert_close(out.taps["layer2"], maps["layer2"].view(2, 3, *maps["layer2"].shape[1:]).mean(1))
    torch.testing.assert_close(out.embedding, bottleneck.mean(1))


def test_trn_rejects_bad_configuration():
    with pytest.raises(ValueError, match="num_segments >= 2"):
        TRN(num_classes=3, num_segments=1, backbone="resnet18")
    with pytest.raises(ValueError, match="unknown video backbone"):
        TRN(num_classes=3, num_segments=3, backbone="vgg11")
    net = TRN(num_classes=3, num_segments=3, backbone="resnet18", embed_dim=8)
    with pytest.raises(ValueError, match=r"\(B, 3, 3, H, W\)"):
        net(torch.randn(2, 4, 3, 32, 32))


# ---------------------------------------------------------------- TRN relation sampling

def test_trn_relation_is_the_sum_over_all_tuples_when_few():
    """3 segments: scale 3 has one tuple, scale 2 has three, all used; compare with a hand-written sum."""
    net = TRN(num_classes=4, num_segments=3, backbone="resnet18", embed_dim=5, dropout=0.0).eval()
    feats = torch.randn(2, 3, 5)
    expected = net.relation.mlps[0](feats.reshape(2, 15))
    for pair in itertools.combinations(range(3), 2):
        expected = expected + net.relation.mlps[1](feats[:, list(pair)].reshape(2, 10))
    with torch.no_grad():
        torch.testing.assert_close(net.relation(feats), expected)


def test_trn_eval_is_repeatable_and_uses_evenly_spaced_tuples():
    net = TRN(num_classes=5, num_segments=5, backbone="resnet18", embed_dim=6).eval()
    x = torch.randn(2, 5, 3, 32, 32)
    with torch.no_grad():
        first = net(x)
        torch.manual_seed(123)
        second = net(x)
    assert torch.equal(first.logits, second.logits) and torch.equal(first.embedding, second.embedding)
    all_pairs = list(itertools.combinations(range(5), 2))
    assert net.relation.chosen_tuples(2).tolist() == [list(all_pairs[i]) for i in (0, 4, 9)]
    assert evenly_spaced(10, 3) == [0, 4, 9] and evenly_spaced(2, 3) == [0, 1]
    assert net.relation.chosen_tuples(5).tolist() == [[0, 1, 2, 3, 4]]


def test_trn_training_samples_tuples():
    net = TRN(num_classes=5, num_segments=5, backbone="resnet18", embed_dim=6, dropout=0.0).train()
    draws = {tuple(map(tuple, net.relation.chosen_tuples(3).tolist())) for _ in range(20)}
    assert len(draws) > 1
    assert all(len(d) == 3 and len(set(d)) == 3 for d in draws)
    assert net.relation.chosen_tuples(5).shape == (1, 5)
    x = torch.randn(2, 5, 3, 32, 32)
    torch.manual_seed(1)
    a = net(x).logits
    torch.manual_seed(1)
    b = net(x).logits
    torch.manual_seed(2)
    c = net(x).logits
    assert torch.equal(a, b)  # sampling follows torch's RNG
    assert not torch.allclose(a, c)  # and different draws give different relations


# ---------------------------------------------------------------- gradients

def _bias_before_batch_norm(net: nn.Module) -> set[str]:
    """BN-Inception's conv biases (kept for TSN weight files): BN in training mode cancels them, so their gradient is 0."""
    if not isinstance(getattr(net, "backbone", net), BNInception):
        return set()
    return {n for n, _ in net.named_parameters() if n.endswith(".bias") and "_bn." not in n and "stages." in n}


def _assert_all_grads(net: nn.Module, out: NetOutput) -> None:
    loss = out.logits.square().mean() + out.embedding.square().mean() + sum(t.mean() for t in out.taps.values())
    loss.backward()
    cancelled = _bias_before_batch_norm(net)
    params = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for _, p in params)
    no_grad = [n for n, p in params if n not in cancelled and not p.grad.abs().sum() > 0]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"


@pytest.mark.parametrize(
    "build,shape",
    [
        (lambda: VGG16BN(num_classes=3, embed_dim=8), (2, 3, 32, 32)),
        (lambda: ResNetStudent(18, num_classes=3, embed_dim=8), (2, 3, 32, 32)),
        (lambda: ResNetStudent(50, num_classes=3, embed_dim=8), (2, 3, 32, 32)),
        (lambda: BNInception(num_classes=3), (2, 3, 32, 32)),
        (lambda: TRN(num_classes=3, num_segments=3, embed_dim=8, dropout=0.5), (2, 3, 3, 32, 32)),
    ],
    ids=["vgg16bn", "resnet18", "resnet50", "bninception", "trn-bninception"],
)
def test_gradients_reach_every_parameter(build, shape):
    net = build().train()
    _assert_all_grads(net, net(torch.randn(*shape)))


# ---------------------------------------------------------------- pretrained weights

def _randomise_bn_statistics(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)


def test_load_torchvision_vgg16_bn_round_trip(tmp_path: Path):
    reference = torchvision.models.vgg16_bn(weights=None).eval()
    _randomise_bn_statistics(reference)
    torch.save(reference.state_dict(), tmp_path / "vgg16_bn.pth")
    net = VGG16BN(num_classes=5, embed_dim=12).eval()
    report = load_pretrained(net, tmp_path / "vgg16_bn.pth", "vgg16_bn")
    assert len([k for k in report.loaded if not k.endswith("num_batches_tracked")]) == 13 * 6
    assert all(k.startswith("stages.fc") or k.startswith("classifier.") for k in report.missing)
    assert sorted(report.unexpected) == sorted(k for k in reference.state_dict() if k.startswith("classifier."))
    assert not report.mismatched and not report.complete
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x).taps["block5"], reference.features(x), rtol=0, atol=0)
        torch.testing.assert_close(net.stages["block2"](net.stages["block1"](x)), reference.features[:14](x), rtol=0, atol=0)


@pytest.mark.parametrize("depth", [18, 50])
def test_load_torchvision_resnet_round_trip(tmp_path: Path, depth: int):
    reference = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    _randomise_bn_statistics(reference)
    wrapped = {"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}
    torch.save(wrapped, tmp_path / "resnet.pth")
    student = ResNetStudent(depth, num_classes=3, embed_dim=8).eval()
    report = load_pretrained(student, tmp_path / "resnet.pth", "resnet")
    assert report.complete and report.unexpected == ["fc.weight", "fc.bias"]
    if depth == 18:
        trn = TRN(num_classes=3, num_segments=2, backbone="resnet18")
        assert load_pretrained(trn, tmp_path / "resnet.pth", "resnet").complete
        assert torch.equal(trn.backbone.layer3[1].bn2.running_mean, reference.layer3[1].bn2.running_mean)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference.layer4(reference.layer3(reference.layer2(reference.layer1(
            reference.maxpool(reference.relu(reference.bn1(reference.conv1(x))))))))
        torch.testing.assert_close(student(x).taps["layer4"], expected, rtol=0, atol=0)
        torch.testing.assert_close(student.backbone(x)[0], torch.flatten(reference.avgpool(expected), 1))


def _tsn_state_dict(net: BNInception) -> dict[str, torch.Tensor]:
    """Our BN-Inception tensors renamed to TSN/TRN keys, BN vectors stored (1, C) as in Caffe conversions."""
    out = {}
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.startswith("last_linear."):
            out[key] = value
            continue
        _, stage, rest = key.split(".", 2)
        prefix = stage if stage.startswith("conv") else "inception_" + stage[len("inception"):]
        if "_bn." in rest:
            value = value.unsqueeze(0)
        out[f"{prefix}_{rest}"] = value
    return out


def test_load_tsn_bninception_round_trip(tmp_path: Path):
    source = BNInception(num_classes=1000).eval()
    _randomise_bn_statistics(source)
    tsn = _tsn_state_dict(source)
    assert "inception_3a_double_3x3_1_bn.running_var" in tsn and "conv1_7x7_s2.weight" in tsn
    torch.save({"state_dict": {f"module.base_model.{k}": v for k, v in tsn.items()}}, tmp_path / "tsn.pth")

    net = BNInception(num_classes=1000).eval()
    report = load_pretrained(net, tmp_path / "tsn.pth", "bninception")
    assert report.complete and not report.unexpected
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = source(x), net(x)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.taps["inception4c"], b.taps["inception4c"])

    trn = TRN(num_classes=3, num_segments=2, backbone="bninception")
    report = load_pretrained(trn, tmp_path / "tsn.pth", "bninception")
    assert report.complete and report.unexpected == ["last_linear.weight", "last_linear.bias"]
    assert torch.equal(trn.backbone.stages.inception5b.get_parameter("pool_proj.weight"),
                       source.stages.inception5b.get_parameter("pool_proj.weight"))


def test_partial_file_reports_missing_unexpected_and_mismatched(tmp_path: Path):
    state = torchvision.models.resnet18(weights=None).state_dict()
    del state["layer4.1.conv2.weight"], state["layer4.1.bn2.bias"]
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    state["extra.head.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "partial.pth")
    net = ResNetStudent(18, num_classes=3, embed_dim=8)
    before = net.backbone.layer1[0].conv1.weight.clone()
    report = load_pretrained(net, tmp_path / "partial.pth", "resnet")
    assert report.missing == ["layer4.1.conv2.weight", "layer4.1.bn2.bias"]
    assert report.mismatched == [("layer1.0.conv1.weight", (64, 64, 1, 1), (64, 64, 3, 3))]
    assert set(report.unexpected) == {"fc.weight", "fc.bias", "extra.head.weight"}
    assert not report.complete
    assert "2 missing" in report.message and "1 shape mismatches" in report.message and "extra.head.weight" in str(report)
    assert torch.equal(net.backbone.layer1[0].conv1.weight, before)
    assert torch.equal(net.backbone.layer1[0].bn1.running_var, state["layer1.0.bn1.running_var"])


def test_load_pretrained_errors(tmp_path: Path):
    net = VGG16BN(num_classes=3, embed_dim=8)
    with pytest.raises(WeightsError, match="not found"):
        load_pretrained(net, tmp_path / "absent.pth", "vgg16_bn")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pth: not a readable"):
        load_pretrained(net, tmp_path / "junk.pth", "vgg16_bn")
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "r18.pth")
    with pytest.raises(WeightsError, match="no tensor fits a VGG16BN"):
        load_pretrained(net, tmp_path / "r18.pth", "vgg16_bn")
    with pytest.raises(WeightsError, match="has none"):
        load_pretrained(net, tmp_path / "r18.pth", "resnet")
    with pytest.raises(WeightsError, match="unknown kind"):
        load_pretrained(net, tmp_path / "r18.pth", "imagenet")


# ---------------------------------------------------------------- input normalisation

def test_normalizer_bninception_is_bgr_minus_caffe_mean():
    frames = torch.tensor([[[[10, 20, 30]]]], dtype=torch.uint8).expand(2, 4, 5, 3).contiguous()  # (2, 4, 5, 3) RGB
    out = input_normalizer("bninception")(frames)
    assert out.shape == (2, 3, 4, 5) and out.dtype == torch.float32
    assert out[0, :, 0, 0].tolist() == [30 - 104, 20 - 117, 10 - 128]


def test_normalizer_imagenet_on_unit_rgb():
    frames = torch.full((1, 2, 8, 8, 3), 255, dtype=torch.uint8)  # (B, S, H, W, 3)
    out = input_normalizer("resnet18")(frames)
    assert out.shape == (1, 2, 3, 8, 8)
    expected = [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    torch.testing.assert_close(out[0, 0, :, 0, 0], torch.tensor(expected))


@pytest.mark.parametrize("convention", ["caffe", "imagenet"])
def test_normalizer_uint8_channels_last_equals_float_channels_first(convention):
    frames = torch.randint(0, 256, (3, 6, 7, 3), dtype=torch.uint8)
    norm = InputNormalizer(convention)
    torch.testing.assert_close(norm(frames), norm(frames.permute(0, 3, 1, 2).float()))


def test_normalizer_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown video backbone"):
        input_normalizer("alexnet")
    with pytest.raises(ValueError, match="unknown convention"):
        InputNormalizer("alexnet")
    norm = input_normalizer("resnet18")
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W, 3\)"):
        norm(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        norm(torch.zeros(2, 8, 8, 3))
