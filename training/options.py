"""Run options as dataclasses: dataset defaults (datasets.yaml) first, then explicit overrides.

One configuration path: `resolve_options(dataset, mode, **overrides)` starts from the dataset's
Table I defaults (DatasetSpec.teacher / .student / .loss_weights) and applies the overrides a
caller (the CLI, the demo, a test) gives by field name; `RunOptions.to_dict()` is what a run
saves as config.yaml and `RunOptions.from_dict()` reads it back for --resume and evaluate.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import CACHE_DIR, RUNS_DIR, DatasetSpec, StageDefaults, load_dataset
from pipeline.store import store_path
from pipeline.units import parse_size
from training.logs import tensorboard_available
from training.sampler import SHUFFLES

MODES = ("sensor2vision", "vision2sensor", "sensor2sensor")
STAGE_ORDER = ("teachers", "student")  # the two stages of every mode, in training order
STAGES = (*STAGE_ORDER, "all")
CHECKPOINTS = ("best", "last")  # a stage's best.pt (best on validation) and last.pt (training.engine)
KD_NONE = "none"  # --kd none: cross-entropy only, no teacher (the baselines); the others: training.losses.KD_BASELINES
ABLATIONS = {"sensor2vision": ("spamfm", "st", "gsdm", "sp"), "vision2sensor": ("distance", "angle", "semantic"),
             "sensor2sensor": ("spamfm", "kd", "distance", "angle", "semantic")}
OPTIMIZERS = ("sgd", "adam", "adamw")
# Learning-rate schedules, stepped once per epoch (training.engine.make_scheduler): "step" multiplies the
# rate by lr_gamma every lr_step epochs (Table I); "onecycle" warms up to lr over the first 30 % of the
# epochs, then anneals it (cosine) towards lr / 1e4 (a recipe option; no gain measured on real Berkeley dev).
SCHEDULES = ("step", "onecycle")
RESIDENCIES = ("auto", "device", "ram", "stream")  # training.residency
VIDEO_INPUTS = ("rgb", "motion")
# training.fusion, the first of each is the default: the published code's bounded gate or the paper's
# unbounded one; SPAMFM's per-sample descriptor in eval mode from running statistics or the sample's own.
SPAMFM_GATES = ("code", "paper")
SPAMFM_EVAL = ("running", "sample")
STAGE_SIDES = ("teacher", "student")
# How a network reads a sensor: "gaf" images (VGG16-BN teachers, ResNet18 students, as the papers) or
# the "raw" stream on a shared time grid (training.models.raw1d.RawEncoder, for teachers and students).
SENSOR_ENCODERS = ("gaf", "raw")

# (optimiser, weight decay) of each stage in the published code. Table I's teacher rates
# (1e-4, 2e-4) are Adam rates: SAKDN trains its VGG16-BN teachers with Adam (weight decay 1e-5) and
# its TRN student with SGD (momentum 0.9, weight decay 5e-4); VSKD trains its TRN teacher with SGD
# (5e-4) and its ResNet18 student with Adam (1e-5).
STAGE_OPTIMIZERS: dict[tuple[str, str], tuple[str, float]] = {
    ("sensor2vision", "teacher"): ("adam", 1e-5),
    ("sensor2vision", "student"): ("sgd", 5e-4),
    ("vision2sensor", "teacher"): ("sgd", 5e-4),
    ("vision2sensor", "student"): ("adam", 1e-5),
    ("sensor2sensor", "teacher"): ("adam", 1e-5),  # SAKDN's teachers
    ("sensor2sensor", "student"): ("adam", 1e-5),  # a ResNet18 on GAF, as VSKD's student
}
# Dropout before the TRN bottleneck: SAKDN's student 0.8 (TRN's default), VSKD's teacher 0.5 (its paper and code).
TRN_DROPOUT = {"sensor2vision": 0.8, "vision2sensor": 0.5, "sensor2sensor": None}


# Data fields renamed so that each train flag names its field: old name in a saved config -> new name.
RENAMED_DATA_FIELDS = {"frame_size": "crop_size", "workers": "loader_workers"}


class OptionsError(ValueError):
    """An option value that cannot work; the message names the option in one line."""


@dataclass
class OptimOptions:
    """How one stage trains: optimiser, schedule (SCHEDULES: by default the LR is multiplied by
    lr_gamma every lr_step EPOCHS), label smoothing of its cross-entropy terms, and the share of the
    training takes it sees (train_fraction: a seeded, class-stratified subset, nested across
    fractions; training.data.stratified_subset)."""

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

    @classmethod
    def from_defaults(cls, defaults: StageDefaults, mode: str, side: str) -> OptimOptions:
        """Table I's schedule (datasets.yaml) with the optimiser the published code uses for it."""
        optimizer, weight_decay = STAGE_OPTIMIZERS[(mode, side)]
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
    store: Path | None = None  # None: cache/<dataset>.zarr under the working directory
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
    residency: str = "auto"  # where the arrays live: device or host RAM if they fit, else streamed (training.residency)
    max_memory: str | None = None  # the arrays' budget for auto residency, e.g. "2GB"; None: half of what is free
    shuffle: str = "auto"  # training order (training.sampler): rows, chunks; auto: chunks when streaming
    loader_workers: int | None = None  # in memory: batches gathered ahead in a thread; stream: reader processes;
    # None: 1 thread on CUDA, 0 on the CPU (a second thread competes with the step), stream up to 4 processes


