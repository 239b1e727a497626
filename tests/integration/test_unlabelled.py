"""Distillation on paired takes without labels (train --distill-unlabelled) and the one student base."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from pipeline.config import load_dataset
from pipeline.store import open_store
from training.data.loaders import UNLABELLED, build_data, select
from training.distill.losses import labelled_cross_entropy
from training.engine.trainer import Context, fit, seed_everything
from training.models.archs import Raw1DArch
from training.recipes import build_stage, stage_data_options
from training.recipes.classifiers import SensorClassifier
from training.recipes.common import stream_seconds
from training.recipes.sakdn import SakdnStudent
from training.recipes.sensor2sensor import SensorStudent
from training.recipes.student import DistilledStudent
from training.recipes.vskd import VskdStudent
from training.run.config import resolve_options
from training.run.study import StudyPlan, run_study
from training.run.train import run_training

from trainer_helpers import SensorFromSensor


UTD = "synthetic-utd-mhad"
TINY = dict(epochs=1, batch_size=4, lr=1e-3, optimizer="adam", crop_size=32, segments=2, backbone="resnet18",
            sensor_encoder="raw", device="cpu", progress=False, baseline=False, overwrite=True, loader_workers=0,
            val_fraction=0.0)
TIMING = ("seconds", "samples_per_s", "data_wait")
STUDENTS = {"sensor2vision": SakdnStudent, "vision2sensor": VskdStudent, "sensor2sensor": SensorStudent}


@pytest.fixture(scope="module")
def teacher_runs(trainer_utd_store, tmp_path_factory):
    """Mode -> a run directory holding its teachers (one epoch each): raw-signal sensor teachers, a TRN."""
    runs = tmp_path_factory.mktemp("unlabelled-teachers")
    made = {}
    for mode, name in (("sensor2sensor", "sensors"), ("vision2sensor", "video")):
        options = resolve_options(UTD, mode, stage="teachers", name=name, runs_dir=runs, store=trainer_utd_store,
                                  **TINY)
        run_training(options)
        made[mode] = options.run_dir
    made["sensor2vision"] = made["sensor2sensor"]
    return made


def _student(store_path, teachers, mode, **overrides):
    """(stage, data, options) of a distilled student at half the labels, built under the run's seed."""
    options = resolve_options(UTD, mode, stage="student", store=store_path, teachers=teachers,
                              student_train_fraction=0.5, **{**TINY, **overrides})
    store, spec = open_store(store_path), load_dataset(UTD)
    seed_everything(options.seed)
    stage = build_stage("student", store, spec, options, teachers)
    data = build_data(store, spec, stage_data_options(stage, options.data), stage.unit, stage.train_needs, stage.eval_needs,
                      4, torch.device("cpu"), train_fraction=0.5, paired=options.distill_unlabelled)
    return stage, data, options


