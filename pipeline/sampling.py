"""TSN frame positions: `segments` equal spans of a video, `candidates` evenly spaced frames in each.

The store keeps every candidate; a trainer picks one candidate per segment at random
(`random_candidates`) and evaluation takes the centre one (`centre_candidates`), so training
keeps TSN's temporal jitter while every frame it can see was decoded once, at prepare time. A
multi-view test scores several candidates per segment (`view_candidates`), evenly spread.
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


def view_candidates(view: int, views: int, segments: int, candidates: int) -> np.ndarray:
    """Flat frame slots (segments,) of clip view `view` (0 <= view < views): candidate k of each segment,

        k = floor((view + 0.5) * candidates / views),

    mmaction2's test-mode clip offsets (interval = candidates / views, each view at its interval's
    centre), so the views spread evenly over the stored candidates and one view is the centre
    candidate (candidates // 2, as centre_candidates). Raises ValueError unless 1 <= views <= candidates.
    """
    if not 1 <= views <= candidates:
        raise ValueError(f"{views} clip views need 1 to {candidates} candidates per segment")
    if not 0 <= view < views:
        raise ValueError(f"clip view {view} is not one of 0..{views - 1}")
    k = (2 * view + 1) * candidates // (2 * views)
    return np.arange(segments, dtype=np.int64) * candidates + k


def random_candidates(
    rng: np.random.Generator, batch: int, segments: int, candidates: int
) -> np.ndarray:
    """Flat frame slots (batch, segments): one uniformly drawn candidate per segment and sample."""
    k = rng.integers(0, candidates, size=(batch, segments))
    return np.arange(segments, dtype=np.int64)[None, :] * candidates + k
