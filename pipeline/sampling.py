"""TSN frame positions: `segments` equal spans of a video, `candidates` evenly spaced frames in each.

The store keeps every candidate; a trainer picks one candidate per segment at random
(`random_candidates`) and evaluation takes the centre one (`centre_candidates`), so training
keeps TSN's temporal jitter while every frame it can see was decoded once, at prepare time.
"""
from __future__ import annotations

import numpy as np


def segment_candidate_indices(nframes: int, segments: int, candidates: int) -> np.ndarray:
    """Frame index of candidate k in segment s, shape (segments, candidates) int64.

    Segment s spans frames [s*n/S, (s+1)*n/S); candidate k sits at its (k + 0.5)/K point:
    index = floor((s + (k + 0.5)/K) * n / S). Videos shorter than S*K frames repeat frames.
    """
    if nframes < 1:
        raise ValueError(f"a video needs at least one frame, got nframes={nframes}")
    if segments < 1 or candidates < 1:
        raise ValueError(f"segments and candidates must be >= 1, got {segments}, {candidates}")
    s = np.arange(segments, dtype=np.float64)[:, None]
    k = np.arange(candidates, dtype=np.float64)[None, :]
    position = (s + (k + 0.5) / candidates) * nframes / segments
    return np.clip(np.floor(position).astype(np.int64), 0, nframes - 1)


def centre_candidates(segments: int, candidates: int) -> np.ndarray:
    """Flat frame slots (segments,) of the evaluation frames: candidate candidates//2 of each segment."""
    return np.arange(segments, dtype=np.int64) * candidates + candidates // 2


def random_candidates(
    rng: np.random.Generator, batch: int, segments: int, candidates: int
) -> np.ndarray:
    """Flat frame slots (batch, segments): one uniformly drawn candidate per segment and sample."""
    k = rng.integers(0, candidates, size=(batch, segments))
    return np.arange(segments, dtype=np.int64)[None, :] * candidates + k
