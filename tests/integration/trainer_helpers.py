"""Tiny prepared stores for the trainer tests (synthetic trees prepared at tiny sizes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from pipeline.config import load_dataset
from pipeline.embeddings import class_tokens
from pipeline.prepare import PrepareOptions, prepare
from pipeline.synthetic import write_dataset
from training.data.loaders import Needs
from training.distill.losses import build_loss
from training.options import RunOptions
from training.recipes.classifiers import SensorClassifier
from training.recipes.student import DistilledStudent

UTD = "synthetic-utd-mhad"
MMACT = "synthetic-mmact"


def utd_store(base: Path) -> Path:
    """3 subjects x 4 trials x 3 classes (36 takes, one clip each), GAF 32 px, frames 32x40."""
    write_dataset("utd-mhad", base / "raw", subjects=3, takes=4, classes=[0, 2, 3], seed=0, frame_size=(32, 40))
    return prepare(PrepareOptions(dataset=UTD, root=base / "raw", cache=base / "cache", gaf_size=32,
                                  frame_size=(32, 40), progress=False)).store_path


def mmact_store(base: Path) -> Path:
    """2 subjects x 2 sessions x 3 classes x 4 cameras with the synthetic quirks: one clip's video is
    corrupt (clip failed) and one take's orientation CSV is empty (modality absent)."""
    write_dataset("mmact", base / "raw", subjects=2, takes=2, classes=[3, 5, 10], seed=0, quirks=True,
                  frame_size=(32, 48))
    return prepare(PrepareOptions(dataset=MMACT, root=base / "raw", cache=base / "cache", gaf_size=32,
                                  frame_size=(32, 48), progress=False)).store_path


def write_small_glove(path: Path, dim: int = 8, seed: int = 0) -> Path:
    """A GloVe text file of `dim`-d random vectors covering every UTD-MHAD class word."""
    spec = load_dataset(UTD)
    words = sorted({w for name in spec.classes for w in (spec.aliases.get(name) or class_tokens(name))})
    rng = np.random.default_rng(seed)
    lines = [" ".join([w, *(f"{v:.5f}" for v in rng.normal(size=dim))]) for w in words]
    path.write_text("\n".join(lines) + "\n")
    return path


def utd_sensor_store(base: Path) -> Path:
    """The UTD tree above prepared with the accelerometer only (no video) and 8-d class vectors."""
    write_dataset("utd-mhad", base / "raw", subjects=3, takes=4, classes=[0, 2, 3], seed=0, frame_size=(32, 40))
    glove = write_small_glove(base / "glove-8d.txt")
    return prepare(PrepareOptions(dataset=UTD, root=base / "raw", cache=base / "cache", gaf_size=32,
                                  modalities=("acc",), glove=glove, progress=False)).store_path


def train_sensor_baseline(store: Path, runs_dir: Path, name: str, *flags: str) -> Path:
    """`train --mode vision2sensor --stage student --kd none` on `store` through the CLI, with `flags`
    added; asserts it succeeded and returns the run directory."""
    from click.testing import CliRunner

    from cli import cli

    result = CliRunner().invoke(cli, [
        "train", "--mode", "vision2sensor", "--dataset", UTD, "--stage", "student", "--kd", "none",
        "--store", str(store), "--runs-dir", str(runs_dir), "--name", name, "--device", "cpu",
        "--quiet", "--no-baseline", *flags])
    assert result.exit_code == 0, result.output
    return runs_dir / name


def ddp_worker(rank: int, world: int, port: int, store_path: Path, out: Path) -> None:
    """One rank of a CPU/gloo DistributedDataParallel run of the sensor baseline (ResNet18 on acc GAF)."""
    import os

    import torch
    import torch.distributed as dist

    from pipeline.store import open_store
    from training.data.loaders import build_data
    from training.engine.trainer import fit, make_context, seed_everything
    from training.recipes import build_stage
    from training.run.config import resolve_options

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    ctx = make_context("cpu", progress=False)
    store, spec = open_store(store_path), load_dataset(UTD)
    options = resolve_options(UTD, "vision2sensor", stage="student", kd="none", store=store_path, epochs=2,
                              batch_size=2, lr=1e-3, optimizer="adam", device="cpu", progress=False)
    seed_everything(options.seed)
    stage = build_stage("student", store, spec, options, None)
    seed_everything(options.seed + rank)
    data = build_data(store, spec, options.data, stage.unit, stage.train_needs, stage.eval_needs, 2, ctx.device,
                      seed=options.seed, rank=rank, world=world)
    fit(stage, data, options.student, ctx, out / "run", spec.num_classes)
    torch.save({"state": stage.trainable_state(), "shard": data.train.shard(0), "train": data.selection.train,
                "val": data.selection.val, "test": data.selection.test, "loaded": data.source.take_rows,
                "scored": data.test.rows},
               out / f"rank{rank}.pt")
    dist.destroy_process_group()


class SensorFromSensor(DistilledStudent, SensorClassifier):
    """docs/extending.md: a new distilled student is one class of its own terms; here one sensor's network
    taught by a network of another sensor of the same take, with the soft target alone (the student of
    test_extending's "sensor2one" mode)."""

    TERMS = ("st",)

    def __init__(self, baseline: SensorClassifier, teacher: nn.Module, teacher_modality: str, options: RunOptions):
        super().__init__(baseline.net, baseline.modality, baseline.arch)
        self.teacher_modality = teacher_modality
        self.train_needs = Needs(modalities=(baseline.modality, teacher_modality))
        self.distil_from(teacher, options.weights, options, (baseline.net.tap_names, teacher.tap_names))
        self.st = build_loss("st", T=options.temperature)

    def student_output(self, batch):
        return self.net(batch.sensors[self.modality])

    def teacher_output(self, batch):
        return self.teacher(batch.sensors[self.teacher_modality])

    def method_terms(self, student, teacher, batch):
        return {"st": self.st(student, teacher)}