def test_the_unlabelled_rows_are_the_training_takes_outside_the_labelled_share(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    needs = build_stage("student", store, spec, resolve_options(UTD, "vision2sensor", kd="none",
                                                                store=trainer_utd_store, **TINY), None).train_needs
    everything = select(store, spec, spec.default_protocol, "takes", needs, needs, val_fraction=0.34, seed=1)
    half = select(store, spec, spec.default_protocol, "takes", needs, needs, val_fraction=0.34, seed=1,
                  train_fraction=0.5)
    assert len(everything.unlabelled) == 0 and len(half.unlabelled) > 0
    assert np.array_equal(np.sort(np.concatenate([half.train, half.unlabelled])), np.sort(everything.train))
    assert not set(half.train) & set(half.unlabelled)
    held = set(half.val) | set(half.test)
    assert not held & set(half.unlabelled)
    assert half.val_subjects and not set(store.takes["subject"][half.unlabelled]) & set(half.val_subjects)
    assert half.summary()["rows"]["unlabelled"] == len(half.unlabelled)


def test_a_batch_without_labels_gives_zero_cross_entropy_not_nan():
    logits = torch.randn(6, 3, requires_grad=True)
    labels = torch.tensor([0, 2, UNLABELLED, 1, UNLABELLED, UNLABELLED])
    mixed = labelled_cross_entropy(logits, labels)
    keep = labels >= 0
    assert torch.allclose(mixed, torch.nn.functional.cross_entropy(logits[keep], labels[keep]))
    none = labelled_cross_entropy(logits, torch.full((6,), UNLABELLED))
    none.backward()
    assert none.item() == 0.0 and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("mode", ["vision2sensor", "sensor2vision"])
def test_paired_batches_add_unlabelled_rows_to_the_baseline_batches(trainer_utd_store, teacher_runs, mode):
    _, plain, _ = _student(trainer_utd_store, teacher_runs[mode], mode)
    stage, paired, _ = _student(trainer_utd_store, teacher_runs[mode], mode, distill_unlabelled=True)
    pool = set(paired.selection.train) | set(paired.selection.unlabelled)
    assert len(paired.train) == len(plain.train) > 0                     # the same optimiser steps per epoch
    batches = list(paired.train.epoch(0))
    assert len(batches) == len(plain.train)
    for alone, joined in zip(plain.train.epoch(0), batches):
        b = len(alone)
        assert len(joined) == 2 * b and joined.labelled[:b].all() and not joined.labelled[b:].any()
        rows = joined.clip if stage.unit == "clips" else joined.take
        assert set(rows[b:]) <= pool
        assert torch.equal(joined.label[:b], alone.label) and np.array_equal(joined.take[:b], alone.take)
        for modality, x in alone.sensors.items():
            assert torch.equal(joined.sensors[modality][:b], x)
        if alone.video is not None:
            assert torch.equal(joined.video[:b], alone.video)
    drawn = np.concatenate([(b.clip if stage.unit == "clips" else b.take)[len(b) // 2:] for b in batches])
    assert set(drawn) & set(paired.selection.unlabelled)                 # the pool reaches the withheld takes


def _fit_metrics(stage, data, options, out):
    seed_everything(options.seed)
    fit(stage, data, options.student, Context(torch.device("cpu"), progress=False), out, 3)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_permuting_the_withheld_labels_changes_nothing(trainer_utd_store, teacher_runs, tmp_path):
    teachers = teacher_runs["sensor2sensor"]
    runs = []
    for permuted in (False, True):
        stage, data, options = _student(trainer_utd_store, teachers, "sensor2sensor", distill_unlabelled=True,
                                        epochs=2)
        if permuted:
            withheld = torch.as_tensor(data.selection.unlabelled)
            labels = data.train.labels
            labels[withheld] = (labels[withheld] + 1) % 3                  # every withheld label changed
        runs.append(_fit_metrics(stage, data, options, tmp_path / f"permuted-{permuted}"))
    assert runs[0] == runs[1]
    assert {"st", "distance", "angle", "semantic"} <= set(runs[0][0]["train"])


def test_labels_of_the_labelled_takes_do_reach_the_loss(trainer_utd_store, teacher_runs, tmp_path):
    """The counter-check of the test above: the same change on the LABELLED takes moves the metrics."""
    teachers = teacher_runs["sensor2sensor"]
    runs = []
    for permuted in (False, True):
        stage, data, options = _student(trainer_utd_store, teachers, "sensor2sensor", distill_unlabelled=True)
        if permuted:
            labelled = torch.as_tensor(data.selection.train)
            data.train.labels[labelled] = (data.train.labels[labelled] + 1) % 3
        runs.append(_fit_metrics(stage, data, options, tmp_path / f"labelled-{permuted}"))
    assert runs[0][0]["train"]["ce"] != runs[1][0]["train"]["ce"]


@pytest.mark.parametrize("mode", list(STUDENTS))
def test_every_mode_trains_with_the_flag_on_one_student_base(trainer_utd_store, teacher_runs, mode, tmp_path):
    stage, data, _ = _student(trainer_utd_store, teacher_runs[mode], mode, distill_unlabelled=True)
    assert isinstance(stage, STUDENTS[mode]) and isinstance(stage, DistilledStudent) and stage.distils
    batch = next(iter(data.train.epoch(0)))
    batch.label = torch.full_like(batch.label, UNLABELLED)                # no labelled row at all
    stage.train()
    out = stage(batch)
    assert out.terms["ce"].item() == 0.0 and torch.isfinite(out.loss)
    grads = torch.autograd.grad(out.loss, [p for p in stage.net.parameters()], allow_unused=True)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0  # the terms teach without labels
    options = resolve_options(UTD, mode, stage="student", store=trainer_utd_store, teachers=teacher_runs[mode],
                              student_train_fraction=0.5, distill_unlabelled=True, name="flag", runs_dir=tmp_path,
                              **TINY)
    result = run_training(options)["student"]
    assert result.selection["rows"]["unlabelled"] > 0
    record = json.loads((options.run_dir / "student" / "metrics.jsonl").read_text().splitlines()[0])
    assert set(record["train"]) - {"loss", "accuracy", "ce"} == set(stage.weights)


def test_the_flag_without_a_teacher_is_one_line(trainer_utd_store, tmp_path):
    result = CliRunner().invoke(cli, ["train", "--mode", "sensor2sensor", "--dataset", UTD, "--stage", "student",
                                      "--kd", "none", "--distill-unlabelled", "--store", str(trainer_utd_store),
                                      "--runs-dir", str(tmp_path)])
    assert result.exit_code != 0 and "--distill-unlabelled needs a teacher" in result.output


def test_a_study_adds_the_unlabelled_student_beside_todays(trainer_utd_store, tmp_path):
    overrides = {k: v for k, v in TINY.items() if k not in ("overwrite", "baseline")}
    plan = StudyPlan(dataset=UTD, name="u", seeds=(0,), fractions=(0.5,), methods=("sensor2sensor",),
                     unlabelled=True, student_modalities=("gyro",), runs_dir=tmp_path,
                     overrides={**overrides, "store": trainer_utd_store, "ablate": ("spamfm",)})
    result = run_study(plan, markdown=tmp_path / "page.md", command="python cli.py study ...")
    keys = {row["key"] for row in result["rows"]}
    rows = {row["key"]: row for row in result["rows"]}
    assert len(rows["s2s.gyro.student+unlabelled@0.5"]["train_accuracy"]) == 1    # networks print train accuracy
    assert rows["classical.gyro@0.5"]["train_accuracy"] == []
    page = (tmp_path / "page.md").read_text()
    assert "| `s2s.gyro.student+unlabelled@0.5` |" in page and "python cli.py study ..." in page
    assert {"s2s.gyro.baseline@0.5", "s2s.gyro.student@0.5", "s2s.gyro.student+unlabelled@0.5"} <= keys
    gains = {g["student"]: g["baseline"] for g in result["gains"]}
    assert gains["s2s.gyro.student+unlabelled@0.5"] == "s2s.gyro.baseline@0.5"
    config = (tmp_path / "u" / "s2s-student-gyro+unlabelled-f0.5-s0" / "config.yaml").read_text()
    assert "distill_unlabelled: true" in config


def test_a_new_student_written_on_the_base_distils_on_unlabelled_rows(trainer_utd_store, tmp_path):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    options = resolve_options(UTD, "sensor2sensor", stage="student", store=trainer_utd_store, alpha=1.0,
                              student_train_fraction=0.5, distill_unlabelled=True, **TINY)
    seconds = stream_seconds(store)
    arch = Raw1DArch(num_classes=spec.num_classes, embed_dim=8, modality="gyro", stream_seconds=seconds)
    teacher = Raw1DArch(num_classes=spec.num_classes, embed_dim=8, modality="acc", stream_seconds=seconds).build()
    seed_everything(0)
    stage = SensorFromSensor(SensorClassifier(arch.build(), "gyro", arch), teacher, "acc", options)
    data = build_data(store, spec, stage_data_options(stage, options.data), stage.unit, stage.train_needs,
                      stage.eval_needs, 4, torch.device("cpu"), train_fraction=0.5, paired=True)
    before = {k: v.clone() for k, v in stage.teacher.state_dict().items()}
    records = _fit_metrics(stage, data, options, tmp_path)
    assert set(records[0]["train"]) == {"loss", "accuracy", "ce", "st"} and records[0]["train"]["st"] > 0
    assert all(torch.equal(v, stage.teacher.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("mode", list(STUDENTS))
def test_the_baseline_reads_what_its_student_reads(trainer_utd_store, teacher_runs, mode):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    baseline_options = resolve_options(UTD, mode, stage="student", kd="none", store=trainer_utd_store, **TINY)
    baseline = build_stage("student", store, spec, baseline_options, None)
    student, _, _ = _student(trainer_utd_store, teacher_runs[mode], mode)
    assert baseline.eval_needs == student.eval_needs and baseline.unit == student.unit
    if mode == "sensor2vision":                                             # the same frames, crops and segments
        assert (baseline.video_arch.crop_size, baseline.video_arch.segments) == \
               (student.video_arch.crop_size, student.video_arch.segments)
    else:                                                                   # the same time grid
        assert baseline.stream_seconds == student.stream_seconds
