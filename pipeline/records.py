"""Records a source yields when it scans a raw tree.

A Take is one performance of one action by one subject and owns the sensor streams; a Clip is one
camera's video of a take. Sources fill these; prepare.py and store.py consume them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Take:
    """key: stable id within the dataset (e.g. 'a1_s1_t1'); sensor_files: modality -> file."""

    key: str
    label: int
    subject: int
    trial: int = 0  # UTD trial, Berkeley repetition
    scene: int = 0  # MMAct only
    session: int = 0  # MMAct only
    sensor_files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Clip:
    """video: an encoded file, or a folder of frame images (Berkeley); take_key pairs it with a Take."""

    take_key: str
    camera: int
    video: Path


@dataclass(frozen=True)
class SensorStream:
    """times: (N,) seconds, increasing after cleaning; values: (N, 3) float64 in the sensor's unit;
    warning: one line on what the reader skipped to read the file ("" when it read every line),
    which prepare records on the take."""

    times: np.ndarray
    values: np.ndarray
    warning: str = ""


class SourceError(Exception):
    """A recording that cannot be read; the message names the file and the problem in one line."""
