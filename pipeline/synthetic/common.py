"""Pieces shared by the layout writers: seeded randomness, subject styles, take timing, the summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .motion import LAYOUT_MOTIONS, Body, MotionSpec, TakeParams

LAYOUT_IDS = {"utd-mhad": 1, "berkeley-mhad": 2, "mmact": 3}
DEFAULT_CLASSES = {
    "utd-mhad": (0, 2, 3, 8, 15, 21),  # swipe left, wave, clap, circle cw, arm curl, jogging
    "berkeley-mhad": (0, 1, 3, 5, 6, 9),  # jumping, jumping jacks, punching, wave one hand, clap, sit down
    "mmact": (3, 5, 10, 11, 21, 34),  # checking time, crouching, jumping, kicking, running, waving hand
}


@dataclass
class SynthSummary:
    """root: the tree written; n_takes: takes with any file; n_clips: video files or frame folders."""

    root: Path
    n_takes: int = 0
    n_clips: int = 0
    quirks: list[str] = field(default_factory=list)


def rng_for(seed: int, layout: str, *keys: int) -> np.random.Generator:
    """A generator that depends only on (seed, layout, keys): one take never shifts another's draws."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), LAYOUT_IDS[layout], *map(int, keys)]))


@dataclass(frozen=True)
class SubjectStyle:
    """Per-subject body size, tempo, amplitude and the seed of its background and clothes."""

    body: Body
    speed: float
    amplitude: float
    look_seed: int


def subject_style(seed: int, layout: str, subject: int) -> SubjectStyle:
    rng = rng_for(seed, layout, 0, subject)
    return SubjectStyle(
        body=Body(scale=float(rng.uniform(0.9, 1.1))),
        speed=float(rng.uniform(0.8, 1.25)),
        amplitude=float(rng.uniform(0.85, 1.15)),
        look_seed=int(rng.integers(2**31)),
    )


def take_params(style: SubjectStyle, spec: MotionSpec, rng: np.random.Generator) -> TakeParams:
    """Subject tempo and amplitude with per-take jitter; rest before and after the active window."""
    speed = style.speed * float(rng.normal(1.0, 0.06))
    lead = float(rng.uniform(0.35, 0.7))
    active = spec.active_s / speed * float(rng.normal(1.0, 0.08))
    trail = float(rng.uniform(0.3, 0.6))
    return TakeParams(start=lead, active=active, duration=lead + active + trail, speed=speed,
                      amplitude=style.amplitude * float(rng.normal(1.0, 0.06)), phase=float(rng.uniform(0, 0.1)))


def resolve_classes(layout: str, classes: Sequence[int] | None) -> list[int]:
    """Label indices to write (None = the layout's default subset), validated against the layout."""
    if layout not in LAYOUT_IDS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUT_IDS)}")
    chosen = list(DEFAULT_CLASSES[layout] if classes is None else classes)
    count = len(LAYOUT_MOTIONS[layout])
    bad = [c for c in chosen if not 0 <= int(c) < count]
    if bad or not chosen:
        raise ValueError(f"classes for {layout} must be label indices in 0..{count - 1}, got {chosen}")
    return sorted({int(c) for c in chosen})


def check_counts(subjects: int, takes: int, max_subjects: int, max_takes: int, layout: str) -> None:
    if not 1 <= subjects <= max_subjects:
        raise ValueError(f"{layout}: subjects must be in 1..{max_subjects}, got {subjects}")
    if not 1 <= takes <= max_takes:
        raise ValueError(f"{layout}: takes must be in 1..{max_takes}, got {takes}")


def add_noise(values: np.ndarray, rng: np.random.Generator, sigma: float, bias: float) -> np.ndarray:
    """values + a constant per-axis bias ~ N(0, bias) + white noise ~ N(0, sigma)."""
    return values + rng.normal(0, bias, size=(1, values.shape[1])) + rng.normal(0, sigma, size=values.shape)
