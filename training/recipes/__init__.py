"""The recipes: RECIPES, one entry per mode of `train`, the one place that knows what a mode trains.

    sensor2vision   SAKDN (training.recipes.sakdn): sensor teachers, SPAMFM-fused -> TRN video student
    vision2sensor   VSKD (training.recipes.vskd): TRN video teacher -> one-sensor student with DASK
    sensor2sensor   SAKDN's fused sensor teachers -> one-sensor student with DASK (training.recipes.sensor2sensor)

A Recipe builds the Stage (training.engine.trainer) of each of its two steps, names its networks in
the results table, lists what `--ablate` may leave out, and carries the published code's optimiser
per stage and TRN dropout, the defaults where Table I is silent. A new mode is one module with its
stages and one entry here; `train --mode NAME` then offers it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import DatasetSpec
from pipeline.store import Store
from training.engine.trainer import Stage
from training.options import DataOptions, RunOptions
from training.recipes import sakdn, sensor2sensor, vskd
from training.recipes.sakdn import SakdnStudent
from training.recipes.vskd import DASK_TERMS


@dataclass(frozen=True)
class Recipe:
    """One mode (module docstring). `teachers(store, spec, options)` and `student(store, spec, options,
    teachers_dir)` build its stages; the titles name their networks in the results table (from the
    built stage and the options); `optimizers` maps "teacher" / "student" to (optimiser, weight decay)."""

    teachers: Callable[[Store, DatasetSpec, RunOptions], Stage]
    student: Callable[[Store, DatasetSpec, RunOptions, Path | None], Stage]
    teachers_title: Callable[[Stage, RunOptions], str]
    student_title: Callable[[Stage, RunOptions], str]
    ablatable: tuple[str, ...]
    optimizers: Mapping[str, tuple[str, float]]
    trn_dropout: float | None = None


# Optimisers of the published code: SAKDN trains its VGG16-BN teachers with Adam (weight decay 1e-5; Table I's
# teacher rates are Adam rates) and its TRN student with SGD (momentum 0.9, 5e-4); VSKD its TRN teacher with SGD
# (5e-4) and its ResNet18 student with Adam (1e-5). TRN dropout: SAKDN's student 0.8 (TRN's), VSKD's teacher 0.5.
RECIPES: dict[str, Recipe] = {
    "sensor2vision": Recipe(sakdn.teachers_stage, sakdn.student_stage, sakdn.teachers_title, sakdn.student_title,
                            ablatable=("spamfm", *SakdnStudent.TERMS),
                            optimizers={"teacher": ("adam", 1e-5), "student": ("sgd", 5e-4)}, trn_dropout=0.8),
    "vision2sensor": Recipe(vskd.teachers_stage, vskd.student_stage, vskd.teachers_title, vskd.student_title,
                            ablatable=DASK_TERMS[1:],
                            optimizers={"teacher": ("sgd", 5e-4), "student": ("adam", 1e-5)}, trn_dropout=0.5),
    "sensor2sensor": Recipe(sakdn.teachers_stage, sensor2sensor.student_stage, sakdn.teachers_title,
                            sensor2sensor.student_title, ablatable=("spamfm", *DASK_TERMS),
                            optimizers={"teacher": ("adam", 1e-5), "student": ("adam", 1e-5)}),
}


def build_stage(name: str, store: Store, spec: DatasetSpec, options: RunOptions, teachers_dir: Path | None) -> Stage:
    """The Stage of one step ("teachers" or "student") of the run's mode (built under the run's seed,
    so identical on every rank)."""
    recipe = RECIPES[options.mode]
    if name == "teachers":
        return recipe.teachers(store, spec, options)
    return recipe.student(store, spec, options, teachers_dir)


def stage_title(name: str, stage: Stage, options: RunOptions) -> str:
    """How the results table names this stage's network."""
    recipe = RECIPES[options.mode]
    return (recipe.teachers_title if name == "teachers" else recipe.student_title)(stage, options)


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
