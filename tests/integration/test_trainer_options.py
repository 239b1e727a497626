"""Run options: stage-specific overrides win, the published optimisers are the defaults, and a trained
checkpoint's predictions do not depend on how the evaluation rows are batched."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from trainer_helpers import train_sensor_baseline

from cli import cli
from pipeline.config import load_dataset
from training.data.loaders import build_data
from training.engine.trainer import make_context, predict
from training.recipes import RECIPES, build_stage
from training.run.config import resolve_options
from training.run.evaluate import evaluate_run
from training.run.train import open_checked_store, run_training

UTD = "synthetic-utd-mhad"


@pytest.mark.parametrize("order", ["specific-last", "specific-first"])
def test_stage_specific_option_wins_whatever_the_keyword_order(order):
    pairs = [("lr", 1e-3), ("teacher_lr", 3e-4)]
    overrides = dict(pairs if order == "specific-last" else pairs[::-1])
    options = resolve_options(UTD, "sensor2vision", **overrides)
    assert options.teacher.lr == 3e-4 and options.student.lr == 1e-3


@pytest.mark.parametrize("mode", ["sensor2vision", "vision2sensor"])
def test_defaults_are_the_published_optimisers(mode):
    options = resolve_options(UTD, mode)
    for side in ("teacher", "student"):
        stage = getattr(options, side)
        assert (stage.optimizer, stage.weight_decay) == RECIPES[mode].optimizers[side]
    assert (options.teacher.optimizer, options.student.optimizer) == (
        ("adam", "sgd") if mode == "sensor2vision" else ("sgd", "adam"))
    assert options.dropout == (0.8 if mode == "sensor2vision" else 0.5)
    spec = load_dataset(UTD)
    assert options.teacher.lr == spec.teacher.lr and options.student.batch_size == spec.student.batch


def test_cli_stage_flags_reach_their_stage(trainer_sensor_store, tmp_path):
    result = CliRunner().invoke(cli, [
        "train", "--mode", "vision2sensor", "--dataset", UTD, "--stage", "student", "--kd", "none",
        "--store", str(trainer_sensor_store), "--runs-dir", str(tmp_path), "--name", "flags", "--device", "cpu",
        "--quiet", "--no-baseline", "--epochs", "1", "--student-lr", "0.002", "--lr", "0.5",
        "--student-optimizer", "sgd", "--teacher-batch-size", "3", "--batch-size", "4", "--student-momentum", "0.5"])
    assert result.exit_code == 0, result.output
    import yaml

    saved = yaml.safe_load((tmp_path / "flags" / "config.yaml").read_text())["options"]
    assert saved["student"]["lr"] == 0.002 and saved["teacher"]["lr"] == 0.5
    assert saved["student"]["optimizer"] == "sgd" and saved["student"]["momentum"] == 0.5
    assert saved["teacher"]["batch_size"] == 3 and saved["student"]["batch_size"] == 4


def test_val_every_and_test_every_choose_the_scored_epochs(trainer_sensor_store, tmp_path):
    run = train_sensor_baseline(trainer_sensor_store, tmp_path, "every", "--epochs", "3", "--val-every", "2",
                                "--test-every", "0")
    lines = (run / "student" / "metrics.jsonl").read_text().splitlines()
    scored = [sorted({"val", "test"} & json.loads(line).keys()) for line in lines]
    assert scored == [[], ["val"], ["test", "val"]]


def test_the_raw_recipe_flags_reach_the_run(trainer_sensor_store, tmp_path):
    run = train_sensor_baseline(trainer_sensor_store, tmp_path, "onecycle", "--epochs", "4", "--lr", "0.01",
                                "--schedule", "onecycle", "--label-smoothing", "0.2", "--test-every", "0",
                                "--sensor-encoder", "raw", "--stream-rate", "20", "--stream-rotation", "15",
                                "--log-dynamics")
    rates = [json.loads(line)["lr"] for line in (run / "student" / "metrics.jsonl").read_text().splitlines()]
    assert rates[0] == pytest.approx(0.01 / 25) and 0.009 < rates[1] <= 0.01  # warm-up to about --lr ...
    assert rates[1] > rates[2] > rates[3] > 0  # ... then annealed, never to zero
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())["options"]
    assert (saved["student"]["schedule"], saved["student"]["label_smoothing"]) == ("onecycle", 0.2)
    assert (saved["data"]["stream_rate"], saved["data"]["stream_rotation"]) == (20, 15)
    assert torch.load(run / "student" / "last.pt", weights_only=True)["arch"]["log_dynamics"] is True


def test_stage_cross_entropy_is_label_smoothed_and_skips_withheld_labels():
    from training.engine.trainer import Stage

    logits, labels = torch.randn(6, 5), torch.tensor([0, 4, -1, 2, -1, 1])
    stage = Stage()
    stage.label_smoothing = 0.3
    labelled = labels >= 0
    expected = torch.nn.functional.cross_entropy(logits[labelled], labels[labelled], label_smoothing=0.3)
    assert torch.allclose(stage.cross_entropy(logits, labels), expected)


@pytest.fixture(scope="module")
def fused_teachers_run(trainer_utd_store, tmp_path_factory):
    """Two epochs of SPAMFM-fused acc + gyro teachers at batch 4."""
    options = resolve_options(UTD, "sensor2vision", stage="teachers", name="fused", store=trainer_utd_store,
                              runs_dir=tmp_path_factory.mktemp("fused-runs"), epochs=2, batch_size=4,
                              device="cpu", progress=False, baseline=False)
    run_training(options)
    return options


def test_predictions_do_not_depend_on_the_evaluation_batch(fused_teachers_run):
    options = fused_teachers_run
    spec, store = load_dataset(UTD), open_checked_store(options.store_path)
    stage = build_stage("teachers", store, spec, options, None)
    saved = torch.load(options.run_dir / "teachers" / "last.pt", map_location="cpu", weights_only=False)
    stage.load_trainable_state(saved["model"])
    assert int(stage.net.fusion["block1"].num_batches_tracked) > 0
    ctx = make_context("cpu", amp=False, channels_last=False, progress=False)
    data_options = dataclasses.replace(options.data, gaf_size=stage.gaf_size)
    predictions = []
    for batch_size, shuffle in ((1, False), (7, True), (1000, False), (1000, True)):
        data = build_data(store, spec, data_options, stage.unit, stage.eval_needs, stage.eval_needs, batch_size,
                          ctx.device, splits=("test",))
        if shuffle:
            data.test.rows = np.random.default_rng(batch_size).permutation(data.test.rows)
        predictions.append(predict(stage, data.test, ctx))
    for other in predictions[1:]:
        np.testing.assert_array_equal(other.rows, predictions[0].rows)
        for head in stage.heads:
            np.testing.assert_array_equal(other.preds[head], predictions[0].preds[head])
    scored = [evaluate_run(options.run_dir, checkpoint="last", batch_size=b)[0].scores["fused"].accuracy for b in (1, 5)]
    trained = json.loads((options.run_dir / "teachers" / "results.json").read_text())["final"]["test"]["fused"]
    assert scored[0] == scored[1] == trained["accuracy"]        # train and evaluate report the same figure


def test_every_loss_term_logs_its_value_and_gradient_norm(fused_teachers_run):
    records = [json.loads(line) for line in (fused_teachers_run.run_dir / "teachers" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        terms = set(record["train"]) - {"loss", "accuracy"}
        assert terms == {"ce", "ce_fused", "semantic"} == set(record["grad_norm"]) == set(record["grad_ratio"])
        assert all(value > 0 for value in record["grad_norm"].values())
        assert record["grad_ratio"]["ce"] == pytest.approx(1.0)


def test_term_gradient_norms_match_autograd():
    from training.engine.trainer import term_gradient_norms

    torch.manual_seed(0)
    layer, frozen = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2).requires_grad_(False)
    x = torch.randn(4, 3)
    terms = {"a": layer(x).pow(2).mean(), "b": 3 * layer(x).sum(), "teacher": frozen(x).sum()}
    norms = term_gradient_norms(terms, list(layer.parameters()))
    for name in ("a", "b"):
        grads = torch.autograd.grad(terms[name], list(layer.parameters()), retain_graph=True)
        assert norms[name] == pytest.approx(float(torch.cat([g.flatten() for g in grads]).norm()), rel=1e-5)
    assert norms["teacher"] == 0.0
    sum(v for k, v in terms.items() if k != "teacher").backward()       # the graph survived the probe


def test_a_dataset_preset_applies_under_explicit_flags():
    preset = load_dataset("berkeley-mhad").presets["cpu"]
    options = resolve_options("berkeley-mhad", "vision2sensor", preset="cpu")
    assert (options.student.optimizer, options.student.lr, options.teacher.epochs) == (
        preset["optimizer"], preset["lr"], preset["epochs"])
    assert options.data.val_fraction == preset["val_fraction"] == 0.0
    assert resolve_options("berkeley-mhad", "vision2sensor", preset="cpu", lr=1e-3, epochs=None).student.lr == 1e-3
    assert resolve_options("synthetic-berkeley-mhad", "vision2sensor", preset="cpu").student.lr == preset["lr"]
    result = CliRunner().invoke(cli, ["train", "--mode", "vision2sensor", "--dataset", UTD, "--preset", "cpu"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: --preset 'cpu' is not declared for {UTD} in datasets.yaml (declared: none)"]
