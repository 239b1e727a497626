"""A sensor's cleaned stream as the raw-signal encoder's input: one shared time grid, duration kept.

The store holds each take's stream resampled to L samples over the take's own duration d
(sensors/<m>/signal, sensors/<m>/duration_s), which erases the duration, and duration carries much
of the label (a jump is short, sitting down then standing up is long). `time_grid` puts every
take back on ONE time axis of `seconds` s sampled at `length` points, t_k = k * seconds / length:

    x[c, k] = 2 (s_c(t_k) - lo_c) / (hi_c - lo_c) - 1   for t_k <= d   (s_c linear in the L samples)
    x[c, k] = 0                                           for t_k > d    (padding)
    x[3, k] = 1 for t_k <= d, else 0                                      (the take's extent)

with [lo_c, hi_c] the sensor's fixed physical range of datasets.yaml (the gravity level is kept,
unlike per-take min-max). A take longer than `seconds` is cut at `seconds`.

`augment_streams` (training only), on the device, in this order: a rotation of the sensor frame
(with rotation > 0: about a uniformly random axis by an angle U(-rotation, rotation) degrees, per take;
a worn sensor sits at a slightly different angle on every person, and the hips and ankles lose most
on unseen subjects), per take and axis an amplitude factor U(1 - scale, 1 + scale), and a shift of
the whole take to a random start in [0, shift * length] grid points (the part pushed past the end is
cut). Rotating the scaled axes equals rotating the physical ones because every sensor's range is
symmetric and shared by its axes (datasets.yaml `range`); the padding stays zero.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from torch import Tensor

STREAM_CHANNELS = 4  # three axes + the extent mask


def grid_seconds(durations: np.ndarray) -> float:
    """The grid span for takes of these durations: the longest, rounded up to a whole second."""
    durations = np.asarray(durations, dtype=np.float64)
    return float(max(1.0, np.ceil(durations.max()))) if durations.size else 1.0


def grid_points(seconds: float, rate: float | None, default: int) -> int:
    """Points of a grid of `seconds` s at `rate` points per second (None: `default` points in all)."""
    return default if rate is None else max(16, int(round(seconds * rate)))


def time_grid(signal: np.ndarray, duration_s: np.ndarray, seconds: float, length: int,
              axis_ranges: np.ndarray) -> np.ndarray:
    """signal (N, L, 3) over durations (N,) -> (N, 4, length) float32 on the shared grid (module docstring)."""
    signal = np.asarray(signal, dtype=np.float64)
    count, samples, axes = signal.shape
    ranges = np.asarray(axis_ranges, dtype=np.float64)
    low, high = ranges[:, 0], ranges[:, 1]
    grid = np.arange(length) * (seconds / length)
    out = np.zeros((count, STREAM_CHANNELS, length), dtype=np.float32)
    for n in range(count):
        duration = max(float(duration_s[n]), 1e-6)
        inside = grid <= duration
        own = np.linspace(0.0, duration, samples)
        for c in range(axes):
            values = np.interp(grid[inside], own, signal[n, :, c])
            out[n, c, inside] = 2.0 * (values - low[c]) / (high[c] - low[c]) - 1.0
        out[n, axes, inside] = 1.0
    return out


def random_rotations(generator: np.random.Generator, count: int, degrees: float) -> np.ndarray:
    """(count, 3, 3) rotation matrices: axes uniform on the sphere, angles U(-degrees, degrees)."""
    axes = generator.normal(size=(count, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.deg2rad(generator.uniform(-degrees, degrees, size=(count, 1)))
    return Rotation.from_rotvec(axes * angles).as_matrix()


def augment_streams(streams: Tensor, generator: np.random.Generator, scale: float = 0.1,
                    shift: float = 0.1, rotation: float = 0.0) -> Tensor:
    """(B, 4, T) -> (B, 4, T): random rotation of the axes (rotation > 0, in degrees), amplitude per
    take and axis, forward shift (module docstring)."""
    batch, channels, length = streams.shape
    if rotation > 0:
        matrices = torch.as_tensor(random_rotations(generator, batch, rotation), dtype=streams.dtype,
                                   device=streams.device)
        streams = torch.cat([torch.bmm(matrices, streams[:, :3]), streams[:, 3:]], dim=1)
    factors = np.ones((batch, channels, 1), dtype=np.float32)
    factors[:, :channels - 1] = generator.uniform(1.0 - scale, 1.0 + scale, size=(batch, channels - 1, 1))
    starts = generator.integers(0, int(shift * length) + 1, size=batch)
    device = streams.device
    source = torch.arange(length, device=device)[None, :] - torch.as_tensor(starts, device=device)[:, None]
    valid = (source >= 0).to(streams.dtype)[:, None, :]
    shifted = torch.gather(streams, 2, source.clamp(min=0)[:, None, :].expand(batch, channels, length)) * valid
    return shifted * torch.as_tensor(factors, device=device)
