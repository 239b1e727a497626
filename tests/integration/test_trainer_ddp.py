"""DistributedDataParallel on the CPU: two gloo processes share the epoch, each loads only its rows,
and they end with the same weights."""
from __future__ import annotations

import json
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from trainer_helpers import ddp_worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_shard_the_data_and_agree(trainer_utd_store, tmp_path):
    mp.spawn(ddp_worker, args=(2, _free_port(), trainer_utd_store, tmp_path), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    assert all(torch.equal(v, ranks[1]["state"][k]) for k, v in ranks[0]["state"].items())
    shard0, shard1 = ranks[0]["shard"], ranks[1]["shard"]
    train = ranks[0]["train"]
    assert len(shard0) == len(shard1) == len(train) // 2
    assert set(shard0).isdisjoint(shard1) and set(shard0) | set(shard1) == set(train)
    loaded = [set(r["loaded"].tolist()) for r in ranks]
    assert loaded[0].isdisjoint(loaded[1])  # memory per rank: half the takes each
    assert loaded[0] | loaded[1] == set(train) | set(ranks[0]["val"]) | set(ranks[0]["test"])
    scored = [r["scored"].tolist() for r in ranks]
    assert sorted(scored[0] + scored[1]) == sorted(ranks[0]["test"].tolist())
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["test"]["count"] == 18
    assert np.isfinite(records[-1]["train"]["loss"])
