"""The demo's pieces that are not a training run: its headline keys and its small video backbone."""
from __future__ import annotations

import pytest
import torch

from training.models.trn import TRN
from training.run.demo import add_headline, headline_keys
from training.run.study import format_study, study_markdown


def _row(key, accuracy):
    return {"key": key, "model": key, "input": "x", "accuracy": accuracy, "macro_f1": accuracy,
            "train_accuracy": [1.0] * len(accuracy)}


def test_the_headline_rows_keep_their_plain_keys_and_gains():
    at = "@0.25"
    rows = [_row("sakdn.teachers_fused", [0.9, 0.95, 0.92]), _row(f"sakdn.video_baseline{at}", [0.5, 0.6, 0.55]),
            _row(f"sakdn.student{at}", [0.5, 0.6, 0.5]), _row(f"sakdn.student+unlabelled{at}", [0.6, 0.65, 0.6]),
            _row("vskd.video_teacher", [0.7, 0.7, 0.7]), _row(f"vskd.sensor_baseline{at}", [0.5, 0.5, 0.5]),
            _row(f"vskd.student+unlabelled{at}", [0.55, 0.56, 0.52]), _row(f"classical.fused{at}", [1.0, 1.0, 1.0])]
    result = add_headline({"seeds": [0, 1, 2], "seconds": 60.0, "rows": rows, "gains": []}, 0.25)
    by_key = {row["key"]: row for row in result["rows"]}
    for alias, key in headline_keys(0.25).items():
        assert by_key[alias]["accuracy"] == by_key[key]["accuracy"]
    assert by_key["sakdn.student"]["alias_of"] == "sakdn.student+unlabelled@0.25"
    gains = {g["student"]: g for g in result["headline"]}
    assert gains["sakdn.student"]["difference"] == pytest.approx([0.1, 0.05, 0.05])
    assert gains["vskd.student"]["baseline"] == "vskd.sensor_baseline" and gains["vskd.student"]["mean"] > 0
    table, page = format_study(result), study_markdown(result, "demo")
    assert "sakdn.student+unlabelled@0.25" in table and "\nsakdn.student " not in table    # aliases not repeated
    assert "| `sakdn.student` |" not in page


def test_the_small_video_backbone_feeds_a_trn_with_five_gsdm_taps():
    net = TRN(4, 3, backbone="smallcnn", embed_dim=8, dropout=0.0)
    out = net(torch.randn(2, 3, 3, 56, 56))
    assert out.logits.shape == (2, 4) and out.embedding.shape == (2, 8)
    sides = [out.taps[name].shape[-1] for name in net.gsdm_taps]
    assert len(sides) == 5 and sides == sorted(sides, reverse=True) and sides[0] == 56


@pytest.mark.parametrize("mode", ["sensor2vision", "vision2sensor"])
def test_every_demo_setting_is_a_train_option_of_both_methods(mode, tmp_path):
    from training.run.config import resolve_options
    from training.run.demo import DATASET, DemoOptions

    demo = DemoOptions(variants={"t4": {"temperature": 4.0}})
    options = resolve_options(DATASET, mode, **{**demo.overrides(tmp_path / "store.zarr"), **demo.fraction_overrides(),
                                                **demo.variants["t4"]})
    assert options.student.epochs == demo.fraction_epochs and options.val_every == demo.val_every
    assert (options.weights["st"], options.temperature) == (demo.soft_target, 4.0)
