"""Dataset facts from datasets.yaml, as frozen dataclasses.

`load_dataset(name)` is the one reader of datasets.yaml; an entry with `extends: other` takes
every key of `other` and overrides the ones it names.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.splits import expand_protocols

# The shipped datasets.yaml: in the source tree a link to the top-level file, in an installed copy the file itself.
DATASETS_YAML = Path(__file__).with_name("datasets.yaml")
DATASETS_ENV = "CROSSMODAL_KD_DATASETS"  # a user's datasets.yaml in place of the shipped one
# Where stores, downloads and runs go by default: under the working directory, so an installed copy
# works from any folder. Relative `root`s of datasets.yaml are read from the working directory too.
CACHE_DIR = Path("cache")
RUNS_DIR = Path("runs")


class DatasetsError(ValueError):
    """datasets.yaml cannot be read or an entry lacks or misstates a field; one line naming the file."""


def datasets_file() -> Path:
    """The datasets.yaml in use: $CROSSMODAL_KD_DATASETS when set, else the shipped one."""
    return Path(os.environ.get(DATASETS_ENV) or DATASETS_YAML)


@dataclass(frozen=True)
class SensorSpec:
    """One sensor modality: nominal rate, unit and fixed physical range per axis, shape (3, 2)."""

    name: str
    rate_hz: float
    unit: str
    range: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class VideoSpec:
    segments: int
    candidates: int
    frame_size: tuple[int, int]  # (H, W) of stored frames


@dataclass(frozen=True)
class StageDefaults:
    batch: int
    lr: float
    lr_step: int
    lr_gamma: float
    epochs: int


# The distillation terms a loss weight names, one meaning in every mode: the soft target (SAKDN's ST, VSKD's
# KD_T), GSDM, VSKD's RKD distance and angle terms, and the semantic term (SAKDN's SP, VSKD's L_S).
LOSS_TERMS = ("st", "gsdm", "distance", "angle", "semantic")
# The papers' Table I names three weights; each stands for these terms in every mode.
TABLE_I_WEIGHTS = {"alpha": ("st",), "beta": ("gsdm", "distance", "angle"), "gamma": ("semantic",)}


def named_weights(given: Mapping[str, float], start: Mapping[str, float] | None = None) -> dict[str, float]:
    """Loss weights by term name: `start` with `given` on top, where `given` names terms (LOSS_TERMS) or
    Table I's aliases (TABLE_I_WEIGHTS: `beta` sets gsdm, distance and angle); a term named beside its
    alias wins. ValueError for a name that is neither."""
    unknown = sorted(set(given) - set(LOSS_TERMS) - set(TABLE_I_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown loss weight {', '.join(unknown)}; name one of {', '.join(LOSS_TERMS)} "
                         f"(or Table I's {', '.join(TABLE_I_WEIGHTS)})")
    weights = dict(start or {})
    for alias, terms in TABLE_I_WEIGHTS.items():
        if alias in given:
            weights.update(dict.fromkeys(terms, float(given[alias])))
    weights.update({term: float(value) for term, value in given.items() if term in LOSS_TERMS})
    return weights


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    layout: str
    root: Path
    classes: tuple[str, ...]
    aliases: dict[str, list[str]]
    sensors: dict[str, SensorSpec]
    signal_length: int
    video: VideoSpec
    protocols: dict[str, dict[str, dict[str, list]]]  # concrete ones: a family's folds, not the family
    default_protocol: str
    teacher: StageDefaults
    student: StageDefaults
    loss_weights: dict[str, float]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> run options (training.options)
    protocol_families: dict[str, tuple[str, ...]] = field(default_factory=dict)  # e.g. loso -> (loso-1, ...)
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.sensors)

    def protocol_folds(self, name: str) -> tuple[str, ...]:
        """The concrete protocols `name` stands for: a family's folds (loso -> loso-1, ...) or itself."""
        if name in self.protocol_families:
            return self.protocol_families[name]
        if name in self.protocols:
            return (name,)
        raise DatasetsError(f"protocol {name!r} is not declared for {self.name} in datasets.yaml "
                            f"(declared: {', '.join([*self.protocols, *self.protocol_families])})")

    def check_protocol(self, name: str) -> None:
        """DatasetsError unless `name` is one concrete protocol (a family's folds are trained one by one)."""
        folds = self.protocol_folds(name)
        if folds != (name,):
            raise DatasetsError(f"protocol {name!r} of {self.name} is a family of {len(folds)} folds ({folds[0]} ... "
                                f"{folds[-1]}): train one fold, or run them all with study or bench/real_sensors.py")


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@lru_cache(maxsize=None)
def _read_yaml(path: str) -> dict:
    try:
        with open(path) as f:
            entries = yaml.safe_load(f)
    except OSError as error:
        raise DatasetsError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DatasetsError(f"{path}: not valid YAML{where} ({getattr(error, 'problem', None) or error})") from None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        raise DatasetsError(f"{path}: must map each dataset name to its fields")
    return entries


