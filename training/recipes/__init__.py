"""`train`: run the stages of SAKDN (sensor2vision), VSKD (vision2sensor) or sensor2sensor into runs/<name>/.

    runs/<name>/config.yaml        effective options + dataset facts + store identity
    runs/<name>/<stage>/           teachers/ and student/: metrics.jsonl, last.pt, best.pt,
                                   results.json, curves.png, confusion.png
    runs/<name>/results.md         one Markdown table: every stage's test figures + classical baseline

`--stage teachers|student|all`; the student stage reuses the teachers of `--teachers RUN_DIR`
(default: this run's own teachers/). `--resume` continues each unfinished stage from its last.pt
with the options saved in config.yaml.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import platform
import shutil
from pathlib import Path

import torch
import yaml

from pipeline.config import DatasetSpec, load_dataset
from pipeline.store import Store, open_store
from training.archs import ResNetArch, SensorTeachersArch, TRNArch
from training.data import DataError, build_data
from training.engine import RESULTS_FILE, Context, FitResult, Stage, fit, make_context, seed_everything
from training.models.normalize import input_normalizer
from training.options import KD_NONE, STAGE_ORDER, DataOptions, OptionsError, RunOptions
from training.recipes import sakdn, sensor2sensor, vskd
from training.recipes.common import RecipeError

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"


def open_checked_store(path: Path) -> Store:
    """open_store with a one-line DataError for a missing or unreadable store."""
    try:
        return open_store(Path(path))
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise DataError(str(error).splitlines()[0] if str(error) else f"{path}: not a readable store") from None


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


def build_stage(name: str, store: Store, spec: DatasetSpec, options: RunOptions, teachers_dir: Path | None) -> Stage:
    """The Stage module of one recipe step (built under the run's seed, so identical on every rank)."""
    segments = options.data.segments or store.segments
    if options.mode in ("sensor2vision", "sensor2sensor") and name == "teachers":
        return sakdn.teachers_stage(store, spec, options)
    if options.mode == "sensor2sensor":
        return sensor2sensor.student_stage(store, spec, options, teachers_dir)
    if options.mode == "sensor2vision":
        return sakdn.student_stage(store, spec, options, teachers_dir, segments)
    if name == "teachers":
        return vskd.teachers_stage(store, spec, options, segments)
    return vskd.student_stage(store, spec, options, teachers_dir)


def stage_title(name: str, stage: Stage, options: RunOptions) -> str:
    """How the results table names this stage's network."""
    arch = stage.arch
    if isinstance(arch, SensorTeachersArch):
        return f"sensor teachers ({arch.network})"
    if isinstance(arch, TRNArch):
        if options.mode == "vision2sensor":
            return f"video teacher ({arch.network}, CE)"
        if options.kd == KD_NONE:
            return f"video baseline ({arch.network}, CE)"
        return f"SAKDN student ({arch.network}{f', KD {options.kd}' if options.kd else ''})"
    if options.kd == KD_NONE:
        return f"sensor baseline ({arch.network}{' on GAF' if isinstance(arch, ResNetArch) else ''}, CE)"
    method = "sensor student of the fused teachers" if options.mode == "sensor2sensor" else "VSKD student"
    return f"{method} ({arch.network}, {f'KD {options.kd}' if options.kd else 'DASK'})"


def stage_data_options(stage: Stage, data: DataOptions) -> DataOptions:
    """The data options with what the stage's networks read: the video network's segments, crop and
    input kind, the sensor networks' GAF side or stream grid."""
    video = stage.video_arch
    return dataclasses.replace(
        data,
        segments=video.segments if video else data.segments,
        crop_size=video.crop_size if video else data.crop_size,
        video_input=video.video_input if video else data.video_input,
        gaf_size=stage.gaf_size,
        stream_seconds=stage.stream_seconds,
    )


def _finished(stage_dir: Path, epochs: int) -> bool:
    path = stage_dir / RESULTS_FILE
    return path.exists() and json.loads(path.read_text()).get("epochs") == epochs


def prepare_run_dir(options: RunOptions, ctx: Context) -> Path:
    run_dir = options.run_dir
    if ctx.is_main:
        if run_dir.exists() and (run_dir / CONFIG_FILE).exists() and not options.resume:
            if not options.overwrite:
                raise OptionsError(f"{run_dir}: run directory exists; pass --resume to continue it or --overwrite to start over")
            for stage in STAGE_ORDER:
                shutil.rmtree(run_dir / stage, ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
    if ctx.world > 1:
        torch.distributed.barrier()
    return run_dir


def run_training(options: RunOptions, resume_epochs: dict[str, int] | None = None) -> dict[str, FitResult]:
    """Train the requested stages; returns each stage's FitResult (also written to the run directory).

    With options.resume, the run continues with its saved options; resume_epochs
    ({"teacher": n, "student": m}) extends the schedule of a stage.
    """
    if options.resume and (options.run_dir / CONFIG_FILE).exists():
        options = resume_options(options, resume_epochs)
    spec = load_dataset(options.dataset)
    options.validate(spec)
    if options.threads:
        torch.set_num_threads(options.threads)
    ctx = make_context(options.device, options.amp, options.channels_last, options.compile, options.progress,
                       options.seed)
    store = open_checked_store(options.store_path)
    if store.dataset != spec.name:
        raise DataError(f"{store.path}: store holds dataset {store.dataset!r}, not {spec.name!r}")
    run_dir = prepare_run_dir(options, ctx)
    if ctx.is_main:
        write_config(run_dir, options, spec, store, ctx)
    names = STAGE_ORDER if options.stage == "all" else (options.stage,)
    teachers_dir = Path(options.teachers) if options.teachers else (run_dir if "teachers" in names else None)
    results: dict[str, FitResult] = {}
    titles: dict[str, str] = {}
    scored: dict[str, None] = {}  # the sensor modalities the stages are scored on, for the classical rows
    for name in names:
        optim = options.teacher if name == "teachers" else options.student
        stage_dir = run_dir / name
        seed_everything(options.seed)
        stage = build_stage(name, store, spec, options, teachers_dir)
        titles[name] = stage_title(name, stage, options)
        scored.update(dict.fromkeys(stage.eval_needs.modalities))
        if options.resume and _finished(stage_dir, optim.epochs):
            continue
        seed_everything(options.seed + ctx.rank)
        video = stage.video_arch
        normalize = input_normalizer(video.backbone).to(ctx.device) if video else None
        data = build_data(store, spec, stage_data_options(stage, options.data), stage.unit, stage.train_needs,
                          stage.eval_needs, optim.batch_size, ctx.device, normalize, seed=options.seed, rank=ctx.rank,
                          world=ctx.world, channels_last=ctx.channels_last, train_fraction=optim.train_fraction,
                          paired=options.distill_unlabelled and stage.distils)
        logger.info(_describe(name, titles[name], data))
        results[name] = fit(stage, data, optim, ctx, stage_dir, spec.num_classes, resume=options.resume,
                            test_every=options.test_every, val_every=options.val_every,
                            tensorboard=options.tensorboard)
    if ctx.is_main:
        from training.report import write_run_report

        write_run_report(run_dir, titles, spec, store, options.data.protocol or spec.default_protocol, options.seed,
                         baseline=options.baseline, modalities=tuple(scored))
    return results


def _describe(name: str, title: str, data) -> str:
    summary = data.selection.summary()
    rows = summary["rows"]
    excluded = {side: counts for side, counts in summary["excluded"].items() if counts}
    paired = data.train is not None and data.train.paired is not None
    unlabelled = f" + {rows['unlabelled']} unlabelled, distilled on" if paired else ""
    line = (f"[{name}] {title}: protocol {summary['protocol']}, {summary['unit']} train {rows['train']}{unlabelled} / "
            f"val {rows['val']} (subjects {summary['val_subjects']}) / test {rows['test']}; "
            f"{data.residency.describe()}")
    if excluded:
        line += f"; excluded {excluded}"
    return line


__all__ = ["run_training", "read_config", "read_options", "open_checked_store", "build_stage", "stage_data_options",
           "RecipeError", "CONFIG_FILE"]
