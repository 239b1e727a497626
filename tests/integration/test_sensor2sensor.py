"""sensor2sensor: fused sensor teachers distilled into a network on one sensor, on the same takes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from pipeline.config import load_dataset
from training.data.loaders import TAKES, build_data
from training.recipes import build_stage
from training.run.config import resolve_options
from training.run.train import open_checked_store, run_training

UTD = "synthetic-utd-mhad"


@pytest.fixture(scope="module")
def s2s_run(trainer_utd_store, tmp_path_factory):
    """One epoch of acc + gyro teachers, then one epoch of the gyro student with DASK."""
    options = resolve_options(UTD, "sensor2sensor", stage="all", name="s2s", store=trainer_utd_store,
                              runs_dir=tmp_path_factory.mktemp("s2s"), epochs=1, batch_size=4, device="cpu",
                              progress=False, baseline=False, student_modality="gyro")
    run_training(options)
    return options


def _student(options):
    spec, store = load_dataset(UTD), open_checked_store(options.store_path)
    stage = build_stage("student", store, spec, options, options.run_dir)
    data = build_data(store, spec, options.data, stage.unit, stage.train_needs, stage.eval_needs, 4,
                      torch.device("cpu"), splits=("train", "test"))
    return stage, data, store


def test_batches_pair_the_student_sensor_with_the_teachers_sensors_of_the_same_take(s2s_run):
    stage, data, store = _student(s2s_run)
    assert stage.unit == TAKES and set(stage.train_needs.modalities) == {"gyro", "acc"}
    assert stage.eval_needs.modalities == ("gyro",)                 # evaluation needs the student's sensor only
    batch = next(iter(data.train.epoch(0)))
    for modality in ("acc", "gyro"):
        expected = torch.from_numpy(store.gaf(modality, batch.take).astype(np.float32))
        assert torch.allclose(batch.sensors[modality], expected, atol=1e-3)


def test_teachers_stay_frozen_and_every_term_reaches_the_student_only(s2s_run):
    stage, data, _ = _student(s2s_run)
    saved = torch.load(s2s_run.run_dir / "teachers" / "best.pt", map_location="cpu", weights_only=False)["model"]
    stage.train()
    assert not stage.teacher.training and all(not p.requires_grad for p in stage.teacher.parameters())
    out = stage(next(iter(data.train.epoch(0))))
    assert set(out.terms) == {"ce", "st", "distance", "angle", "semantic"}
    student = [p for p in stage.net.parameters()]
    for name, term in out.terms.items():
        grads = torch.autograd.grad(term, student, retain_graph=True, allow_unused=True)
        assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0, name
    teacher_state = {k[len("net."):]: v for k, v in saved.items() if k.startswith("net.")}
    for key, value in stage.teacher.state_dict().items():
        assert torch.equal(value, teacher_state[key]), key


def test_cli_runs_the_baseline_and_an_ablation(s2s_run, trainer_utd_store, tmp_path):
    common = ["train", "--mode", "sensor2sensor", "--dataset", UTD, "--stage", "student", "--store",
              str(trainer_utd_store), "--runs-dir", str(tmp_path), "--student-modality", "gyro", "--epochs", "1",
              "--batch-size", "4", "--device", "cpu", "--quiet", "--no-baseline"]
    base = CliRunner().invoke(cli, [*common, "--name", "base", "--kd", "none"])
    assert base.exit_code == 0, base.output
    ablated = CliRunner().invoke(cli, [*common, "--name", "no-st", "--teachers", str(s2s_run.run_dir),
                                       "--ablate", "st,angle"])
    assert ablated.exit_code == 0, ablated.output
    record = json.loads((tmp_path / "no-st" / "student" / "metrics.jsonl").read_text().splitlines()[0])
    assert set(record["train"]) - {"loss", "accuracy"} == {"ce", "distance", "semantic"}
    results = json.loads((s2s_run.run_dir / "student" / "results.json").read_text())
    assert set(results["final"]["test"]) == {"gyro"}


@pytest.mark.parametrize("mode", ["sensor2sensor", "vision2sensor"])
def test_a_distilled_student_without_teachers_is_one_line(trainer_utd_store, tmp_path, mode):
    result = CliRunner().invoke(cli, ["train", "--mode", mode, "--dataset", UTD, "--stage", "student",
                                      "--store", str(trainer_utd_store), "--runs-dir", str(tmp_path), "--device", "cpu",
                                      "--quiet", "--no-baseline", "--epochs", "1"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: the student stage needs --teachers RUN_DIR (or --stage all, or --kd none)"]
