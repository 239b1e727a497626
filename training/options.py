"""Run options as dataclasses, and every choice list that needs no registry: the bottom layer of training/.

`RunOptions.to_dict()` is what a run saves as config.yaml and `RunOptions.from_dict()` reads it
back for --resume and evaluate; `RunOptions.validate` checks what needs only the dataset. The one
configuration path, `training.run.config.resolve_options`, fills these from datasets.yaml and the
mode's recipe, then checks the names only the registries know (modes, backbones, encoders, --kd).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import CACHE_DIR, RUNS_DIR, TABLE_I_WEIGHTS, DatasetSpec, StageDefaults, named_weights
from pipeline.store import StoreLocation, store_location, store_path
from pipeline.units import parse_size

STAGE_ORDER = ("teachers", "student")  # the two stages of every mode, in training order
STAGES = (*STAGE_ORDER, "all")
CHECKPOINTS = ("best", "last")  # a stage's best.pt (best on validation) and last.pt (training.engine.trainer)
KD_NONE = "none"  # --kd none: cross-entropy only, no teacher (the baselines); the others: training.distill.losses.KD_BASELINES
OPTIMIZERS = ("sgd", "adam", "adamw")
# Learning-rate schedules, stepped once per epoch (training.engine.trainer.make_scheduler): "step" multiplies the
# rate by lr_gamma every lr_step epochs (Table I); "onecycle" warms up to lr over the first 30 % of the
# epochs, then anneals it (cosine) towards lr / 1e4 (a recipe option; no gain measured on real Berkeley dev).
SCHEDULES = ("step", "onecycle")
RESIDENCIES = ("auto", "device", "ram", "stream")  # training.data.residency
SHUFFLES = ("auto", "rows", "chunks")  # training.data.sampler; auto: chunks when streaming, rows otherwise
VIDEO_INPUTS = ("rgb", "motion")
# training.models.fusion, the first of each is the default: the published code's bounded gate or the paper's
# unbounded one; SPAMFM's per-sample descriptor in eval mode from running statistics or the sample's own.
SPAMFM_GATES = ("code", "paper")
SPAMFM_EVAL = ("running", "sample")
STAGE_SIDES = ("teacher", "student")

# Distillation terms renamed so that no name means two things (SAKDN's SP is its semantic term, --kd sp is
# similarity-preserving; DASK's KD is the soft target, named st in every mode): old name -> new name.
RENAMED_TERMS = {"sp": "semantic", "kd": "st"}
# Data fields renamed so that each train flag names its field: old name in a saved config -> new name.
RENAMED_DATA_FIELDS = {"frame_size": "crop_size", "workers": "loader_workers"}


class OptionsError(ValueError):
    """An option value that cannot work; the message names the option in one line."""


@dataclass
class OptimOptions:
    """How one stage trains: optimiser, schedule (SCHEDULES: by default the LR is multiplied by
    lr_gamma every lr_step EPOCHS), label smoothing of its cross-entropy terms, and the share of the
    training takes it sees (train_fraction: a seeded, class-stratified subset, nested across
    fractions; training.data.loaders.stratified_subset)."""

    epochs: int
    batch_size: int
    lr: float
    lr_step: int
    lr_gamma: float
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    grad_clip: float = 20.0  # max global gradient norm; 0 disables clipping
    train_fraction: float = 1.0
    schedule: str = SCHEDULES[0]
    label_smoothing: float = 0.0  # of every cross-entropy against a label (torch's label_smoothing)

    def validate(self) -> None:
        """OptionsError for a schedule value that cannot train (the choice lists: RunOptions.validate)."""
        _check_range(self.epochs >= 1 and self.batch_size >= 1 and self.lr > 0 and self.lr_step >= 1,
                     "epochs, batch size, lr and lr step must be positive", self)
        _check_range(0.0 <= self.label_smoothing < 1.0, "--label-smoothing must lie in [0, 1)", self.label_smoothing)
        _check_range(0.0 < self.train_fraction <= 1.0, "--train-fraction must lie in (0, 1]", self.train_fraction)

    @classmethod
    def from_defaults(cls, defaults: StageDefaults, optimizer: str, weight_decay: float) -> OptimOptions:
        """Table I's schedule (datasets.yaml) with the optimiser the published code uses for it (the mode's
        Recipe.optimizers)."""
        return cls(
            epochs=defaults.epochs,
            batch_size=defaults.batch,
            lr=defaults.lr,
            lr_step=defaults.lr_step,
            lr_gamma=defaults.lr_gamma,
            optimizer=optimizer,
            weight_decay=weight_decay,
        )


@dataclass
class DataOptions:
    """What the data side selects and how it shapes batches."""

    protocol: str | None = None  # None: the dataset's default_protocol
    store: StoreLocation | None = None  # a path or an fsspec URL; None: cache/<dataset>.zarr in the working directory
    val_fraction: float = 0.2  # share of TRAINING subjects held out for model selection
    val_subjects: tuple[int, ...] = ()  # explicit held-out training subjects (wins over val_fraction)
    gaf_size: int | None = None  # GAF side fed to the networks; None: as stored
    stream_seconds: float | None = None  # set from the stage: the time grid of raw-signal encoders (None: GAF input)
    stream_rate: float | None = None  # points per second of that grid; None: the store's signal_length points in all
    stream_rotation: float = 0.0  # training streams: random rotation of the sensor frame up to this many degrees
    crop_size: int = 224  # side of the square crop of the stored frames (train --crop-size)
    segments: int | None = None  # TSN segments used; None: as stored (a subset is evenly spaced)
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)  # multi-scale crop sides / shorter side
    eval_crop: float = 224 / 256  # evaluation centre-crop side / shorter side (TSN: 224 of 256)
    flip: bool = True
    video_input: str = "rgb"  # "rgb", or "motion": each segment minus the clip's mean over segments
    residency: str = "auto"  # where the arrays live: device or host RAM if they fit, else streamed (training.data.residency)
    max_memory: str | None = None  # the arrays' budget for auto residency, e.g. "2GB"; None: half of what is free
    shuffle: str = "auto"  # training order (training.data.sampler): rows, chunks; auto: chunks when streaming
    loader_workers: int | None = None  # in memory: batches gathered ahead in a thread; stream: reader processes;
    # None: 1 thread on CUDA, 0 on the CPU (a second thread competes with the step), stream up to 4 processes


@dataclass
class RunOptions:
    """Everything one `train` invocation needs; saved as config.yaml in the run directory."""

    dataset: str
    mode: str
    teacher: OptimOptions
    student: OptimOptions
    weights: dict[str, float]  # loss weight by term (pipeline.config.LOSS_TERMS: st, gsdm, distance, angle, semantic)
    stage: str = "all"
    name: str | None = None  # run directory name under runs_dir; None: <dataset>-<mode>-s<seed>
    runs_dir: Path = RUNS_DIR
    teachers: Path | None = None  # run directory whose stage-1 weights the student stage reuses
    backbone: str = "bninception"  # TRN backbone (student in sensor2vision, teacher in vision2sensor)
    modalities: tuple[str, ...] = ()  # sensor teachers; empty: every modality of the store
    student_modality: str | None = None  # vision2sensor student input; None: the first modality
    sensor_encoder: str = "gaf"  # how the sensor networks read a sensor: training.models.encoders.SENSOR_ENCODERS
    log_dynamics: bool = False  # raw-signal encoders also read each axis's motion on a log scale (raw1d.LogDynamics)
    kd: str | None = None  # replace the method's distillation terms by a baseline of the LOSSES registry
    kd_weight: float | None = None  # weight of that baseline; None: the registry's default
    distill_unlabelled: bool = False  # a student also distils on the training takes outside its labelled share
    teacher_cache: bool = True  # a student answers its frozen teacher from a per-take cache where it can
    ablate: tuple[str, ...] = ()
    temperature: float = 4.0
    teacher_semantic: float = 1.0  # weight of MSE(fc7, class embedding) in the sensor teachers' loss
    spamfm_gate: str = SPAMFM_GATES[0]  # SPAMFM gate: "code" (bounded, sigmoid relations) or "paper" (unbounded)
    spamfm_eval: str = SPAMFM_EVAL[0]  # SPAMFM descriptor in eval mode: "running" statistics or the "sample"'s own
    spamfm_stages: tuple[str, ...] = ()  # the sensor networks' stages SPAMFM follows (e.g. fc7); empty: every stage
    dropout: float | None = None  # TRN dropout; None: the mode's (training.recipes.RECIPES)
    pretrained: Path | None = None  # local weights for the TRN backbone
    pretrained_sensor: Path | None = None  # local weights for the GAF networks (VGG16-BN / ResNet)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # torch intra-op threads on the CPU; None: torch's default
    amp: bool = True  # bf16 autocast (CUDA only)
    channels_last: bool = True  # (CUDA only)
    compile: bool = False
    resume: bool = False
    overwrite: bool = False  # start an existing run directory over
    progress: bool = True
    baseline: bool = True  # add the classical baseline's rows to the results table
    test_every: int = 1  # score the test split every N epochs and after the last (0: after the last only)
    val_every: int = 1  # score validation (it picks best.pt) every N epochs and after the last (0: the last only)
    tensorboard: bool = False  # also write each epoch's metrics.jsonl figures as TensorBoard scalars to <stage>/tb/
    data: DataOptions = field(default_factory=DataOptions)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.dataset}-{self.mode}-s{self.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.run_name

    @property
    def store_path(self) -> StoreLocation:
        return store_location(self.data.store) if self.data.store else store_path(CACHE_DIR, self.dataset)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (paths as strings, tuples as lists), for YAML."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunOptions:
        """The inverse of to_dict; a config.yaml written before a data field was renamed reads as well."""
        raw = dict(raw)
        if "weights" not in raw:  # a config written before the weights were named: Table I's alpha, beta, gamma
            raw["weights"] = named_weights({k: raw[k] for k in TABLE_I_WEIGHTS if raw.get(k) is not None})
        raw["ablate"] = [RENAMED_TERMS.get(term, term) for term in raw.get("ablate", ())]
        raw["teacher"] = OptimOptions(**raw["teacher"])
        raw["student"] = OptimOptions(**raw["student"])
        data = {RENAMED_DATA_FIELDS.get(key, key): value for key, value in raw["data"].items()}
        raw["data"] = _from_plain(DataOptions, data)
        return _from_plain(cls, raw)

    def validate(self, spec: DatasetSpec) -> None:
        """Raise OptionsError for a value that cannot work with this dataset (the names only the
        registries know are checked by training.run.config.check_runnable)."""
        for value, names, flag in ((self.stage, STAGES, "--stage"), (self.spamfm_gate, SPAMFM_GATES, "--spamfm-gate"),
                                   (self.spamfm_eval, SPAMFM_EVAL, "--spamfm-eval"),
                                   (self.data.video_input, VIDEO_INPUTS, "--video-input"),
                                   (self.data.residency, RESIDENCIES, "--residency"),
                                   (self.data.shuffle, SHUFFLES, "--shuffle"),
                                   *((s.optimizer, OPTIMIZERS, "--optimizer") for s in (self.teacher, self.student)),
                                   *((s.schedule, SCHEDULES, "--schedule") for s in (self.teacher, self.student))):
            check_registered(value, names, flag)
        if self.distill_unlabelled and self.kd == KD_NONE:
            raise OptionsError("--distill-unlabelled needs a teacher: it cannot go with --kd none")
        spec.check_protocol(self.data.protocol or spec.default_protocol)
        for name in (*self.modalities, *([self.student_modality] if self.student_modality else [])):
            check_registered(name, tuple(spec.sensors), f"sensor modality of {spec.name}")
        if self.data.max_memory is not None:
            try:
                parse_size(self.data.max_memory)
            except ValueError as error:
                raise OptionsError(f"--max-memory: {error}") from None
        for stage in (self.teacher, self.student):
            stage.validate()
        _check_range(self.data.stream_rate is None or self.data.stream_rate > 0, "--stream-rate must be positive",
                     self.data.stream_rate)
        _check_range(0.0 <= self.data.stream_rotation <= 180.0, "--stream-rotation must lie in [0, 180] degrees",
                     self.data.stream_rotation)
        _check_range(0.0 <= self.data.val_fraction < 1.0, "--val-fraction must lie in [0, 1)", self.data.val_fraction)


def _check_range(holds: bool, rule: str, value: Any) -> None:
    if not holds:
        raise OptionsError(f"{rule}, got {value}")


def check_registered(value: str, names: tuple[str, ...], flag: str) -> None:
    if value not in names:
        raise OptionsError(f"{flag} must be one of {', '.join(names)}, got {value!r}")


OPTIM_FIELDS = {f.name for f in dataclasses.fields(OptimOptions)}
DATA_FIELDS = {f.name for f in dataclasses.fields(DataOptions)}
RUN_FIELDS = {f.name for f in dataclasses.fields(RunOptions)} - {"teacher", "student", "data"}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _from_plain(cls, raw: dict[str, Any]):
    """Build dataclass `cls` from plain values: lists back to tuples, path fields back to Path, and a
    StoreLocation field through store_location (a URL stays a string: Path would fold its `//`)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        kind = str(f.type)
        if isinstance(value, list) and "tuple" in kind:
            value = tuple(value)
        elif isinstance(value, str) and "StoreLocation" in kind:
            value = store_location(value)
        elif isinstance(value, str) and "Path" in kind:
            value = Path(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def parse_settings(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """('backbone=resnet18', 'modalities=[acc, gyro]') -> {'backbone': 'resnet18', 'modalities': ('acc', 'gyro')}:
    `--set` of study and demo, YAML values ('3e-4', which YAML 1.1 reads as a string, a number)."""
    import yaml

    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptionsError(f"--set: expected KEY=VALUE, got {item!r}")
        loaded = yaml.safe_load(value)
        parsed[key.strip().replace("-", "_")] = tuple(loaded) if isinstance(loaded, list) else _number(loaded)
    return parsed


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'kd1:alpha=1,gamma=0' -> ('kd1', {'alpha': 1.0, 'gamma': 0.0}); commas inside [...] stay in a value."""
    name, sep, settings = text.partition(":")
    if not sep or not name.strip() or not settings.strip():
        raise OptionsError(f"--variant: expected NAME:KEY=VALUE[,KEY=VALUE...], got {text!r}")
    return name.strip(), parse_settings(tuple(re.split(r",(?![^\[]*\])", settings)))


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