def dataset_names(path: Path | None = None) -> list[str]:
    return list(_read_yaml(str(path or datasets_file())))


def _resolve_entry(entries: dict, name: str, seen: tuple[str, ...] = ()) -> dict:
    if name not in entries:
        raise KeyError(f"unknown dataset {name!r}; datasets.yaml declares: {', '.join(entries)}")
    if name in seen:
        raise ValueError(f"datasets.yaml: 'extends' cycle through {name!r}")
    entry = dict(entries[name])
    parent = entry.pop("extends", None)
    if parent is None:
        return entry
    return _deep_merge(_resolve_entry(entries, parent, seen + (name,)), entry)


def _axis_ranges(value) -> tuple[tuple[float, float], ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ((-float(value), float(value)),) * 3
    try:
        pairs = tuple((float(lo), float(hi)) for lo, hi in value)
    except (TypeError, ValueError):
        pairs = ()
    if len(pairs) != 3:
        raise ValueError(f"a sensor range is a number or one [lo, hi] pair per axis (3), got {value!r}")
    return pairs


def load_dataset(name: str, path: Path | None = None) -> DatasetSpec:
    """The resolved entry `name` of datasets.yaml (datasets_file()); the root comes from `root_env` when set."""
    path = path or datasets_file()
    entry = _resolve_entry(_read_yaml(str(path)), name)
    try:
        return _spec(name, entry)
    except KeyError as error:
        raise DatasetsError(f"{path}: dataset {name!r} lacks the field {error.args[0]!r}") from None
    except (TypeError, ValueError) as error:
        raise DatasetsError(f"{path}: dataset {name!r}: {error}") from None


def _loss_weights(name: str, given: Mapping[str, float]) -> dict[str, float]:
    """An entry's `train.loss_weights` by term name (term names or Table I's alpha / beta / gamma), every
    term of LOSS_TERMS given."""
    try:
        weights = named_weights(given)
    except ValueError as error:
        raise DatasetsError(f"{name}: train.loss_weights: {error}") from None
    missing = [t for t in LOSS_TERMS if t not in weights]
    if missing:
        raise DatasetsError(f"{name}: train.loss_weights lacks {', '.join(missing)}")
    return weights


def _spec(name: str, entry: dict) -> DatasetSpec:
    root = os.environ.get(entry.get("root_env", ""), "") or entry["root"]
    root_path = Path(root).absolute()
    video = entry["video"]
    train = entry["train"]
    protocols, families = expand_protocols(entry["protocols"])
    return DatasetSpec(
        name=name,
        layout=entry["layout"],
        root=root_path,
        classes=tuple(entry["classes"]),
        aliases=dict(entry.get("aliases") or {}),
        sensors={
            mod: SensorSpec(mod, float(s["rate_hz"]), s["unit"], _axis_ranges(s["range"]))
            for mod, s in entry["sensors"].items()
        },
        signal_length=int(entry["signal_length"]),
        video=VideoSpec(int(video["segments"]), int(video["candidates"]), tuple(video["frame_size"])),
        protocols=protocols,
        default_protocol=entry["default_protocol"],
        teacher=StageDefaults(**train["teacher"]),
        student=StageDefaults(**train["student"]),
        loss_weights=_loss_weights(name, train["loss_weights"]),
        presets={name: dict(values) for name, values in (entry.get("presets") or {}).items()},
        protocol_families=families,
        raw=entry,
    )
