"""SPAMFM and the fused sensor teachers."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from training.distill.gsdm import ablated_forward
from training.models.fusion import SPAMFM, SensorTeachers

torch.set_num_threads(1)


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


@pytest.mark.parametrize("m", [1, 3])
@pytest.mark.parametrize("gate", ["paper", "code"])
def test_spamfm_shapes_and_gradients(m, gate):
    torch.manual_seed(m)
    fusion = SPAMFM(channels=8, num_modalities=m, gate=gate)
    _randomise(fusion, seed=m)
    maps = [torch.rand(4, 8, 5 + k, 6, requires_grad=True) for k in range(m)]     # spatial sizes may differ
    out = fusion(maps)
    assert [o.shape for o in out] == [a.shape for a in maps]
    sum(o.pow(2).sum() for o in out).backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in maps)
    assert all(p.grad is not None for p in fusion.parameters())
    assert sum(p.grad.abs().sum() for p in fusion.parameters()) > 0

    vectors = [torch.rand(4, 8, requires_grad=True) for _ in range(m)]
    out = fusion(vectors)
    assert [o.shape for o in out] == [(4, 8)] * m
    out[0].sum().backward()
    assert vectors[0].grad.abs().sum() > 0


def test_spamfm_paper_widths_and_code_widths():
    paper = SPAMFM(channels=8, num_modalities=3, gate="paper")
    code = SPAMFM(channels=8, num_modalities=3, gate="code")
    assert paper.widths == {"con": 4, "sum": 8, "had": 8}          # c_con = m C / 2m, c_sum = c_had = C
    assert code.widths == {"con": 6, "sum": 2, "had": 2}           # (m C) / 4, C / 4
    assert SPAMFM(8, 3, reduction=2, gate="paper").widths == {"con": 12, "sum": 4, "had": 4}
    with pytest.raises(ValueError, match="gate"):
        SPAMFM(8, 2, gate="sigmoid")


def test_spamfm_paper_gate_starts_as_identity_and_variants_differ():
    torch.manual_seed(0)
    maps = [torch.rand(4, 8, 3, 3) for _ in range(2)]
    paper = SPAMFM(8, 2, gate="paper")
    code = SPAMFM(8, 2, gate="code")
    out_paper, out_code = paper(maps), code(maps)
    assert all(torch.allclose(o, a) for o, a in zip(out_paper, maps))
    assert not all(torch.allclose(o, a) for o, a in zip(out_code, maps))
    gates = code.gates(maps)
    assert all(((g > 0) & (g < 3)).all() for g in gates)            # sum of three sigmoids


def test_spamfm_descriptors_follow_equations():
    torch.manual_seed(1)
    a, b = torch.rand(3, 4, 2, 2), torch.rand(3, 4, 2, 2)
    fusion = SPAMFM(4, 2)
    d = fusion.descriptors([a, b])

    def g_s(x):
        r = x.flatten(1)
        g = (r @ r.t()) / (r @ r.t()).norm(dim=1, keepdim=True)
        return g @ x.mean(dim=(2, 3))

    assert torch.allclose(d["con"], torch.cat([g_s(a), g_s(b)], dim=1), atol=1e-6)
    assert torch.allclose(d["sum"], g_s(a) + g_s(b), atol=1e-6)
    assert torch.allclose(d["had"], g_s(a) * g_s(b), atol=1e-6)


def test_spamfm_mixes_modalities():
    torch.manual_seed(2)
    fusion = SPAMFM(4, 2, gate="paper")
    _randomise(fusion, seed=3)
    a, b = torch.rand(3, 4, 2, 2), torch.rand(3, 4, 2, 2)
    first = fusion([a, b])[0]
    second = fusion([a, b * 2 + 1])[0]
    assert not torch.allclose(first, second)                        # modality 2 recalibrates modality 1


def test_spamfm_rejects_wrong_inputs():
    fusion = SPAMFM(8, 2)
    with pytest.raises(ValueError, match="2 modalities"):
        fusion([torch.rand(2, 8, 3, 3)])
    with pytest.raises(ValueError, match="expects"):
        fusion([torch.rand(2, 8, 3, 3), torch.rand(2, 7, 3, 3)])


@pytest.mark.parametrize("fuse", [True, False])
def test_sensor_teachers_forward_backward(fuse):
    torch.manual_seed(4)
    teachers = SensorTeachers(["acc", "gyro"], num_classes=5, embed_dim=16, fuse=fuse, gate="code")
    x = {"acc": torch.randn(4, 3, 32, 32), "gyro": torch.randn(4, 3, 32, 32)}
    out = teachers(x)
    assert out.logits.shape == (4, 5) and out.embedding.shape == (4, 16)
    assert set(out.taps) == {f"{m}.block{k}" for m in ("acc", "gyro") for k in range(1, 6)}
    assert out.taps["gyro.block3"].shape == (4, 256, 4, 4)
    per_logits, per_emb = out.extras["per_modality_logits"], out.extras["per_modality_embedding"]
    assert set(per_logits) == {"acc", "gyro"}
    assert torch.allclose(out.logits, (per_logits["acc"] + per_logits["gyro"]) / 2)
    assert torch.allclose(out.embedding, (per_emb["acc"] + per_emb["gyro"]) / 2)
    assert (len(teachers.fusion) == 7) == fuse and (len(teachers.fusion) == 0) == (not fuse)

    loss = F.cross_entropy(out.logits, torch.tensor([0, 1, 2, 3])) + out.embedding.pow(2).mean()
    loss.backward()
    for m in ("acc", "gyro"):
        assert teachers.nets[m].stages["block1"][0].weight.grad.abs().sum() > 0
    if fuse:
        assert all(p.grad is not None for p in teachers.fusion.parameters())

    teachers.eval()
    with torch.no_grad():
        fused = teachers(x)
        alone = teachers.nets["acc"](x["acc"])
    same = torch.allclose(fused.extras["per_modality_logits"]["acc"], alone.logits, atol=1e-5)
    assert same == (not fuse)


def test_sensor_teachers_ablated_forward_and_errors():
    torch.manual_seed(5)
    teachers = SensorTeachers(["acc", "gyro"], num_classes=3, embed_dim=8).eval()
    x = {"acc": torch.randn(2, 3, 32, 32), "gyro": torch.randn(2, 3, 32, 32)}
    ablated = ablated_forward(teachers, x)
    assert torch.isfinite(ablated.logits).all() and set(ablated.extras["per_modality_logits"]) == {"acc", "gyro"}
    with pytest.raises(KeyError, match="gyro"):
        teachers({"acc": x["acc"]})
    with pytest.raises(ValueError, match="unknown fusion stages"):
        SensorTeachers(["acc"], 3, 8, fusion_stages=("block9",))


@pytest.mark.parametrize("eval_descriptor", ["running", "sample"])
def test_eval_output_of_a_sample_ignores_the_rest_of_its_batch(eval_descriptor):
    torch.manual_seed(11)
    teachers = SensorTeachers(["acc", "gyro"], num_classes=4, embed_dim=8, eval_descriptor=eval_descriptor)
    x = {m: torch.randn(9, 3, 32, 32) for m in ("acc", "gyro")}
    teachers.train()
    teachers(x)                                                     # one training batch fills the running statistics
    teachers.eval()
    perm = torch.randperm(9)
    with torch.no_grad():
        whole = teachers(x).logits
        shuffled = teachers({m: v[perm] for m, v in x.items()}).logits
        singles = torch.cat([teachers({m: v[i:i + 1] for m, v in x.items()}).logits for i in range(9)])
        sevens = torch.cat([teachers({m: v[i:i + 7] for m, v in x.items()}).logits for i in (0, 7)])[:9]
    for other in (shuffled[torch.argsort(perm)], singles, sevens):
        assert torch.allclose(whole, other, atol=1e-5)
    alone = teachers.nets["acc"].eval()(x["acc"]).logits
    assert not torch.allclose(teachers(x).extras["per_modality_logits"]["acc"], alone, atol=1e-4)   # still fused


def test_running_statistics_follow_the_batchnorm_update():
    torch.manual_seed(12)
    fusion = SPAMFM(4, 2, momentum=0.25)
    batches = [[torch.rand(5, 4, 3, 3), torch.rand(5, 4, 3, 3)] for _ in range(2)]
    means = []
    for maps in batches:
        grams = [F.normalize(a.flatten(1) @ a.flatten(1).t(), dim=1) for a in maps]
        means.append(torch.stack([(g @ a.mean(dim=(2, 3))).mean(dim=0) for g, a in zip(grams, maps)]))
        fusion(maps)
    assert torch.allclose(fusion.running_descriptor, 0.75 * means[0] + 0.25 * means[1], atol=1e-6)
    assert int(fusion.num_batches_tracked) == 2
    fusion.eval()
    d = fusion.descriptors(batches[0])
    assert torch.allclose(d["sum"], fusion.running_descriptor.sum(dim=0).expand(5, 4))
