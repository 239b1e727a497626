"""Stores at fsspec URLs: train, evaluate, inspect and baseline read memory:// and file:// stores, prepare
writes them, and an absent or unreadable URL is one line naming it. memory:// lives in one process, so its
tests call the product in-process (functions, or the CLI through CliRunner); file:// runs the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from trainer_helpers import train_sensor_baseline

from cli import cli
from pipeline.prepare import PrepareError, PrepareOptions, prepare
from pipeline.store import StoreLock, open_store
from training.run.evaluate import evaluate_run

UTD = "synthetic-utd-mhad"
REPO = Path(__file__).resolve().parents[2]


def _memory_url(name: str) -> str:
    """A fresh memory:// folder: the memory filesystem is one per process, shared by every test in it."""
    return f"memory://fsspec-tests/{name}-{uuid.uuid4().hex[:8]}"


def _sensor_prepare_options(local_store: Path, cache, **extra) -> PrepareOptions:
    """The options trainer_helpers.utd_sensor_store prepared `local_store` with, writing to `cache`."""
    base = local_store.parent.parent
    return PrepareOptions(dataset=UTD, root=base / "raw", cache=cache, gaf_size=32, modalities=("acc",),
                          glove=base / "glove-8d.txt", progress=False, **extra)


def _error_line(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`python cli.py ARGS` in a fresh process, from the repository root."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "cli.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def memory_store(trainer_sensor_store) -> str:
    """The tiny sensor store copied file by file into memory://, as a store written elsewhere arrives."""
    url = f"{_memory_url('copied')}/{UTD}.zarr"
    fs, path = fsspec.core.url_to_fs(url)
    fs.put(str(trainer_sensor_store), path, recursive=True)
    return url


def test_a_memory_store_trains_and_evaluates(memory_store, trainer_sensor_store, tmp_path):
    run = train_sensor_baseline(memory_store, tmp_path, "memory", "--epochs", "1", "--batch-size", "4")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["options"]["data"]["store"] == memory_store and saved["store"]["path"] == memory_store
    result = CliRunner().invoke(cli, ["evaluate", "--run", str(run)])      # reads the URL back from config.yaml
    assert result.exit_code == 0, result.output
    [evaluation] = evaluate_run(run)
    scores = next(iter(evaluation.scores.values()))
    selection = json.loads((run / "student" / "results.json").read_text())["selection"]
    assert evaluation.stage == "student" and scores.count == selection["rows"]["test"] > 0


def test_inspect_and_baseline_read_a_memory_store(memory_store, trainer_sensor_store):
    result = CliRunner().invoke(cli, ["inspect", "--dataset", UTD, "--store", memory_store, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    local = open_store(trainer_sensor_store)
    assert summary["store"] == memory_store and summary["takes"]["ok"] == local.num_takes
    assert summary["stored_bytes"] == local.stored_bytes()                 # fsspec's du = the local files' sizes
    cache = memory_store.rsplit("/", 1)[0]
    by_cache = CliRunner().invoke(cli, ["inspect", "--dataset", UTD, "--cache", cache])
    assert by_cache.exit_code == 0 and by_cache.output.startswith(memory_store), by_cache.output
    table = CliRunner().invoke(cli, ["baseline", "--dataset", UTD, "--store", memory_store])
    local_table = CliRunner().invoke(cli, ["baseline", "--dataset", UTD, "--store", str(trainer_sensor_store)])
    assert table.exit_code == 0 and "random forest" in table.output, table.output
    assert table.output == local_table.output


def test_prepare_into_memory_then_train_in_the_same_process(trainer_sensor_store, tmp_path):
    cache = _memory_url("prepared")
    report = prepare(_sensor_prepare_options(trainer_sensor_store, cache))
    assert report.store_path == f"{cache}/{UTD}.zarr" and report.blocks_run > 0
    store, local = open_store(report.store_path), open_store(trainer_sensor_store)
    assert store.attrs["config_digest"] == local.attrs["config_digest"]
    assert np.array_equal(store.gaf("acc"), local.gaf("acc"))
    again = prepare(_sensor_prepare_options(trainer_sensor_store, cache))  # resumes: every block done
    assert again.blocks_run == 0 and again.blocks_skipped == report.blocks_run
    run = train_sensor_baseline(report.store_path, tmp_path, "prepared", "--epochs", "1", "--batch-size", "4")
    assert (run / "student" / "results.json").exists()


def test_memory_cache_refuses_schedulers_in_other_processes(trainer_sensor_store):
    with pytest.raises(PrepareError, match="memory://.*one process.*processes"):
        prepare(_sensor_prepare_options(trainer_sensor_store, _memory_url("refused"), scheduler="processes"))


def test_file_urls_through_the_cli(trainer_sensor_store, tmp_path):
    base = trainer_sensor_store.parent.parent
    url = f"file://{tmp_path}/cache/{UTD}.zarr"
    made = _cli("prepare", "--dataset", UTD, "--root", str(base / "raw"), "--cache", f"file://{tmp_path}/cache",
                "--gaf-size", "32", "--modalities", "acc", "--glove", str(base / "glove-8d.txt"), "--quiet")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"{url}: 36 takes") and (tmp_path / "cache" / f"{UTD}.zarr" / "zarr.json").exists()
    trained = _cli("train", "--mode", "vision2sensor", "--dataset", UTD, "--stage", "student", "--kd", "none",
                   "--store", url, "--runs-dir", str(tmp_path / "runs"), "--name", "file", "--device", "cpu",
                   "--epochs", "1", "--batch-size", "4", "--quiet", "--no-baseline")
    assert trained.returncode == 0, trained.stderr
    inspected = _cli("inspect", "--dataset", UTD, "--store", url)
    assert inspected.returncode == 0 and inspected.stdout.startswith(url), inspected.stderr
    table = CliRunner().invoke(cli, ["baseline", "--dataset", UTD, "--store", url])
    assert table.exit_code == 0 and "random forest" in table.output, table.output


def test_a_file_url_store_is_locked_like_its_path(trainer_sensor_store, tmp_path):
    with StoreLock(tmp_path / f"{UTD}.zarr"), pytest.raises(PrepareError, match="being written by pid"):
        prepare(_sensor_prepare_options(trainer_sensor_store, f"file://{tmp_path}"))


@pytest.mark.parametrize("url", ["memory://nowhere/x.zarr", "file:///nonexistent/x.zarr", "nosuch://bucket/x.zarr"])
def test_an_absent_or_unreadable_url_is_one_line_naming_it(url, tmp_path):
    train = ["train", "--mode", "vision2sensor", "--dataset", UTD, "--stage", "student", "--kd", "none",
             "--store", url, "--runs-dir", str(tmp_path), "--device", "cpu", "--quiet"]
    for args in (train, ["inspect", "--dataset", UTD, "--store", url], ["baseline", "--dataset", UTD, "--store", url]):
        line = _error_line(args)
        assert url in line, line
    if not url.startswith("nosuch"):
        assert "no store here" in line


def test_s3_without_s3fs_names_the_extra():
    try:
        import s3fs  # noqa: F401
    except ModuleNotFoundError:
        line = _error_line(["inspect", "--dataset", UTD, "--store", "s3://bucket/x.zarr"])
        assert "s3://bucket/x.zarr" in line and "crossmodal-kd[s3]" in line
    else:
        pytest.skip("s3fs is installed: an s3:// store would be looked up on the network")
