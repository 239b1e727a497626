"""Library output goes through `logging` (rank 0 only, bare lines on stdout under the CLI), --tensorboard
writes metrics.jsonl's figures as TensorBoard scalars, and no library module switches matplotlib's backend."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from pipeline.config import load_dataset
from training.engine.logs import LIBRARY_LOGGERS, configure_logging
from training.run.report import RESULTS_MD, write_run_report

UTD = "synthetic-utd-mhad"
ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Collect(logging.Handler):
    """Keeps every record it is handed."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def restore_loggers():
    """Put the library loggers' handlers and levels back as they were before the test."""
    saved = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level) for name in LIBRARY_LOGGERS}
    yield
    for name, (handlers, level) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)


def _train_args(store: Path, runs: Path, *extra: str) -> list[str]:
    """The cheapest real run: raw-signal sensor teachers on the accelerometer, batch 4, on the CPU."""
    return ["train", "--mode", "sensor2vision", "--dataset", UTD, "--stage", "teachers", "--sensor-encoder", "raw",
            "--store", str(store), "--runs-dir", str(runs), "--name", "tb", "--batch-size", "4", "--device", "cpu",
            "--quiet", "--no-baseline", *extra]


@pytest.fixture(scope="module")
def tb_run(trainer_sensor_store, tmp_path_factory):
    """A two-epoch CLI run with --tensorboard: (run directory, its CLI output, the library's log records)."""
    runs = tmp_path_factory.mktemp("tb-runs")
    collect = _Collect()
    logging.getLogger("training").addHandler(collect)
    try:
        result = CliRunner().invoke(cli, _train_args(trainer_sensor_store, runs, "--epochs", "2", "--tensorboard"))
    finally:
        logging.getLogger("training").removeHandler(collect)
    assert result.exit_code == 0, result.output
    return runs / "tb", result.output, collect.records


