"""bench/real_sensors.py's rows on a tiny synthetic Berkeley-MHAD tree: the `<network>:ensN` row is the
seeds' runs as one classifier (mean softmax of their last checkpoints on the test takes); a fused run
also records its own per-sensor heads."""
from __future__ import annotations


import numpy as np
import pytest
from scipy.special import softmax

from pipeline.prepare import PrepareOptions, prepare
from pipeline.synthetic import write_dataset
from training.run.evaluate import evaluate_run

RAW = {"stage": "student", "kd": "none", "sensor_encoder": "raw", "epochs": 2}
SENSOR = "acc_h01"
SENSORS = (SENSOR, "acc_h02")


@pytest.fixture(scope="module")
def real_sensors(bench_script):
    return bench_script("real_sensors")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A Berkeley tree of 7 subjects prepared with two accelerometers."""
    base = tmp_path_factory.mktemp("bench-rows")
    write_dataset("berkeley-mhad", base / "raw", subjects=7, takes=1, classes=None, seed=0, frame_size=(16, 16))
    return prepare(PrepareOptions(dataset="berkeley-mhad", root=base / "raw", cache=base / "cache", gaf_size=32,
                                  scaling="range", modalities=SENSORS, progress=False)).store_path


@pytest.fixture(scope="module")
def two_seeds(real_sensors, store, tmp_path_factory):
    """The raw encoder trained 2 epochs on protocol dev with seeds 0 and 1, as the bench names its runs."""
    runs = tmp_path_factory.mktemp("bench-ensemble")
    rows = [real_sensors.train_row("raw_encoder", SENSOR, "vision2sensor", RAW, store, runs, "dev", (SENSOR,), seed,
                                   threads=1)[0] for seed in (0, 1)]
    return runs, rows


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


def test_a_fused_run_records_its_own_heads_after_its_fused_figure(real_sensors, store, tmp_path):
    options = {"stage": "teachers", "sensor_encoder": "raw", "epochs": 1}
    rows = real_sensors.train_row("raw_teachers_spamfm", "fused", "sensor2vision", options, store, tmp_path, "dev",
                                  SENSORS, 0, threads=1)
    assert [(r["network"], r["sensor"]) for r in rows] == [
        ("raw_teachers_spamfm", "fused"), *[("raw_teachers_spamfm/heads", s) for s in SENSORS]]
    saved = tmp_path / "predictions.npz"
    evaluate_run(tmp_path / real_sensors.run_name("raw_teachers_spamfm", "fused", "dev", 0), protocol="dev",
                 checkpoint="last", save_predictions=saved)
    with np.load(saved) as arrays:
        for row in rows:
            correct = arrays[f"teachers/logits/{row['sensor']}"].argmax(1) == arrays["teachers/labels"]
            assert row["accuracy"] == pytest.approx(float(correct.mean()))
