"""A run's options: resolved from the dataset's defaults, checked, written into runs/<name>/config.yaml
and read back by --resume, --config and evaluate.

`resolve_options(dataset, mode, **overrides)` is the one configuration path: the dataset's Table I
defaults (DatasetSpec.teacher / .student / .loss_weights) with the mode's Recipe's optimisers and TRN
dropout, then a preset, then the overrides a caller (the CLI, the demo, a test) gives by field name.

    runs/<name>/config.yaml   {"options": RunOptions.to_dict(), "dataset": names and the protocol as run,
                               "store": the store's identity and layout, "environment": torch, python, device}

Plain YAML (yaml.safe_dump), so a config written by an older version reads as long as
RunOptions.from_dict accepts its options.
"""
from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Any

import torch
import yaml

from pipeline.config import TABLE_I_WEIGHTS, DatasetSpec, load_dataset, named_weights
from pipeline.store import Store
from training.distill.losses import KD_BASELINES
from training.engine.logs import tensorboard_available
from training.engine.trainer import Context
from training.models.encoders import SENSOR_ENCODERS
from training.models.trn import VIDEO_BACKBONES
from training.options import (DATA_FIELDS, KD_NONE, OPTIM_FIELDS, RUN_FIELDS, STAGE_SIDES, DataOptions, OptimOptions,
                              OptionsError, RunOptions, check_registered)
from training.recipes import RECIPES

CONFIG_FILE = "config.yaml"


def resolve_options(dataset: str, mode: str, preset: str | None = None, base: RunOptions | None = None,
                    **overrides: Any) -> RunOptions:
    """Dataset defaults (or `base`, the options of an earlier run: train --config), then the
    dataset's `preset` (datasets.yaml `presets`), then `overrides` by field name; None values are ignored.

    An OptimOptions field (epochs, lr, ...) applies to both stages; prefix it with `teacher_` or
    `student_` to set one stage only. The prefixed (more specific) value wins over the plain one
    whatever their order. DataOptions fields (protocol, crop_size, ...) go to `data`. Loss weights
    come as `weights` ({term: weight}) or as Table I's `alpha`, `beta`, `gamma` (pipeline.config.named_weights),
    on top of the dataset's (or the base run's) weights.
    """
    check_registered(mode, mode_names(), "--mode")
    spec = load_dataset(dataset)
    stages, data, run = _starting_point(spec, mode, base)
    if preset is not None and preset not in spec.presets:
        raise OptionsError(f"--preset {preset!r} is not declared for {spec.name} in datasets.yaml "
                           f"(declared: {', '.join(spec.presets) or 'none'})")
    given = {**(spec.presets[preset] if preset else {}),
             **{key: value for key, value in overrides.items() if value is not None}}
    run["weights"] = _weights(given, run["weights"])
    for key, value in sorted(given.items(), key=lambda item: _is_stage_specific(item[0])):
        if key in OPTIM_FIELDS:
            for stage in stages.values():
                setattr(stage, key, value)
        elif _is_stage_specific(key):
            side, name = key.split("_", 1)
            setattr(stages[side], name, value)
        elif key in DATA_FIELDS:
            setattr(data, key, value)
        elif key in RUN_FIELDS - {"dataset", "mode"}:
            run[key] = value
        else:
            raise OptionsError(f"unknown run option {key!r}")
    options = RunOptions(dataset=dataset, mode=mode, teacher=stages["teacher"], student=stages["student"], data=data,
                         **run)
    options.validate(spec)
    check_runnable(options)
    return options


def _weights(given: dict[str, Any], start: dict[str, float]) -> dict[str, float]:
    """Take the loss-weight settings out of `given` (`weights` and Table I's aliases) and return `start`
    with them on top; a term named beside its alias wins."""
    settings = {**(given.pop("weights", None) or {}),
                **{alias: given.pop(alias) for alias in TABLE_I_WEIGHTS if alias in given}}
    try:
        return named_weights(settings, start)
    except ValueError as error:
        raise OptionsError(f"--weight: {error}") from None


def _starting_point(spec: DatasetSpec, mode: str, base: RunOptions | None
                    ) -> tuple[dict[str, OptimOptions], DataOptions, dict[str, Any]]:
    """The stages, data options and run fields that overrides start from: `base` as it was run
    (a fresh start: resume and overwrite off), or the dataset's Table I defaults."""
    if base is None:
        recipe = RECIPES[mode]
        stages = {side: OptimOptions.from_defaults(getattr(spec, side), *recipe.optimizers[side]) for side in STAGE_SIDES}
        return stages, DataOptions(), {"weights": dict(spec.loss_weights), "dropout": recipe.trn_dropout}
    if (base.dataset, base.mode) != (spec.name, mode):
        raise OptionsError(f"--config trained {base.mode} on {base.dataset}; it cannot start a {mode} run on {spec.name}")
    stages = {side: dataclasses.replace(getattr(base, side)) for side in STAGE_SIDES}
    run = {name: getattr(base, name) for name in RUN_FIELDS - {"dataset", "mode"}}
    run["weights"] = dict(base.weights)
    return stages, dataclasses.replace(base.data), {**run, "resume": False, "overwrite": False}