def _numeric_leaves(record: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_numeric_leaves(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def _tensorboard_scalars(log_dir: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} as TensorBoard itself reads the event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def _metrics_by_tag(stage_dir: Path) -> dict[str, dict[int, float]]:
    """The same view of metrics.jsonl: every numeric figure but the epoch, keyed by '/'-joined path."""
    by_tag: dict[str, dict[int, float]] = {}
    for line in (stage_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for tag, value in _numeric_leaves(record).items():
            if tag != "epoch":
                by_tag.setdefault(tag, {})[record["epoch"]] = value
    return by_tag


def test_tensorboard_scalars_are_the_figures_of_metrics_jsonl(tb_run, trainer_sensor_store):
    run_dir, _, _ = tb_run
    stage_dir = run_dir / "teachers"
    assert list((stage_dir / "tb").glob("events.out.tfevents.*"))
    want, got = _metrics_by_tag(stage_dir), _tensorboard_scalars(stage_dir / "tb")
    assert {"lr", "train/loss", "train/accuracy", "val/accuracy", "test/accuracy", "test/macro_f1"} <= set(want)
    assert set(got) == set(want)
    for tag, per_epoch in want.items():
        assert sorted(got[tag]) == [1, 2]
        assert got[tag] == pytest.approx(per_epoch, rel=1e-6, abs=1e-12), tag


def test_a_resumed_run_continues_the_scalars_once_per_epoch(tb_run, trainer_sensor_store, tmp_path):
    """The copied run resumes to three epochs without repeating --tensorboard: the saved option holds."""
    run_dir, _, _ = tb_run
    copy = tmp_path / "runs"
    shutil.copytree(run_dir, copy / "tb")
    result = CliRunner().invoke(cli, _train_args(trainer_sensor_store, copy, "--epochs", "3", "--resume"))
    assert result.exit_code == 0, result.output
    stage_dir = copy / "tb" / "teachers"
    want, got = _metrics_by_tag(stage_dir), _tensorboard_scalars(stage_dir / "tb")
    assert sorted(want["train/loss"]) == [1, 2, 3] and set(got) == set(want)
    for tag, per_epoch in want.items():
        assert got[tag] == pytest.approx(per_epoch, rel=1e-6, abs=1e-12), tag


def test_the_cli_shows_the_library_log_lines_as_it_printed_them(tb_run):
    run_dir, output, records = tb_run
    table = (run_dir / RESULTS_MD).read_text().split("\n\n", 1)[1]  # results.md: "# <name>", blank line, table
    described = [r.getMessage() for r in records if r.name == "training.run.train"]
    assert len(described) == 1 and described[0].startswith("[teachers] sensor teachers (raw-signal ResNet-1D): ")
    assert "residency ram" in described[0]
    assert [r.getMessage() for r in records if r.name == "training.run.report"] == [table]
    assert output == f"{described[0]}\n{table}\n"


def test_the_results_table_is_a_log_record(tb_run, trainer_sensor_store, caplog):
    from training.run.train import open_checked_store

    run_dir, _, _ = tb_run
    caplog.set_level(logging.INFO, logger="training")
    table = write_run_report(run_dir, {"teachers": "teachers"}, load_dataset(UTD), open_checked_store(trainer_sensor_store),
                             "trial", baseline=False)
    assert "| model | input | test acc |" in table
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [("training.run.report", logging.INFO, table)]


def test_configure_logging_keeps_other_ranks_to_warnings(capsys, restore_loggers):
    log = logging.getLogger("training.some_module")
    configure_logging(rank=1)
    log.info("info of rank 1")
    log.warning("warning of rank 1")
    configure_logging(rank=0)
    log.info("info of rank 0")
    logging.getLogger("pipeline.other").info("pipeline info of rank 0")
    assert capsys.readouterr().out == "warning of rank 1\ninfo of rank 0\npipeline info of rank 0\n"


def test_configure_logging_installs_one_handler_however_often_called(restore_loggers):
    before = {name: len(logging.getLogger(name).handlers) for name in LIBRARY_LOGGERS}
    configure_logging()
    once = {name: len(logging.getLogger(name).handlers) for name in LIBRARY_LOGGERS}
    configure_logging()
    configure_logging(rank=2)
    assert {name: len(logging.getLogger(name).handlers) for name in LIBRARY_LOGGERS} == once
    assert all(once[name] <= before[name] + 1 for name in LIBRARY_LOGGERS)


def test_tensorboard_absent_is_one_line(tmp_path):
    """A `tensorboard` package that fails to import, as a missing one does, stops the run before it starts."""
    hidden = tmp_path / "hide" / "tensorboard"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("No module named \'tensorboard\'")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "hide"), str(ROOT)])}
    done = subprocess.run([sys.executable, "cli.py", *_train_args(tmp_path / "no.zarr", tmp_path, "--tensorboard")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "Error: --tensorboard needs the tensorboard package: pip install 'crossmodal-kd[tensorboard]'"]


BACKEND_PROBE = """
import json, sys
from pathlib import Path
import matplotlib
matplotlib.use("pdf")
before = matplotlib.get_backend()
import pipeline.inspect, training.run.report
from pipeline.config import load_dataset
from pipeline.store import open_store
stage_dir, store, out = Path(sys.argv[1]), open_store(sys.argv[2]), Path(sys.argv[3])
imported = matplotlib.get_backend()
training.run.report.write_stage_report(stage_dir, load_dataset("synthetic-utd-mhad").classes, "probe")
pipeline.inspect.render_take(store, 0, out / "take.png")
print(json.dumps({"before": before, "imported": imported, "drawn": matplotlib.get_backend(),
                  "pyplot": "matplotlib.pyplot" in sys.modules}))
"""


def test_no_library_module_switches_the_matplotlib_backend(tb_run, trainer_sensor_store, tmp_path):
    """A program that chose a backend (here pdf) keeps it through the imports and the drawing of the
    reports' PNGs, and pyplot is never imported."""
    run_dir, _, _ = tb_run
    stage_dir = shutil.copytree(run_dir / "teachers", tmp_path / "teachers")
    for png in ("curves.png", "confusion.png"):
        (stage_dir / png).unlink()
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", BACKEND_PROBE, str(stage_dir), str(trainer_sensor_store), str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe == {"before": "pdf", "imported": "pdf", "drawn": "pdf", "pyplot": False}
    for png in (stage_dir / "curves.png", stage_dir / "confusion.png", tmp_path / "take.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000
