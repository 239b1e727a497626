"""The REAL Berkeley-MHAD accelerometers of subjects 1-7 (../shared/real-data, skipped when absent):
the tree prepares whole, and a short run of each sensor network learns above chance on the dev protocol."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import load_dataset
from pipeline.prepare import PrepareOptions, prepare
from training.run.baseline import run_baseline
from training.run.config import resolve_options
from training.run.train import open_checked_store, run_training

DEV = Path(__file__).resolve().parents[3] / "shared" / "real-data" / "berkeley-mhad-dev"
DATASET = "berkeley-mhad"
CHANCE = 1 / len(load_dataset(DATASET).classes)
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not DEV.is_dir(), reason=f"real Berkeley-MHAD dev files absent ({DEV})")]


@pytest.fixture(scope="module")
def dev_store(tmp_path_factory):
    return prepare(PrepareOptions(dataset=DATASET, root=DEV, cache=tmp_path_factory.mktemp("real") / "cache",
                                  gaf_size=32, scaling="range", progress=False)).store_path


def test_the_dev_tree_prepares_383_takes_per_sensor(dev_store):
    store = open_checked_store(dev_store)
    assert store.num_takes == 383 and set(np.unique(store.takes["subject"])) == set(range(1, 8))
    for modality in load_dataset(DATASET).modalities:
        assert int(store.sensor_info(modality)["present"].sum()) == 383, modality


def _accuracy(store, tmp_path, name, mode, head, **overrides) -> float:
    options = resolve_options(DATASET, mode, preset="cpu", store=store, runs_dir=tmp_path, name=name, protocol="dev",
                              device="cpu", progress=False, baseline=False, **overrides)
    run_training(options)
    stage = overrides["stage"]
    return json.loads((options.run_dir / stage / "results.json").read_text())["final"]["test"][head]["accuracy"]


@pytest.mark.parametrize("name, mode, head, overrides", [
    ("raw_encoder", "vision2sensor", "acc_h01", dict(stage="student", kd="none", sensor_encoder="raw", epochs=6)),
    ("resnet18_gaf", "vision2sensor", "acc_h01", dict(stage="student", kd="none", epochs=4)),
    ("vgg16bn_teacher", "sensor2vision", "acc_h01", dict(stage="teachers", modalities=("acc_h01",),
                                                         ablate=("spamfm",), epochs=3)),
    ("teachers_fused", "sensor2vision", "fused", dict(stage="teachers", modalities=("acc_h01", "acc_h02"), epochs=3)),
])
def test_a_short_run_of_each_network_learns_above_chance(dev_store, tmp_path, name, mode, head, overrides):
    assert _accuracy(dev_store, tmp_path, name, mode, head, student_modality="acc_h01", **overrides) > 2 * CHANCE


def test_the_random_forest_learns_above_chance(dev_store):
    results = run_baseline(open_checked_store(dev_store), load_dataset(DATASET), "dev", models=("random forest",),
                           modalities=("acc_h01", "acc_h02"))
    assert [r.input for r in results] == ["acc_h01", "acc_h02", "fused"]
    assert all(r.scores.accuracy > 2 * CHANCE for r in results)
