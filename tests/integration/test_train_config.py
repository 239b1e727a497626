"""`train --config FILE`: a run's saved config.yaml trains the same run again; flags override it."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from cli import cli

UTD = "synthetic-utd-mhad"


def _train(args: list[str]) -> str:
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 0, result.output
    return result.output


TIMINGS = {"seconds", "samples_per_s", "data_wait"}


def _metrics(run_dir) -> list[dict]:
    """Each epoch's metrics.jsonl record without its timings."""
    lines = (run_dir / "student" / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


@pytest.fixture(scope="module")
def first_run(trainer_sensor_store, tmp_path_factory):
    """A two-epoch sensor baseline (ResNet18 on acc GAF) with non-default options."""
    runs = tmp_path_factory.mktemp("config-runs")
    _train(["--mode", "vision2sensor", "--dataset", UTD, "--stage", "student", "--kd", "none",
            "--store", str(trainer_sensor_store), "--runs-dir", str(runs), "--name", "first", "--epochs", "2",
            "--batch-size", "4", "--lr", "3e-3", "--optimizer", "adam", "--seed", "5", "--device", "cpu",
            "--quiet", "--no-baseline"])
    return runs / "first"


def _saved(run_dir) -> dict:
    return yaml.safe_load((run_dir / "config.yaml").read_text())["options"]


def test_a_saved_config_trains_the_same_run_again(first_run):
    _train(["--config", str(first_run / "config.yaml"), "--name", "again"])
    again = first_run.parent / "again"
    assert _metrics(again) == _metrics(first_run)
    differing = {k for k, v in _saved(again).items() if _saved(first_run)[k] != v}
    assert differing == {"name"}


def test_flags_override_the_saved_config(first_run):
    _train(["--config", str(first_run / "config.yaml"), "--name", "changed", "--student-lr", "1e-3",
            "--epochs", "1"])
    changed, original = _saved(first_run.parent / "changed"), _saved(first_run)
    assert changed["student"]["lr"] == 1e-3 and changed["student"]["epochs"] == 1
    assert changed["teacher"]["epochs"] == 1 and changed["teacher"]["lr"] == original["teacher"]["lr"]
    assert (changed["seed"], changed["student"]["optimizer"]) == (5, "adam")
    assert changed["data"] == original["data"]


def test_a_config_of_another_mode_or_no_config_is_one_line(first_run, tmp_path):
    result = CliRunner().invoke(cli, ["train", "--config", str(first_run / "config.yaml"), "--mode", "sensor2vision"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: --config trained vision2sensor on synthetic-utd-mhad; it cannot start a sensor2vision run on "
        "synthetic-utd-mhad"]
    broken = tmp_path / "config.yaml"
    broken.write_text("options: [1, 2]\n")
    result = CliRunner().invoke(cli, ["train", "--config", str(broken)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert str(broken) in result.output and "not a run's config.yaml" in result.output
    result = CliRunner().invoke(cli, ["train", "--dataset", UTD])
    assert result.exit_code == 2 and "--mode and --dataset are required" in result.output


def test_a_config_written_before_the_data_fields_were_renamed_reads_the_same(first_run):
    from training.options import RENAMED_DATA_FIELDS, RunOptions

    saved = _saved(first_run)
    old = {**saved, "data": {next((o for o, n in RENAMED_DATA_FIELDS.items() if n == key), key): value
                             for key, value in saved["data"].items()}}
    assert set(old["data"]) != set(saved["data"])
    assert RunOptions.from_dict(old) == RunOptions.from_dict(saved)
