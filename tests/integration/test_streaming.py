"""Streaming residency: batches read from the store by worker processes equal the in-memory ones;
auto residency streams above the budget; DDP shares and chunk-aware order."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.config import load_dataset
from pipeline.store import open_store
from pipeline.units import parse_size
from training.data.loaders import CLIPS, TAKES, Needs, build_data
from training.data.residency import Resident, StoreReader, choose_residency
from training.data.sampler import epoch_order, rank_share
from training.options import DataOptions, OptionsError
from training.run.config import resolve_options
from training.run.train import run_training

UTD = "synthetic-utd-mhad"
ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")


def _batches(store_path, unit, needs, epoch, **data):
    store, spec = open_store(store_path), load_dataset(UTD)
    options = DataOptions(crop_size=32, segments=2, shuffle="chunks", **data)
    built = build_data(store, spec, options, unit, needs, needs, batch_size=3, device=CPU)
    return built, list(built.train.epoch(epoch)) + list(built.test.epoch(epoch))


@pytest.mark.parametrize("unit, needs, data", [
    (CLIPS, Needs(video=True, modalities=("acc", "gyro")), {}),
    (TAKES, Needs(video=True, modalities=("acc",)), {}),
    (TAKES, Needs(modalities=("acc", "gyro")), {"stream_seconds": 4.0}),
])
def test_streamed_batches_equal_the_in_memory_ones(trainer_utd_store, unit, needs, data):
    memory, expected = _batches(trainer_utd_store, unit, needs, 1, residency="ram", **data)
    streamed, got = _batches(trainer_utd_store, unit, needs, 1, residency="stream", loader_workers=2, **data)
    assert isinstance(memory.source, Resident) and isinstance(streamed.source, StoreReader)
    assert streamed.residency.where == "stream" and streamed.residency.nbytes == memory.residency.nbytes > 0
    assert len(got) == len(expected) > 2
    for a, b in zip(expected, got):
        assert np.array_equal(a.take, b.take) and np.array_equal(a.clip, b.clip) and torch.equal(a.label, b.label)
        assert (a.video is None) == (b.video is None) and (a.video is None or torch.equal(a.video, b.video))
        assert all(torch.equal(a.sensors[m], b.sensors[m]) for m in needs.modalities)


def test_reader_processes_persist_across_epochs_and_loaders_and_give_the_same_batches(trainer_utd_store):
    """One stage's streamed loaders (train, test) and epochs share the same reader processes, started
    at the first batch and stopped by close(); every batch equals the in-memory one."""
    needs = Needs(video=True, modalities=("acc",))
    memory, _ = _batches(trainer_utd_store, CLIPS, needs, 0, residency="ram")
    streamed, _ = _batches(trainer_utd_store, CLIPS, needs, 0, residency="stream", loader_workers=2)
    readers = streamed.source.readers()
    pids = sorted(readers._processes)
    assert len(pids) == 2
    for epoch in (1, 2):
        for loader, reference in ((streamed.train, memory.train), (streamed.test, memory.test)):
            for a, b in zip(reference.epoch(epoch), loader.epoch(epoch), strict=True):
                assert np.array_equal(a.clip, b.clip) and torch.equal(a.video, b.video)
                assert torch.equal(a.sensors["acc"], b.sensors["acc"])
        assert streamed.source.readers() is readers and sorted(readers._processes) == pids
    streamed.close()
    assert streamed.source._pool is None


def _train(store, runs, name, **overrides):
    settings = dict(stage="student", kd="none", epochs=2, batch_size=4, lr=1e-3, optimizer="adam", backbone="resnet18",
                    device="cpu", progress=False, baseline=False, overwrite=True, shuffle="chunks")
    options = resolve_options(UTD, "vision2sensor", name=name, runs_dir=runs, store=store, **{**settings, **overrides})
    run_training(options)
    return options


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def _metrics(run_dir) -> list[dict]:
    """Each epoch's logged figures, flat, without the timings."""
    lines = (run_dir / "student" / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in _flat(json.loads(line)).items() if k not in ("seconds", "samples_per_s", "data_wait")}
            for line in lines]


