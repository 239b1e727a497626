"""cli.py train / baseline / evaluate: bad input fails at start with one clear line; the baseline beats chance."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from pipeline.config import load_dataset
from pipeline.store import open_store
from training.run.baseline import run_baseline, signal_features
from training.run.config import resolve_options
from training.run.train import run_training

UTD = "synthetic-utd-mhad"
TINY = ["--epochs", "1", "--batch-size", "4", "--crop-size", "32", "--segments", "2", "--backbone", "resnet18",
        "--device", "cpu", "--quiet", "--no-baseline", "--overwrite"]


def _error_line(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture(scope="module")
def teachers_50d(trainer_utd_store, tmp_path_factory):
    """A one-epoch sensor-teachers run on the 50-d GloVe store."""
    runs = tmp_path_factory.mktemp("cli-runs")
    options = resolve_options(UTD, "sensor2vision", stage="teachers", name="t50", runs_dir=runs,
                              store=trainer_utd_store, epochs=1, batch_size=4, device="cpu", progress=False,
                              modalities=("acc",))
    run_training(options)
    return options.run_dir


def test_store_of_another_dataset_is_one_line(trainer_utd_store, tmp_path):
    line = _error_line(["train", "--mode", "vision2sensor", "--dataset", "synthetic-berkeley-mhad",
                        "--store", str(trainer_utd_store), "--runs-dir", str(tmp_path), *TINY])
    assert "synthetic-utd-mhad" in line and "synthetic-berkeley-mhad" in line


def test_missing_store_is_one_line(tmp_path):
    line = _error_line(["train", "--mode", "sensor2vision", "--dataset", UTD, "--store", str(tmp_path / "nothing.zarr"),
                        "--runs-dir", str(tmp_path), *TINY])
    assert "nothing.zarr" in line


def test_absent_modality_and_absent_video_are_one_line(trainer_sensor_store, tmp_path):
    line = _error_line(["train", "--mode", "vision2sensor", "--dataset", UTD, "--stage", "student", "--kd", "none",
                        "--student-modality", "gyro", "--store", str(trainer_sensor_store),
                        "--runs-dir", str(tmp_path), "--name", "gyro", *TINY])
    assert "gyro" in line and "absent" in line
    line = _error_line(["train", "--mode", "vision2sensor", "--dataset", UTD, "--stage", "teachers",
                        "--store", str(trainer_sensor_store), "--runs-dir", str(tmp_path), "--name", "video", *TINY])
    assert "no video" in line


def test_teachers_of_another_embedding_dimension_are_one_line(trainer_sensor_store, teachers_50d, tmp_path):
    line = _error_line(["train", "--mode", "sensor2vision", "--dataset", UTD, "--stage", "student",
                        "--teachers", str(teachers_50d), "--store", str(trainer_sensor_store),
                        "--runs-dir", str(tmp_path), *TINY])
    assert "embedding dimension is 50" in line and "8" in line


def test_unknown_protocol_and_ablation_are_one_line(trainer_utd_store, tmp_path):
    line = _error_line(["train", "--mode", "sensor2vision", "--dataset", UTD, "--protocol", "cross-view",
                        "--store", str(trainer_utd_store), "--runs-dir", str(tmp_path), *TINY])
    assert "cross-view" in line
    line = _error_line(["train", "--mode", "vision2sensor", "--dataset", UTD, "--ablate", "gsdm",
                        "--store", str(trainer_utd_store), "--runs-dir", str(tmp_path), *TINY])
    assert "gsdm" in line


def test_baseline_beats_chance_on_synthetic_data(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    results = run_baseline(store, spec, "trial", seed=0)
    assert {(r.model, r.input) for r in results} == {(m, i) for m in ("random forest", "logistic regression")
                                                     for i in ("acc", "gyro", "fused")}
    chance = 1 / len(np.unique(store.takes["label"]))
    fused_forest = next(r for r in results if r.model == "random forest" and r.input == "fused")
    assert fused_forest.scores.accuracy > chance + 0.3
    assert fused_forest.scores.count == int(np.isin(store.takes["trial"], [3, 4]).sum())
    output = CliRunner().invoke(cli, ["baseline", "--dataset", UTD, "--store", str(trainer_utd_store)]).output
    assert "classical: random forest" in output and "fused" in output
    assert "best-val" not in output  # no classical model is chosen on validation


def test_a_one_sensor_run_shows_its_sensor_once_and_only_its_classical_rows(teachers_50d):
    table = (teachers_50d / "results.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| sensor teachers")]
    assert len(rows) == 1 and "| acc |" in rows[0]  # no "fused" twin of the one sensor's row
    classical = [line for line in table.splitlines() if line.startswith("| classical")]
    assert classical and all("| acc |" in line for line in classical)


def test_signal_features_are_per_axis_statistics():
    x = np.zeros((1, 4, 3))
    x[0, :, 0] = [1.0, 2.0, 3.0, 4.0]
    features = signal_features(x)
    assert features.shape == (1, 3 * 11 + 7)
    mean, std, low, high = features[0, 0], features[0, 3], features[0, 6], features[0, 9]
    assert (mean, low, high) == (2.5, 1.0, 4.0) and np.isclose(std, np.std([1, 2, 3, 4]))
    energy, mean_abs_diff = features[0, 27], features[0, 30]
    assert np.isclose(energy, 7.5) and np.isclose(mean_abs_diff, 1.0)


class _RunsCode:
    """Unpickling this calls Path.touch(marker): what a crafted checkpoint could do with weights_only=False."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.mark.parametrize("damage", ["truncated", "empty", "crafted"])
def test_a_damaged_or_crafted_checkpoint_is_one_line_and_runs_nothing(teachers_50d, tmp_path, damage):
    import shutil

    import torch

    run = tmp_path / "copy"
    shutil.copytree(teachers_50d, run)
    marker = tmp_path / "code-ran"
    for name in ("best.pt", "last.pt"):
        path = run / "teachers" / name
        if not path.exists():
            continue
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif damage == "empty":
            path.write_bytes(b"")
        else:
            torch.save({"arch": {"kind": "sensor_teachers"}, "model": _RunsCode(marker)}, path)
    line = _error_line(["evaluate", "--run", str(run)])
    assert "not a readable checkpoint" in line and str(run / "teachers") in line
    assert ("would call" in line) == (damage == "crafted")
    result = CliRunner().invoke(cli, ["train", "--mode", "sensor2vision", "--dataset", UTD, "--stage", "teachers",
                                      "--resume", "--name", "copy", "--runs-dir", str(tmp_path), "--epochs", "2",
                                      "--quiet"])
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
    last = result.output.strip().splitlines()[-1]  # after the stage's description line
    assert last.startswith(f"Error: {run / 'teachers' / 'last.pt'}: not a readable checkpoint")  # the copy's
    assert not marker.exists()
