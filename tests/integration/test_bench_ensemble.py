"""bench/real_sensors.py --ensemble on a tiny synthetic Berkeley-MHAD tree: the `<network>:ensN` row
is the seeds' runs as one classifier (mean softmax of their last checkpoints on the test takes)."""
from __future__ import annotations


import numpy as np
import pytest
from scipy.special import softmax

from pipeline.prepare import PrepareOptions, prepare
from pipeline.synthetic import write_dataset
from training.run.evaluate import evaluate_run

RAW = {"stage": "student", "kd": "none", "sensor_encoder": "raw", "epochs": 2}
SENSOR = "acc_h01"


@pytest.fixture(scope="module")
def real_sensors(bench_script):
    return bench_script("real_sensors")


@pytest.fixture(scope="module")
def two_seeds(real_sensors, tmp_path_factory):
    """A Berkeley tree of 7 subjects prepared with one accelerometer; the raw encoder trained 2 epochs
    on protocol dev with seeds 0 and 1, as the bench names its runs."""
    base = tmp_path_factory.mktemp("bench-ensemble")
    write_dataset("berkeley-mhad", base / "raw", subjects=7, takes=1, classes=None, seed=0, frame_size=(16, 16))
    store = prepare(PrepareOptions(dataset="berkeley-mhad", root=base / "raw", cache=base / "cache", gaf_size=32,
                                   scaling="range", modalities=(SENSOR,), progress=False)).store_path
    rows = [real_sensors.train_row("raw_encoder", SENSOR, "vision2sensor", RAW, store, base / "runs", "dev",
                                   (SENSOR,), seed, threads=1) for seed in (0, 1)]
    return base / "runs", rows


def test_an_ensemble_of_one_run_is_that_run(real_sensors, two_seeds):
    runs, rows = two_seeds
    alone = real_sensors.ensemble_row("raw_encoder", SENSOR, "student", runs, "dev", range(0, 1), "cpu")
    assert alone["network"] == "raw_encoder:ens1" and alone["seed"] == 0
    assert alone["accuracy"] == pytest.approx(rows[0]["accuracy"])


def test_the_ensemble_scores_the_mean_softmax_of_its_runs(real_sensors, two_seeds, tmp_path):
    runs, _ = two_seeds
    row = real_sensors.ensemble_row("raw_encoder", SENSOR, "student", runs, "dev", range(0, 2), "cpu")
    probabilities, labels = [], None
    for seed in (0, 1):
        saved = tmp_path / f"{seed}.npz"
        evaluate_run(runs / real_sensors.run_name("raw_encoder", SENSOR, "dev", seed), protocol="dev",
                     checkpoint="last", save_predictions=saved)
        with np.load(saved) as arrays:
            probabilities.append(softmax(arrays[f"student/logits/{SENSOR}"], axis=1))
            labels = arrays["student/labels"]
    expected = float((np.mean(probabilities, axis=0).argmax(1) == labels).mean())
    assert row["network"] == "raw_encoder:ens2" and row["accuracy"] == pytest.approx(expected)