def _is_stage_specific(key: str) -> bool:
    """teacher_lr, student_batch_size, ...: an OptimOptions field of one stage."""
    side, _, name = key.partition("_")
    return side in STAGE_SIDES and name in OPTIM_FIELDS


def read_config(run_dir: Path) -> dict:
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise OptionsError(f"{path}: no such file (not a run directory)")
    return yaml.safe_load(path.read_text())


def read_options(path: Path) -> RunOptions:
    """The run options saved in a config.yaml (`train --config`), or a one-line OptionsError."""
    try:
        saved = yaml.safe_load(Path(path).read_text())
        return RunOptions.from_dict(saved["options"])
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError) as error:
        raise OptionsError(f"{path}: not a run's config.yaml ({type(error).__name__}: {error})") from None


def write_config(run_dir: Path, options: RunOptions, spec: DatasetSpec, store: Store, ctx: Context) -> None:
    """config.yaml: the options as run, the dataset facts they met, and the store they read."""
    config = {
        "options": options.to_dict(),
        "dataset": {"name": spec.name, "classes": list(spec.classes),
                    "protocol": {options.data.protocol or spec.default_protocol:
                                 spec.protocols[options.data.protocol or spec.default_protocol]}},
        "store": {"path": str(store.path), "config_digest": store.attrs.get("config_digest"),
                  "modalities": list(store.modalities), "has_video": store.has_video,
                  "gaf_size": store.layout.gaf_size, "segments": store.segments, "candidates": store.candidates,
                  "embedding_dim": int(store.class_embedding.shape[1])},
        "environment": {"torch": str(torch.__version__), "python": platform.python_version(),
                        "device": str(ctx.device), "world_size": ctx.world},
    }
    (Path(run_dir) / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))


def resume_options(options: RunOptions, epochs: dict[str, int] | None = None) -> RunOptions:
    """The options saved in the run directory, with this invocation's device/progress settings (and its
    --tensorboard, added to the run's own); `epochs` ({"teacher": n, "student": m}) extends a stage's
    schedule. The run continues in the directory given, not the one named in its config (a moved or
    copied run stays where it is)."""
    saved = read_options(options.run_dir / CONFIG_FILE)
    for side, count in (epochs or {}).items():
        setattr(getattr(saved, side), "epochs", count)
    return dataclasses.replace(saved, resume=True, device=options.device, progress=options.progress,
                               threads=options.threads, tensorboard=saved.tensorboard or options.tensorboard,
                               runs_dir=options.run_dir.parent, name=options.run_dir.name)


def backbone_names() -> tuple[str, ...]:
    """What --backbone can name: the video backbones of training.models.trn.VIDEO_BACKBONES."""
    return tuple(VIDEO_BACKBONES)


def kd_names() -> tuple[str, ...]:
    """What --kd can name: the registered baselines (training.distill.losses.KD_BASELINES), and KD_NONE."""
    return (*KD_BASELINES, KD_NONE)


def mode_names() -> tuple[str, ...]:
    """What --mode can name: training.recipes.RECIPES."""
    return tuple(RECIPES)


def sensor_encoder_names() -> tuple[str, ...]:
    """What --sensor-encoder can name: training.models.encoders.SENSOR_ENCODERS."""
    return tuple(SENSOR_ENCODERS)


def check_runnable(options: RunOptions) -> None:
    """OptionsError for what RunOptions.validate cannot see from the bottom layer: names that only the
    recipe, model and loss registries know (the mode and the terms it may ablate, the backbone, the
    sensor encoder, --kd), and a --tensorboard without its package (checked before training,
    so it fails at the start, not after the first epoch)."""
    check_registered(options.mode, mode_names(), "--mode")
    recipe = RECIPES[options.mode]
    unknown = sorted(set(options.ablate) - set(recipe.ablatable))
    if unknown:
        raise OptionsError(f"--ablate {','.join(unknown)} does not apply to {options.mode}; "
                           f"choose from {', '.join(recipe.ablatable)}")
    check_registered(options.backbone, backbone_names(), "--backbone")
    check_registered(options.sensor_encoder, sensor_encoder_names(), "--sensor-encoder")
    if options.kd is not None:
        check_registered(options.kd, kd_names(), "--kd")
    if options.tensorboard and not tensorboard_available():
        raise OptionsError("--tensorboard needs the tensorboard package: pip install 'crossmodal-kd[tensorboard]'")