@dataclass
class RunOptions:
    """Everything one `train` invocation needs; saved as config.yaml in the run directory."""

    dataset: str
    mode: str
    teacher: OptimOptions
    student: OptimOptions
    alpha: float
    beta: float
    gamma: float
    stage: str = "all"
    name: str | None = None  # run directory name under runs_dir; None: <dataset>-<mode>-s<seed>
    runs_dir: Path = RUNS_DIR
    teachers: Path | None = None  # run directory whose stage-1 weights the student stage reuses
    backbone: str = "bninception"  # TRN backbone (student in sensor2vision, teacher in vision2sensor)
    modalities: tuple[str, ...] = ()  # sensor teachers; empty: every modality of the store
    student_modality: str | None = None  # vision2sensor student input; None: the first modality
    sensor_encoder: str = "gaf"  # SENSOR_ENCODERS: how the sensor teachers and students read a sensor
    kd: str | None = None  # replace the method's distillation terms by a baseline of the LOSSES registry
    kd_weight: float | None = None  # weight of that baseline; None: the registry's default
    distill_unlabelled: bool = False  # a student also distils on the training takes outside its labelled share
    ablate: tuple[str, ...] = ()
    temperature: float = 4.0
    teacher_semantic: float = 1.0  # weight of MSE(fc7, class embedding) in the sensor teachers' loss
    spamfm_gate: str = SPAMFM_GATES[0]  # SPAMFM gate: "code" (bounded, sigmoid relations) or "paper" (unbounded)
    spamfm_eval: str = SPAMFM_EVAL[0]  # SPAMFM descriptor in eval mode: "running" statistics or the "sample"'s own
    spamfm_stages: tuple[str, ...] = ()  # the sensor networks' stages SPAMFM follows (e.g. fc7); empty: every stage
    dropout: float | None = None  # TRN dropout; None: TRN_DROPOUT of the mode
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
    def store_path(self) -> Path:
        return Path(self.data.store) if self.data.store else store_path(CACHE_DIR, self.dataset)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (paths as strings, tuples as lists), for YAML."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunOptions:
        """The inverse of to_dict; a config.yaml written before a data field was renamed reads as well."""
        raw = dict(raw)
        raw["teacher"] = OptimOptions(**raw["teacher"])
        raw["student"] = OptimOptions(**raw["student"])
        data = {RENAMED_DATA_FIELDS.get(key, key): value for key, value in raw["data"].items()}
        raw["data"] = _from_plain(DataOptions, data)
        return _from_plain(cls, raw)

    def validate(self, spec: DatasetSpec) -> None:
        """Raise OptionsError for a value that cannot work with this dataset."""
        if self.mode not in MODES:
            raise OptionsError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.stage not in STAGES:
            raise OptionsError(f"--stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        _check_registered(self.backbone, backbone_names(), "--backbone")
        if self.kd is not None:
            _check_registered(self.kd, kd_names(), "--kd")
        if self.distill_unlabelled and self.kd == KD_NONE:
            raise OptionsError("--distill-unlabelled needs a teacher: it cannot go with --kd none")
        unknown = sorted(set(self.ablate) - set(ABLATIONS[self.mode]))
        if unknown:
            raise OptionsError(
                f"--ablate {','.join(unknown)} does not apply to {self.mode}; choose from {', '.join(ABLATIONS[self.mode])}"
            )
        spec.check_protocol(self.data.protocol or spec.default_protocol)
        for name in (*self.modalities, *([self.student_modality] if self.student_modality else [])):
            if name not in spec.sensors:
                raise OptionsError(
                    f"sensor modality {name!r} is not one of {spec.name}'s: {', '.join(spec.sensors)}"
                )
        if self.sensor_encoder not in SENSOR_ENCODERS:
            raise OptionsError(f"--sensor-encoder must be one of {', '.join(SENSOR_ENCODERS)}, got {self.sensor_encoder!r}")
        if self.spamfm_gate not in SPAMFM_GATES:
            raise OptionsError(f"--spamfm-gate must be one of {', '.join(SPAMFM_GATES)}, got {self.spamfm_gate!r}")
        if self.spamfm_eval not in SPAMFM_EVAL:
            raise OptionsError(f"--spamfm-eval must be one of {', '.join(SPAMFM_EVAL)}, got {self.spamfm_eval!r}")
        if self.data.video_input not in VIDEO_INPUTS:
            raise OptionsError(f"--video-input must be one of {', '.join(VIDEO_INPUTS)}, got {self.data.video_input!r}")
        if self.data.residency not in RESIDENCIES:
            raise OptionsError(f"--residency must be one of {', '.join(RESIDENCIES)}")
        if self.data.shuffle not in SHUFFLES:
            raise OptionsError(f"--shuffle must be one of {', '.join(SHUFFLES)}, got {self.data.shuffle!r}")
        if self.data.max_memory is not None:
            try:
                parse_size(self.data.max_memory)
            except ValueError as error:
                raise OptionsError(f"--max-memory: {error}") from None
        for stage in (self.teacher, self.student):
            if stage.optimizer not in OPTIMIZERS:
                raise OptionsError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {stage.optimizer!r}")
            if stage.epochs < 1 or stage.batch_size < 1 or stage.lr <= 0 or stage.lr_step < 1:
                raise OptionsError(f"epochs, batch size, lr and lr step must be positive, got {stage}")
            _check_registered(stage.schedule, SCHEDULES, "--schedule")
            if not 0.0 <= stage.label_smoothing < 1.0:
                raise OptionsError(f"--label-smoothing must lie in [0, 1), got {stage.label_smoothing}")
            if not 0.0 < stage.train_fraction <= 1.0:
                raise OptionsError(f"--train-fraction must lie in (0, 1], got {stage.train_fraction}")
        if self.data.stream_rate is not None and self.data.stream_rate <= 0:
            raise OptionsError(f"--stream-rate must be positive, got {self.data.stream_rate}")
        if not 0.0 <= self.data.stream_rotation <= 180.0:
            raise OptionsError(f"--stream-rotation must lie in [0, 180] degrees, got {self.data.stream_rotation}")
        if not 0.0 <= self.data.val_fraction < 1.0:
            raise OptionsError(f"--val-fraction must lie in [0, 1), got {self.data.val_fraction}")
        if self.tensorboard and not tensorboard_available():
            raise OptionsError("--tensorboard needs the tensorboard package: pip install 'crossmodal-kd[tensorboard]'")


def backbone_names() -> tuple[str, ...]:
    """The video backbones of the registry (training.models.trn.VIDEO_BACKBONES; imported here, as it needs torch)."""
    from training.models.trn import VIDEO_BACKBONES

    return tuple(VIDEO_BACKBONES)


def kd_names() -> tuple[str, ...]:
    """What --kd can name: the registered baselines (training.losses.KD_BASELINES), and KD_NONE."""
    from training.losses import KD_BASELINES

    return (*KD_BASELINES, KD_NONE)


def _check_registered(value: str, names: tuple[str, ...], flag: str) -> None:
    if value not in names:
        raise OptionsError(f"{flag} must be one of {', '.join(names)}, got {value!r}")


OPTIM_FIELDS = {f.name for f in dataclasses.fields(OptimOptions)}
DATA_FIELDS = {f.name for f in dataclasses.fields(DataOptions)}
RUN_FIELDS = {f.name for f in dataclasses.fields(RunOptions)} - {"teacher", "student", "data"}


def resolve_options(dataset: str, mode: str, preset: str | None = None, base: RunOptions | None = None,
                    **overrides: Any) -> RunOptions:
    """Dataset defaults (or `base`, the options of an earlier run: train --config), then the
    dataset's `preset` (datasets.yaml `presets`), then `overrides` by field name; None values are ignored.

    An OptimOptions field (epochs, lr, ...) applies to both stages; prefix it with `teacher_` or
    `student_` to set one stage only. The prefixed (more specific) value wins over the plain one
    whatever their order. DataOptions fields (protocol, crop_size, ...) go to `data`.
    """
    if mode not in MODES:
        raise OptionsError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    spec = load_dataset(dataset)
    stages, data, run = _starting_point(spec, mode, base)
    if preset is not None and preset not in spec.presets:
        raise OptionsError(f"--preset {preset!r} is not declared for {spec.name} in datasets.yaml "
                           f"(declared: {', '.join(spec.presets) or 'none'})")
    given = {**(spec.presets[preset] if preset else {}),
             **{key: value for key, value in overrides.items() if value is not None}}
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
    return options


def _starting_point(spec: DatasetSpec, mode: str, base: RunOptions | None
                    ) -> tuple[dict[str, OptimOptions], DataOptions, dict[str, Any]]:
    """The stages, data options and run fields that overrides start from: `base` as it was run
    (a fresh start: resume and overwrite off), or the dataset's Table I defaults."""
    if base is None:
        stages = {side: OptimOptions.from_defaults(getattr(spec, side), mode, side) for side in STAGE_SIDES}
        weights = spec.loss_weights
        return stages, DataOptions(), {"alpha": weights["alpha"], "beta": weights["beta"], "gamma": weights["gamma"],
                                       "dropout": TRN_DROPOUT[mode]}
    if (base.dataset, base.mode) != (spec.name, mode):
        raise OptionsError(f"--config trained {base.mode} on {base.dataset}; it cannot start a {mode} run on {spec.name}")
    stages = {side: dataclasses.replace(getattr(base, side)) for side in STAGE_SIDES}
    run = {name: getattr(base, name) for name in RUN_FIELDS - {"dataset", "mode"}}
    return stages, dataclasses.replace(base.data), {**run, "resume": False, "overwrite": False}


def _is_stage_specific(key: str) -> bool:
    """teacher_lr, student_batch_size, ...: an OptimOptions field of one stage."""
    side, _, name = key.partition("_")
    return side in STAGE_SIDES and name in OPTIM_FIELDS


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _from_plain(cls, raw: dict[str, Any]):
    """Build dataclass `cls` from plain values: lists back to tuples, path fields back to Path."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        kind = str(f.type)
        if isinstance(value, list) and "tuple" in kind:
            value = tuple(value)
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
