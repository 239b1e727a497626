"""Sensor stream cleaning and fixed-length resampling; arrays in, arrays out.

clean_stream: sort by time, drop repeated times, fill missing values by linear interpolation in
time, clip to the physical range (removes corrupt spikes). resample_stream: linear interpolation
at `length` evenly spaced times over [t0, tN].
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.records import SensorStream, SourceError


def _check_shapes(stream: SensorStream) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(stream.times, dtype=np.float64)
    values = np.asarray(stream.values, dtype=np.float64)
    if times.ndim != 1 or values.ndim != 2 or values.shape != (times.shape[0], 3):
        raise SourceError(f"stream has times {times.shape} and values {values.shape}; expected (N,) and (N, 3)")
    return times, values


def _check_length(n: int) -> None:
    if n < 2:
        raise SourceError(f"stream has {n} usable sample(s); at least 2 are needed")


def fill_missing(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Replace non-finite values (N, C) by linear interpolation in time per column; an all-missing column -> 0."""
    filled = values.copy()
    for c in range(values.shape[1]):
        finite = np.isfinite(values[:, c])
        if finite.all():
            continue
        if not finite.any():
            filled[:, c] = 0.0
            continue
        filled[~finite, c] = np.interp(times[~finite], times[finite], values[finite, c])
    return filled


def clean_stream(stream: SensorStream, axis_ranges: Sequence[tuple[float, float]] | None) -> SensorStream:
    """Sorted, strictly increasing times (first of repeated times kept, non-finite times dropped),
    non-finite values interpolated, values clipped per axis to axis_ranges (3 (lo, hi) pairs) if given."""
    times, values = _check_shapes(stream)
    keep = np.isfinite(times)
    times, values = times[keep], values[keep]
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    if len(times):
        first = np.concatenate(([True], np.diff(times) > 0))
        times, values = times[first], values[first]
    _check_length(len(times))
    values = fill_missing(times, values)
    if axis_ranges is not None:
        ranges = np.asarray(axis_ranges, dtype=np.float64)
        if ranges.shape != (3, 2):
            raise ValueError(f"axis_ranges must be 3 (lo, hi) pairs, got shape {ranges.shape}")
        values = np.clip(values, ranges[:, 0], ranges[:, 1])
    return SensorStream(times=times, values=values)


def resample_stream(stream: SensorStream, length: int) -> np.ndarray:
    """(length, 3) float32: values linearly interpolated at linspace(t0, tN, length).

    Expects a cleaned stream (strictly increasing times, finite values).
    """
    if length < 1:
        raise ValueError(f"resample length must be >= 1, got {length}")
    times, values = _check_shapes(stream)
    _check_length(len(times))
    relative = times - times[0]
    if not np.all(np.diff(relative) > 0):
        raise SourceError("stream times are not strictly increasing; clean_stream it first")
    targets = np.linspace(0.0, relative[-1], length)
    out = np.empty((length, 3), dtype=np.float32)
    for c in range(3):
        out[:, c] = np.interp(targets, relative, values[:, c])
    return out
