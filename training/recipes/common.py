"""Pieces both recipes share: frozen teachers from a finished run, pretrained weights, KD baselines."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import nn

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.data.streams import grid_seconds
from training.distill.losses import KD_BASELINES, BaselineInputs, KDLoss
from training.engine.trainer import BEST, LAST, load_checkpoint
from training.models.archs import Arch, TRNArch, arch_from_dict
from training.models.encoders import SensorEncoder
from training.models.trn import TRN, video_backbone
from training.models.weights import WeightsError, load_pretrained
from training.options import RunOptions

logger = logging.getLogger(__name__)


class RecipeError(ValueError):
    """A run that cannot be built as asked (teachers run missing or mismatched, ...); one line."""


def freeze(module: nn.Module) -> nn.Module:
    """requires_grad off and eval mode: a teacher is only ever evaluated."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def stage_checkpoint(stage_dir: Path) -> Path:
    """best.pt of a finished stage (best on validation), else its last.pt."""
    for name in (BEST, LAST):
        if (stage_dir / name).exists():
            return stage_dir / name
    raise RecipeError(f"{stage_dir}: no {BEST} or {LAST} here (has that stage been trained?)")


def teacher_stage_dir(run_dir: Path) -> Path:
    """`run_dir` itself when it holds a checkpoint, else its teachers/ stage."""
    run_dir = Path(run_dir)
    if (run_dir / BEST).exists() or (run_dir / LAST).exists():
        return run_dir
    return run_dir / "teachers"


def teachers_run(teachers_dir: Path | None) -> Path:
    """The teachers' run directory of a distilled student stage, or a one-line RecipeError when none was given."""
    if teachers_dir is None:
        raise RecipeError("the student stage needs --teachers RUN_DIR (or --stage all, or --kd none)")
    return Path(teachers_dir)


def load_frozen(run_dir: Path, kind: type[Arch], spec: DatasetSpec, store: Store) -> tuple[nn.Module, Arch]:
    """The teacher network trained in run_dir (its stage-1 checkpoint), frozen, and its arch record.

    Fails with one line when it is not a `kind` network of this dataset, or its embedding
    dimension differs from the store's class embedding.
    """
    path = stage_checkpoint(teacher_stage_dir(run_dir))
    checkpoint = load_checkpoint(path)
    try:
        arch = arch_from_dict(checkpoint.get("arch") or {})
    except ValueError as error:
        raise RecipeError(f"{path}: {error}") from None
    if not isinstance(arch, kind):
        raise RecipeError(f"{path}: holds a {arch.kind!r} network, this stage needs {kind.kind!r} teachers")
    if arch.num_classes != spec.num_classes:
        raise RecipeError(f"{path}: teachers have {arch.num_classes} classes, {spec.name} has {spec.num_classes}")
    embed_dim = store.class_embedding.shape[1]
    if arch.embed_dim != embed_dim:
        raise RecipeError(
            f"{path}: teachers' embedding dimension is {arch.embed_dim}, the store's class embedding has {embed_dim}"
        )
    missing = [m for m in arch.sensor_modalities() if m not in store.modalities]
    if missing:
        raise RecipeError(f"{path}: teachers read {', '.join(missing)}, which {store.path} does not hold")
    net = arch.build()
    state = {k[len("net."):]: v for k, v in checkpoint["model"].items() if k.startswith("net.")}
    net.load_state_dict(state)
    return freeze(net), arch


def stream_seconds(store: Store) -> float:
    """The time grid span of raw-signal encoders: the store's longest take over every modality
    (training.data.streams.grid_seconds). One grid per store, so fused teachers share a time axis and a
    student reads exactly what its CE-only baseline reads."""
    infos = [store.sensor_info(m) for m in store.modalities]
    return grid_seconds(np.concatenate([info["duration_s"][info["present"]] for info in infos]))


def load_pretrained_weights(module: nn.Module, path: Path, kind: str) -> None:
    """load_pretrained with a one-line error for an unusable file; logs what loaded."""
    try:
        report = load_pretrained(module, Path(path), kind)
    except (WeightsError, FileNotFoundError, RuntimeError) as error:
        raise RecipeError(str(error).splitlines()[0]) from None
    logger.info(report.message)


def sensor_inputs(encoder: SensorEncoder, store: Store, options: RunOptions, seconds: float | None = None
                  ) -> tuple[int | None, float | None]:
    """(gaf_size, stream_seconds) of the networks of `encoder`: the GAF side (--gaf-size or the store's) for
    GAF networks, the time grid (`seconds`, else the store's: stream_seconds) for stream networks."""
    if encoder.reads_stream:
        return None, seconds or stream_seconds(store)
    return options.data.gaf_size or store.layout.gaf_size, None


def stream_reading(encoder: SensorEncoder, options: RunOptions) -> dict:
    """Arch fields of how `encoder`'s networks read a stream: {"log_dynamics": True} under --log-dynamics
    for a stream encoder, else none (GAF networks, and records that keep the field's default)."""
    return {"log_dynamics": True} if encoder.reads_stream and options.log_dynamics else {}


def pretrained_kind(kind: str | None, encoder: str) -> str:
    """The weights kind --pretrained-sensor loads for a network of `encoder` (its SENSOR_ENCODERS
    entry's), or a RecipeError where that encoder has none."""
    if kind is None:
        raise RecipeError(f"--pretrained-sensor holds GAF network weights; --sensor-encoder {encoder} trains from scratch")
    return kind


def video_network(store: Store, spec: DatasetSpec, options: RunOptions) -> tuple[TRN, TRNArch]:
    """The TRN of a run (SAKDN student, VSKD teacher) and its arch record, with --pretrained backbone
    weights; `--segments` or the store's, and `--dropout` or the mode's (its Recipe's trn_dropout)."""
    from training.recipes import RECIPES

    dropout = RECIPES[options.mode].trn_dropout if options.dropout is None else options.dropout
    arch = TRNArch(num_classes=spec.num_classes, embed_dim=store.class_embedding.shape[1],
                   segments=options.data.segments or store.segments,
                   backbone=options.backbone, dropout=dropout, crop_size=options.data.crop_size,
                   video_input=options.data.video_input)
    net = arch.build()
    if options.pretrained:
        kind = video_backbone(options.backbone).weights
        if kind is None:
            raise RecipeError(f"--pretrained: the {options.backbone} backbone has no weights loader "
                              "(VIDEO_BACKBONES names none)")
        load_pretrained_weights(net, options.pretrained, kind)
    return net, arch


def baseline_kd(name: str, weight: float | None, student_taps: Sequence[str], teacher_taps: Sequence[str],
                embed_dim: int, temperature: float) -> tuple[KDLoss, float]:
    """The --kd baseline loss module of the KD_BASELINES registry and its weight (the registry's
    default unless `weight` is given)."""
    baseline = KD_BASELINES[name]
    loss = baseline.build(BaselineInputs(tuple(student_taps), tuple(teacher_taps), embed_dim, temperature))
    return loss, (baseline.weight if weight is None else weight)
