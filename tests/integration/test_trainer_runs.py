"""Both modes end to end on a tiny synthetic store: run files, frozen teachers, switches, resume, evaluate."""
from __future__ import annotations

import json

import pytest
import torch
import yaml

from pipeline.config import load_dataset
from pipeline.store import open_store
from training.data.loaders import build_data
from training.engine.trainer import Context, fit
from training.recipes import build_stage
from training.run.config import resolve_options
from training.run.evaluate import evaluate_run
from training.run.train import run_training

UTD = "synthetic-utd-mhad"
TINY = dict(epochs=1, batch_size=4, lr=1e-3, optimizer="adam", crop_size=32, segments=2, backbone="resnet18",
            device="cpu", progress=False, baseline=False, overwrite=True, loader_workers=0)
TIMING = ("seconds", "samples_per_s", "data_wait")


def _train(store, runs, mode, name, **overrides):
    options = resolve_options(UTD, mode, name=name, runs_dir=runs, store=store, **{**TINY, **overrides})
    run_training(options)
    return options.run_dir


def _metrics(stage_dir):
    return [json.loads(line) for line in (stage_dir / "metrics.jsonl").read_text().splitlines()]


def _logged_terms(stage_dir) -> set[str]:
    return set(_metrics(stage_dir)[-1]["train"]) - {"loss", "accuracy"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("trainer-runs")


@pytest.fixture(scope="module")
def sakdn_run(trainer_utd_store, runs):
    return _train(trainer_utd_store, runs, "sensor2vision", "sakdn", stage="all", baseline=True)


@pytest.fixture(scope="module")
def vskd_run(trainer_utd_store, runs):
    return _train(trainer_utd_store, runs, "vision2sensor", "vskd", stage="all")


def test_sensor2vision_writes_every_run_file(sakdn_run):
    config = yaml.safe_load((sakdn_run / "config.yaml").read_text())
    assert config["options"]["mode"] == "sensor2vision" and config["options"]["teacher"]["epochs"] == 1
    for stage in ("teachers", "student"):
        for name in ("metrics.jsonl", "last.pt", "best.pt", "results.json", "curves.png", "confusion.png"):
            assert (sakdn_run / stage / name).is_file(), f"{stage}/{name}"
        assert len(_metrics(sakdn_run / stage)) == 1
    teachers = _metrics(sakdn_run / "teachers")[0]
    assert set(teachers["test"]["heads"]) == {"fused", "acc", "gyro"}
    assert {"accuracy", "macro_f1"} <= set(teachers["val"])
    assert _logged_terms(sakdn_run / "teachers") == {"ce", "ce_fused", "semantic"}
    assert _logged_terms(sakdn_run / "student") == {"ce", "st", "gsdm", "semantic"}
    table = (sakdn_run / "results.md").read_text()
    assert "SAKDN student" in table and "sensor teachers" in table and "classical: random forest" in table


def test_vision2sensor_writes_every_run_file(vskd_run):
    for stage in ("teachers", "student"):
        assert (vskd_run / stage / "best.pt").is_file() and (vskd_run / stage / "curves.png").is_file()
    assert _logged_terms(vskd_run / "teachers") == {"ce"}
    assert _logged_terms(vskd_run / "student") == {"ce", "st", "distance", "angle", "semantic"}
    assert set(_metrics(vskd_run / "student")[0]["test"]) >= {"accuracy", "macro_f1"}


def test_teachers_stay_frozen_during_a_student_epoch(trainer_utd_store, sakdn_run, tmp_path):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    options = resolve_options(UTD, "sensor2vision", store=trainer_utd_store, **TINY)
    stage = build_stage("student", store, spec, options, sakdn_run)
    teacher_before = {k: v.clone() for k, v in stage.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in stage.net.state_dict().items()}
    data = build_data(store, spec, options.data, stage.unit, stage.train_needs, stage.eval_needs, 4,
                      torch.device("cpu"))
    fit(stage, data, options.student, Context(torch.device("cpu"), progress=False), tmp_path, spec.num_classes)
    assert all(torch.equal(v, stage.teacher.state_dict()[k]) for k, v in teacher_before.items())
    assert not all(torch.equal(v, stage.net.state_dict()[k]) for k, v in student_before.items())
    assert not stage.teacher.training
    assert not any(p.requires_grad for p in stage.teacher.parameters())


@pytest.mark.parametrize("mode, ablate, kd, expected", [
    ("sensor2vision", ("gsdm", "semantic"), None, {"ce", "st"}),
    ("sensor2vision", (), "at", {"ce", "kd_at"}),
    ("vision2sensor", ("distance",), None, {"ce", "st", "angle", "semantic"}),
    ("vision2sensor", (), "rkd", {"ce", "kd_rkd"}),
])
def test_ablate_and_kd_switch_the_logged_terms(trainer_utd_store, runs, sakdn_run, vskd_run, mode, ablate, kd,
                                               expected):
    teachers = sakdn_run if mode == "sensor2vision" else vskd_run
    run = _train(trainer_utd_store, runs, mode, f"switch-{mode}-{kd}", stage="student", teachers=teachers,
                 ablate=ablate, kd=kd)
    assert _logged_terms(run / "student") == expected


def _without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


@pytest.mark.slow
def test_resume_and_reruns_repeat_exactly(trainer_utd_store, runs):
    common = dict(mode="vision2sensor", stage="student", kd="none")
    straight = _train(trainer_utd_store, runs, name="straight", epochs=3, **common)
    again = _train(trainer_utd_store, runs, name="again", epochs=3, **common)
    interrupted = _train(trainer_utd_store, runs, name="interrupted", epochs=1, **common)
    options = resolve_options(UTD, "vision2sensor", name="interrupted", runs_dir=runs, store=trainer_utd_store,
                              resume=True, progress=False)
    run_training(options, resume_epochs={"student": 3})
    other_seed = _train(trainer_utd_store, runs, name="other-seed", epochs=3, seed=1, **common)

    reference = _without_timing(_metrics(straight / "student"))
    assert len(reference) == 3
    assert _without_timing(_metrics(again / "student")) == reference
    assert _without_timing(_metrics(interrupted / "student")) == reference
    assert _without_timing(_metrics(other_seed / "student")) != reference
    final = torch.load(straight / "student" / "last.pt", weights_only=False)
    resumed = torch.load(interrupted / "student" / "last.pt", weights_only=False)
    assert resumed["epoch"] == 3
    assert all(torch.equal(v, resumed["model"][k]) for k, v in final["model"].items())


def test_evaluate_is_deterministic_and_matches_the_best_checkpoint(sakdn_run, tmp_path):
    import numpy as np

    first = evaluate_run(sakdn_run, save_predictions=tmp_path / "predictions.npz")
    second = evaluate_run(sakdn_run)
    result = json.loads((sakdn_run / "student" / "results.json").read_text())
    for a, b in zip(first, second):
        for head in a.scores:
            assert a.scores[head].to_dict() == b.scores[head].to_dict()
    student = next(e for e in first if e.stage == "student")
    assert student.scores["video"].accuracy == result["best"]["test"]["video"]["accuracy"]
    assert (student.scores["video"].confusion.tolist() == result["best"]["test"]["video"]["confusion"])
    assert (sakdn_run / "evaluation-trial-best.json").is_file()
    saved = np.load(tmp_path / "predictions.npz")
    logits, labels = saved["student/logits/video"], saved["student/labels"]
    assert logits.shape == (student.scores["video"].count, 27) and len(saved["student/take_keys"]) == len(labels)
    assert np.mean(logits.argmax(axis=1) == labels) == student.scores["video"].accuracy
    top5 = np.mean([label in np.argsort(-row)[:5] for row, label in zip(logits, labels)])
    assert student.scores["video"].top5 == top5 >= student.scores["video"].accuracy
    assert set(saved["teachers/logits/fused"].shape) == {len(saved["teachers/labels"]), 27}


def test_teachers_train_on_a_store_without_video(trainer_sensor_store, runs):
    run = _train(trainer_sensor_store, runs, "sensor2vision", "sensors-only", stage="teachers")
    result = json.loads((run / "teachers" / "results.json").read_text())
    assert set(result["final"]["test"]) == {"acc"}  # one sensor: its head alone
