"""The frozen-teacher cache: a SAKDN student step answered from it gives the losses of the live teacher,
runs no teacher forward on the takes it holds, and answers other takes live."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from pipeline.config import load_dataset
from pipeline.store import open_store
from training.data.loaders import build_data
from training.recipes import sakdn
from training.recipes.common import video_network
from training.run.config import resolve_options

UTD = "synthetic-utd-mhad"


@pytest.fixture(scope="module")
def student_and_data(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    options = resolve_options(UTD, "sensor2vision", store=trainer_utd_store, backbone="resnet18", gaf_size=32,
                              crop_size=32, segments=2, batch_size=4, device="cpu", train_fraction=0.5)
    torch.manual_seed(0)
    teachers = sakdn.teachers_stage(store, spec, options)
    net, arch = video_network(store, spec, options)
    student = sakdn.SakdnStudent(net, arch, teachers.net, teachers.arch, torch.from_numpy(store.class_embedding),
                                 options)
    data = build_data(store, spec, options.data, student.unit, student.train_needs, student.eval_needs, 4,
                      torch.device("cpu"), seed=0, paired=True, train_fraction=0.5)
    return student, data, store


def _step_terms(student, batch) -> tuple[dict[str, float], int]:
    """The step's terms (dropout seeded alike) and how many teacher forwards it ran."""
    calls = []
    hook = student.teacher.register_forward_hook(lambda *_: calls.append(1))
    torch.manual_seed(1)
    try:
        terms = student(batch).terms
    finally:
        hook.remove()
    return {name: float(value.detach()) for name, value in terms.items()}, len(calls)


def test_cached_teacher_outputs_give_the_live_losses_without_a_teacher_forward(student_and_data):
    student, data, store = student_and_data
    student.train()
    batches = list(data.train.epoch(0))[:2]  # labelled rows joined by paired rows without labels
    live = [_step_terms(student, batch) for batch in batches]
    assert all(calls == 2 for _, calls in live)  # the teacher and its ablated (all-zero) pass
    cache = student.cache_teacher(data.train, store.attrs["config_digest"], contextlib.nullcontext)
    try:
        trained_takes = np.unique(store.clips["take"][np.concatenate([data.train.rows, data.train.paired])])
        assert len(cache) == len(trained_takes) and cache.covers(trained_takes)
        for (want, _), batch in zip(live, batches):
            got, calls = _step_terms(student, batch)
            assert calls == 0
            assert set(got) == {"ce", "st", "gsdm", "semantic"}
            assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
        cache.rows[batches[0].take[0]] = -1  # a take the cache does not hold: the batch is answered live
        got, calls = _step_terms(student, batches[0])
        assert calls == 1 and got == pytest.approx(live[0][0], rel=1e-5, abs=1e-7)  # the ablated pass stays cached
    finally:
        student.teacher_cache = None


def test_a_training_run_logs_the_cache_and_matches_the_run_without_it(trainer_utd_store, tmp_path, caplog):
    import json
    import logging

    from training.run.train import run_training

    caplog.set_level(logging.INFO, logger="training")
    figures = {}
    for cached in (True, False):
        options = resolve_options(UTD, "sensor2vision", store=trainer_utd_store, runs_dir=tmp_path, name=str(cached),
                                  backbone="resnet18", gaf_size=32, crop_size=32, segments=2, batch_size=4, epochs=1,
                                  device="cpu", progress=False, baseline=False, teacher_cache=cached, seed=0)
        run_training(options)
        lines = (options.run_dir / "student" / "metrics.jsonl").read_text().splitlines()
        figures[cached] = json.loads(lines[-1])["train"]
    assert "teacher cache: 12 takes" in caplog.text and caplog.text.count("teacher cache:") == 1
    for term in ("loss", "ce", "st", "gsdm", "semantic"):
        assert figures[True][term] == pytest.approx(figures[False][term], rel=1e-4), term


def test_a_profiled_student_step_is_split_into_the_bench_scopes(student_and_data, bench_script):
    """bench/train.py splits a step by the named scopes of training.recipes (student, teacher, each term,
    GSDM's ablated passes) and training.engine (backward, optimiser): each must be recorded."""
    from training.engine.trainer import Context

    bench = bench_script("train")
    student, data, _ = student_and_data
    options = resolve_options(UTD, "sensor2vision", backbone="resnet18", optimizer="adam", lr=1e-4, device="cpu")
    split = bench.step_split(student, data, options.student, Context(device=torch.device("cpu"), progress=False))
    assert set(split) == {*bench.SCOPES, "data wait"}
    assert all(split[scope] > 0 for scope in bench.SCOPES), split
    assert split["teacher_forward"] > split["term.st"]  # a live teacher: its forward, not a gather
