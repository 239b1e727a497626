"""`train`: run the stages of SAKDN (sensor2vision), VSKD (vision2sensor) or sensor2sensor into runs/<name>/.

    runs/<name>/config.yaml        effective options + dataset facts + store identity (training.run.config)
    runs/<name>/<stage>/           teachers/ and student/: metrics.jsonl, last.pt, best.pt,
                                   results.json, curves.png, confusion.png
    runs/<name>/results.md         one Markdown table: every stage's test figures + classical baseline

`--stage teachers|student|all`; the student stage reuses the teachers of `--teachers RUN_DIR`
(default: this run's own teachers/). `--resume` continues each unfinished stage from its last.pt
with the options saved in config.yaml. The recipes (training.recipes) build each stage; the engine
(training.engine.trainer.fit) trains it.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch

from pipeline.config import load_dataset
from pipeline.store import Store, StoreLocation, open_store
from pipeline.units import format_bytes
from training.data.loaders import DataError, build_data
from training.engine.trainer import (RESULTS_FILE, Context, FitResult, fit, make_context, place_stage,
                                     seed_everything)
from training.models.normalize import input_normalizer
from training.options import STAGE_ORDER, OptionsError, RunOptions
from training.recipes import build_stage, stage_data_options, stage_title
from training.run.config import CONFIG_FILE, check_runnable, resume_options, write_config

logger = logging.getLogger(__name__)


def open_checked_store(path: StoreLocation) -> Store:
    """open_store with a one-line DataError for a missing or unreadable store (a path or an fsspec URL)."""
    try:
        return open_store(path)
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise DataError(str(error).splitlines()[0] if str(error) else f"{path}: not a readable store") from None


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
    check_runnable(options)
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
        if options.teacher_cache and stage.distils and stage.teacher_cacheable() and data.train is not None:
            _cache_teacher(name, stage, data, store, ctx)
        try:
            results[name] = fit(stage, data, optim, ctx, stage_dir, spec.num_classes, resume=options.resume,
                                test_every=options.test_every, val_every=options.val_every,
                                tensorboard=options.tensorboard)
        finally:
            data.close()
    if ctx.is_main:
        from training.run.report import write_run_report

        write_run_report(run_dir, titles, spec, store, options.data.protocol or spec.default_protocol, options.seed,
                         baseline=options.baseline, modalities=tuple(scored))
    return results


def _cache_teacher(name: str, stage, data, store: Store, ctx: Context) -> None:
    """The student's frozen teacher computed once per training take (training.recipes.teacher_cache), on
    the device and in the memory format the steps use."""
    place_stage(stage, ctx)
    cache = stage.cache_teacher(data.train, store.attrs["config_digest"], ctx.autocast)
    logger.info(f"[{name}] teacher cache: {len(cache)} takes, {format_bytes(cache.nbytes)}, built in "
                f"{cache.seconds:.1f} s (key {cache.key}); the steps run no teacher forward")


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