def test_a_streamed_run_trains_as_the_in_memory_run_and_resumes(trainer_utd_store, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="training")
    memory = _train(trainer_utd_store, tmp_path, "memory", residency="ram", loader_workers=0)
    streamed = _train(trainer_utd_store, tmp_path, "streamed", max_memory="1KB", loader_workers=1)
    assert "residency stream (above the budget of 1.0 KiB, --max-memory)" in caplog.text
    reference = _metrics(memory.run_dir)
    assert len(reference) == 2
    assert all(got == pytest.approx(want) for got, want in zip(_metrics(streamed.run_dir), reference, strict=True))
    interrupted = _train(trainer_utd_store, tmp_path, "interrupted", residency="stream", loader_workers=1, epochs=1)
    resumed = resolve_options(UTD, "vision2sensor", name="interrupted", runs_dir=tmp_path, store=trainer_utd_store,
                              resume=True, progress=False)
    run_training(resumed, resume_epochs={"student": 2})
    assert all(got == pytest.approx(want) for got, want in zip(_metrics(interrupted.run_dir), reference, strict=True))


def test_auto_residency_picks_memory_under_the_budget_and_streams_above():
    assert choose_residency("auto", 10 * 2**20, CPU, parse_size("2GB")).where == "ram"
    above = choose_residency("auto", 3 * 2**30, CPU, parse_size("2GB"))
    assert above.where == "stream" and "above the budget of 2.0 GiB" in above.describe()
    assert choose_residency("auto", 2**20, CPU, None).where == "ram"
    assert choose_residency("device", 2**40, CPU, None).where == "ram"  # a CPU run has one memory
    assert choose_residency("stream", 1, CPU, None).where == "stream"


def test_sizes_parse_and_a_bad_size_is_one_line():
    assert parse_size("2GB") == parse_size("2g") == 2 * 2**30
    assert parse_size("512MiB") == 512 * 2**20 and parse_size("4096") == 4096 and parse_size("1.5k") == 1536
    with pytest.raises(OptionsError, match="--max-memory: cannot read 'lots'"):
        resolve_options(UTD, "vision2sensor", max_memory="lots")


def test_rank_shares_partition_training_rows_and_score_each_test_row_once():
    rows = np.arange(100, 111)
    shares = [rank_share(rows, r, 3, seed=5, train=True) for r in range(3)]
    assert {len(s) for s in shares} == {4}  # 11 rows over 3 ranks: padded by wrapping to 4 each
    assert set(np.concatenate(shares)) == set(rows)
    assert [len(set(s)) for s in shares] == [4, 4, 3]
    assert all(np.array_equal(s, rank_share(rows, r, 3, seed=5, train=True)) for r, s in enumerate(shares))
    tests = [rank_share(rows, r, 3, seed=5, train=False) for r in range(3)]
    assert sorted(np.concatenate(tests).tolist()) == rows.tolist()


def test_chunk_aware_order_keeps_a_batch_within_a_window_of_chunks():
    rows = np.arange(320)
    chunk = rows // 32
    order = epoch_order(rows, chunk, np.random.default_rng(0), "chunks", window=2)
    assert sorted(order.tolist()) == rows.tolist()
    windows = order.reshape(5, 64)  # 10 chunks, 2 per window: each window is 64 consecutive positions
    assert all(len(np.unique(w // 32)) == 2 for w in windows)
    assert not np.array_equal(order, epoch_order(rows, chunk, np.random.default_rng(1), "chunks", window=2))
    assert not all(np.all(np.diff(w) > 0) for w in windows)  # rows are shuffled inside a window
    plain = epoch_order(rows, chunk, np.random.default_rng(0), "rows")
    assert sorted(plain.tolist()) == rows.tolist() and len(np.unique(plain[:16] // 32)) > 2


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_the_cpu_path(tmp_path):
    """bench/gpu.py end to end at its small sizes: both steps timed and counted, both data paths measured."""
    out = tmp_path / "gpu.json"
    command = [sys.executable, str(ROOT / "bench" / "gpu.py"), "--device", "cpu", "--steps", "1", "--warmup", "0",
               "--variants", "fp32", "--keep", str(tmp_path / "work"), "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert set(result["steps"]) == {"sakdn_student", "vgg16bn_teachers"}
    student = result["steps"]["sakdn_student"]
    assert student["flops"] > 0 and result["steps"]["vgg16bn_teachers"]["flops"] > 0
    assert student["variants"]["fp32"]["step_s"] > 0 and student["variants"]["fp32"]["mfu"] is None
    assert set(result["data_wait"]) == {"ram", "stream"}
    assert all(0 <= f["data_wait"] < 1 for f in result["data_wait"].values())
