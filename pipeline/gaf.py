"""Gramian Angular Fields of multi-axis sensor series, batched (pyts-compatible).

Each axis of a series is brought to `size` samples (non-overlapping piecewise aggregate
approximation when longer, linear interpolation when shorter), scaled to x~ in [-1, 1], and
turned into phi = arccos(x~); then

    GASF_ij = cos(phi_i + phi_j) = x~_i x~_j - sqrt(1 - x~_i^2) sqrt(1 - x~_j^2)
    GADF_ij = sin(phi_i - phi_j) = sqrt(1 - x~_i^2) x~_j - x~_i sqrt(1 - x~_j^2)

computed as one batched rank-2 matrix product per image (float32), without evaluating arccos.
The batch is cut into one contiguous block of series per thread; each thread scales its block and
multiplies its images into its slice of the output (numpy releases the GIL in both), so `threads`
cores share the work and the page faults of the fresh output.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

METHODS = ("summation", "difference")
SCALINGS = ("minmax", "range", "log")
RANGED_SCALINGS = ("range", "log")  # the scalings that read each axis's fixed (low, high) range
# "log" scaling's eps, in units of half the axis range (0.005 g for a +-2 g sensor); the raw-signal
# encoder's LogDynamics (training.models.raw1d) uses the same value on its grid
LOG_SCALE_EPS = 0.0025
MIN_BLOCK_IMAGES = 64  # fewer images than this per thread: computed in the calling thread

# sklearn's MinMaxScaler (used by pyts) treats a data range below this as zero: the series is
# then mapped to the lower bound -1, so a constant axis gives GASF = 1 and GADF = 0.
_ZERO_RANGE = 10 * np.finfo(np.float64).eps


def segment_bounds(length: int, size: int) -> np.ndarray:
    """Bounds (size + 1,) of the non-overlapping PAA windows, as pyts computes them."""
    return np.linspace(0, length, size + 1).astype(np.int64)


def paa(x: np.ndarray, size: int) -> np.ndarray:
    """Piecewise aggregate approximation along the last axis: (..., L) -> (..., size), L >= size."""
    length = x.shape[-1]
    if length == size:
        return x
    bounds = segment_bounds(length, size)
    means = np.add.reduceat(x, bounds[:-1], axis=-1)
    means *= 1.0 / np.diff(bounds)
    return means


def interpolate(x: np.ndarray, size: int) -> np.ndarray:
    """Linear interpolation along the last axis onto `size` evenly spaced points: (..., L) -> (..., size)."""
    length = x.shape[-1]
    if length == 1:
        return np.repeat(x, size, axis=-1)
    position = np.linspace(0.0, length - 1, size)
    left = np.minimum(position.astype(np.int64), length - 2)
    weight = position - left
    start = x[..., left]
    return start + (x[..., left + 1] - start) * weight


def _minmax_scale(x: np.ndarray) -> np.ndarray:
    """In place, per row of the last axis to [-1, 1]; a (near-)constant row maps to -1 like sklearn."""
    low = x.min(axis=-1, keepdims=True)
    span = x.max(axis=-1, keepdims=True) - low
    constant = span < _ZERO_RANGE
    x -= low
    x *= 2.0 / np.where(constant, 1.0, span)
    x -= 1.0
    if constant.any():
        x[np.broadcast_to(constant, x.shape)] = -1.0
    return x


def _check_ranges(axis_ranges, channels: int) -> np.ndarray:
    if axis_ranges is None:
        raise ValueError("gaf_images: scaling='range' needs axis_ranges, one (low, high) pair per axis")
    ranges = np.asarray(axis_ranges, dtype=np.float64)
    if ranges.shape != (channels, 2):
        raise ValueError(f"gaf_images: axis_ranges must have shape ({channels}, 2), got {ranges.shape}")
    if not np.all(ranges[:, 1] > ranges[:, 0]):
        raise ValueError(f"gaf_images: every axis range needs low < high, got {ranges.tolist()}")
    return ranges


def scaled_series(
    series: np.ndarray,
    size: int,
    scaling: str = "minmax",
    axis_ranges: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> np.ndarray:
    """x~ in [-1, 1], shape (B, C, size) float64, from series (B, L, C).

    minmax: PAA (or interpolation) first, then per series and axis to [-1, 1] (as pyts).
    range:  clip each axis to its fixed [low, high], PAA (or interpolation), map to u in [-1, 1].
    log:    u as for range, then the motion about the series' mean on a log scale, onto [0, 1],

                d = u - mean(u),   z = sign(d) log(1 + |d| / eps) / log(1 + 2 / eps),   x~ = (1 + z) / 2

            (|d| <= 2, so z in [-1, 1]; eps = LOG_SCALE_EPS). Why: a fixed range keeps amplitudes comparable
            across takes but puts a weak site's motion in a sliver of it (Berkeley's ankles: 0.015 g of std
            for clapping against a +-2 g range, so phi hardly moves and the image is nearly flat); the log
            spreads 0.005-2 g over the angles and keeps sign and order. The mean (gravity, posture) is
            dropped: what is left is the motion, as LogDynamics gives the raw-signal encoder. [0, 1] (the
            GAF paper's other interval), not [-1, 1]: at x~ = 0 GASF = cos(phi_i + phi_j) is flat to first
            order (phi_i + phi_j = pi), so motion centred there would reach the image only quadratically;
            centred at x~ = 1/2 it moves phi about pi/3 to first order.
    """
    series = np.asarray(series)
    if series.ndim != 3:
        raise ValueError(f"gaf_images: series must have shape (B, L, C), got {series.shape}")
    if series.shape[1] < 1:
        raise ValueError("gaf_images: series has no samples (L = 0)")
    if not np.issubdtype(series.dtype, np.number) or np.issubdtype(series.dtype, np.complexfloating):
        raise ValueError(f"gaf_images: series must be real numbers, got dtype {series.dtype}")
    if not np.isfinite(series).all():
        raise ValueError("gaf_images: series contains NaN or infinite values; clean the streams first")
    if scaling not in SCALINGS:
        raise ValueError(f"gaf_images: scaling must be one of {SCALINGS}, got {scaling!r}")
    batch, length, channels = series.shape
    x = np.empty((batch, channels, length), dtype=np.float64)
    x[...] = series.transpose(0, 2, 1)

    if scaling in RANGED_SCALINGS:
        ranges = _check_ranges(axis_ranges, channels)
        low, high = ranges[:, 0, None], ranges[:, 1, None]
        np.clip(x, low, high, out=x)

    x = paa(x, size) if length >= size else interpolate(x, size)

    if scaling in RANGED_SCALINGS:
        x = 2.0 * (x - low) / (high - low) - 1.0
        np.clip(x, -1.0, 1.0, out=x)
        return _log_motion(x) if scaling == "log" else x
    return _minmax_scale(x)


def _log_motion(u: np.ndarray) -> np.ndarray:
    """In place, per row of the last axis: (1 + sign(d) log(1 + |d| / eps) / log(1 + 2 / eps)) / 2, d = u - mean(u)."""
    u -= u.mean(axis=-1, keepdims=True)
    magnitude = np.log1p(np.abs(u) / LOG_SCALE_EPS)
    magnitude *= 0.5 / np.log1p(2.0 / LOG_SCALE_EPS)
    np.copysign(magnitude, u, out=u)
    u += 0.5
    return u


def gaf_images(
    series: np.ndarray,
    size: int = 64,
    method: str = "summation",
    scaling: str = "minmax",
    axis_ranges: Sequence[Sequence[float]] | np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """GAF image per axis: series (B, L, C) float -> (B, C, size, size) float32.

    method "summation": GASF_ij = cos(phi_i + phi_j); "difference": GADF_ij = sin(phi_i - phi_j),
    with phi = arccos(x~) and x~ from `scaled_series` (scaling "minmax", or "range" or "log" with
    axis_ranges (C, 2)). Equal to pyts GramianAngularField(image_size=size, method=method,
    sample_range=(-1, 1)) per axis when L >= size. `threads` (default: the CPU count) share the
    blocks; 1 computes in the calling thread (inside an already parallel graph).
    """
    if method not in METHODS:
        raise ValueError(f"gaf_images: method must be one of {METHODS}, got {method!r}")
    if isinstance(size, bool) or int(size) != size or size < 1:
        raise ValueError(f"gaf_images: size must be a positive integer, got {size!r}")
    size = int(size)
    series = np.asarray(series)
    scaled_series(series[:1], size, scaling, axis_ranges)  # a bad argument fails here, before any thread runs
    batch, _, channels = series.shape
    out = np.empty((batch, channels, size, size), dtype=np.float32)
    workers = max(1, min(threads or os.cpu_count() or 1, batch * channels // MIN_BLOCK_IMAGES))
    block = max(1, -(-batch // workers))

    def fill(start: int) -> None:
        cos = scaled_series(series[start:start + block], size, scaling, axis_ranges)
        _gaf_block(cos.reshape(-1, size), method, out[start:start + block].reshape(-1, size, size))

    if workers == 1:
        fill(0)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, range(0, batch, block)))
    return out


def _gaf_block(cos: np.ndarray, method: str, out: np.ndarray) -> None:
    """Images of n scaled series cos (n, size) float64 into out (n, size, size) float32."""
    n, size = cos.shape
    sin = cos * cos
    np.subtract(1.0, sin, out=sin)
    np.clip(sin, 0.0, 1.0, out=sin)
    np.sqrt(sin, out=sin)
    # image k = left[k] (size, 2) @ right[k] (2, size): entry ij = left_i . right_j
    left = np.empty((n, size, 2), dtype=np.float32)
    right = np.empty((n, 2, size), dtype=np.float32)
    right[:, 0] = cos
    np.negative(sin, out=right[:, 1])
    if method == "summation":  # cos_i cos_j - sin_i sin_j
        left[:, :, 0], left[:, :, 1] = cos, sin
    else:  # sin_i cos_j - cos_i sin_j
        left[:, :, 0], left[:, :, 1] = sin, cos
    np.matmul(left, right, out=out)
