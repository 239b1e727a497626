"""pipeline.gaf against pyts' GramianAngularField (the oracle) and hand-checkable cases."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.gaf import LOG_SCALE_EPS, gaf_images, interpolate, scaled_series

METHODS = ("summation", "difference")


def random_series(batch: int, length: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Random walks with a different offset and scale per axis, (batch, length, channels) float64."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(size=(batch, length, channels)), axis=1)
    return walk * rng.uniform(0.01, 50.0, size=channels) + rng.uniform(-100, 100, size=channels)


def pyts_gaf(pyts_image, series: np.ndarray, size: int, method: str) -> np.ndarray:
    """pyts per axis, stacked to (B, C, size, size)."""
    field = pyts_image.GramianAngularField(image_size=size, method=method, sample_range=(-1, 1))
    return np.stack([field.transform(series[:, :, c]) for c in range(series.shape[2])], axis=1)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("length,size", [(200, 64), (256, 64), (100, 32), (97, 16), (64, 64), (32, 32), (16, 16)])
def test_matches_pyts_when_length_at_least_size(pyts_image, method, length, size):
    series = random_series(4, length, seed=length + size)
    ours = gaf_images(series, size, method)
    assert ours.shape == (4, 3, size, size) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, pyts_gaf(pyts_image, series, size, method), atol=1e-4, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_shorter_series_is_interpolated_then_exact(pyts_image, method):
    series = random_series(3, 20, seed=7)
    ours = gaf_images(series, 48, method)
    position = np.linspace(0, 19, 48)
    stretched = np.stack(
        [np.stack([np.interp(position, np.arange(20), s[:, c]) for c in range(3)], axis=1) for s in series]
    )
    np.testing.assert_allclose(ours, pyts_gaf(pyts_image, stretched, 48, method), atol=1e-4, rtol=0)


def test_interpolation_keeps_end_points_and_is_linear():
    x = np.array([[0.0, 10.0, 4.0]])
    np.testing.assert_allclose(interpolate(x, 5), [[0.0, 5.0, 10.0, 7.0, 4.0]])
    np.testing.assert_allclose(interpolate(np.array([[3.0]]), 4), [[3.0, 3.0, 3.0, 3.0]])


@pytest.mark.parametrize("length", [10, 64, 300])
def test_constant_axis_gives_what_pyts_gives(pyts_image, length):
    series = random_series(2, length, seed=3)
    series[:, :, 1] = 9.81
    gasf = gaf_images(series, 32, "summation")
    gadf = gaf_images(series, 32, "difference")
    assert np.all(np.isfinite(gasf)) and np.all(np.isfinite(gadf))
    np.testing.assert_array_equal(gasf[:, 1], 1.0)
    np.testing.assert_array_equal(gadf[:, 1], 0.0)
    if length >= 32:
        np.testing.assert_allclose(gasf, pyts_gaf(pyts_image, series, 32, "summation"), atol=1e-4, rtol=0)


def test_hand_computed_two_point_series():
    # x~ = (-1, 1): phi = (pi, 0); GASF = cos(phi_i + phi_j), GADF = sin(phi_i - phi_j)
    series = np.array([[[2.0], [6.0]]])
    np.testing.assert_allclose(gaf_images(series, 2, "summation")[0, 0], [[1, -1], [-1, 1]], atol=1e-6)
    np.testing.assert_allclose(gaf_images(series, 2, "difference")[0, 0], [[0, 0], [0, 0]], atol=1e-6)
    # x~ = (-1, 0, 1): phi = (pi, pi/2, 0)
    series = np.array([[[0.0], [1.0], [2.0]]])
    phi = np.array([np.pi, np.pi / 2, 0.0])
    np.testing.assert_allclose(
        gaf_images(series, 3, "difference")[0, 0], np.sin(phi[:, None] - phi[None, :]), atol=1e-6
    )


def test_range_scaling_equals_minmax_when_the_series_spans_the_range():
    rng = np.random.default_rng(5)
    ranges = np.array([[-2.0, 2.0], [0.0, 360.0], [-90.0, 90.0]])
    series = rng.uniform(ranges[:, 0], ranges[:, 1], size=(3, 40, 3))
    series[:, 0, :] = ranges[:, 0]
    series[:, 1, :] = ranges[:, 1]
    for method in METHODS:
        np.testing.assert_allclose(
            gaf_images(series, 40, method, "range", ranges), gaf_images(series, 40, method), atol=1e-5
        )


def test_range_scaling_clips_and_maps_linearly():
    ranges = [[-1.0, 1.0]]
    series = np.array([[[-5.0], [0.0], [0.5], [7.0]]])
    np.testing.assert_allclose(scaled_series(series, 4, "range", ranges)[0, 0], [-1.0, 0.0, 0.5, 1.0])
    # clipping happens on the raw samples, before the segment means
    series = np.array([[[-5.0], [1.0], [0.0], [0.5]]])
    np.testing.assert_allclose(scaled_series(series, 2, "range", ranges)[0, 0], [0.0, 0.25])
    wide = gaf_images(np.array([[[0.0], [0.5], [100.0]]]), 3, "summation", "range", ranges)
    clipped = gaf_images(np.array([[[0.0], [0.5], [1.0]]]), 3, "summation", "range", ranges)
    np.testing.assert_array_equal(wide, clipped)


def test_range_scaling_does_not_depend_on_the_batch_extremes():
    ranges = [[-10.0, 10.0]]
    quiet = np.linspace(-1.0, 1.0, 32)[None, :, None]
    gasf = gaf_images(quiet, 32, "summation", "range", ranges)[0, 0]
    x = np.linspace(-0.1, 0.1, 32)
    np.testing.assert_allclose(gasf, np.outer(x, x) - np.outer(np.sqrt(1 - x**2), np.sqrt(1 - x**2)), atol=1e-6)


def test_log_scaling_is_the_motion_about_the_mean_on_a_log_scale():
    ranges = [[-2.0, 2.0], [-2.0, 2.0], [-4.0, 4.0]]
    series = random_series(2, 48, seed=5) * 1e-3
    u = np.clip(series, [-2.0, -2.0, -4.0], [2.0, 2.0, 4.0]) / [2.0, 2.0, 4.0]
    u = u.reshape(2, 16, 3, 3).mean(axis=2).transpose(0, 2, 1)  # PAA of 48 samples onto 16
    d = u - u.mean(axis=-1, keepdims=True)
    z = np.sign(d) * np.log(1 + np.abs(d) / LOG_SCALE_EPS) / np.log(1 + 2 / LOG_SCALE_EPS)
    np.testing.assert_allclose(scaled_series(series, 16, "log", ranges), (1 + z) / 2, rtol=1e-9, atol=1e-12)
    extreme = scaled_series(np.array([[[-9.0]] * 99 + [[9.0]]]), 100, "log", [[-1.0, 1.0]])  # clipped: |d| -> 2
    assert 0.0 <= extreme.min() and extreme.max() <= 1.0 and extreme.max() > 0.99


def test_log_scaling_spreads_a_weak_sites_motion_over_the_angles():
    """0.015 g of motion over gravity on a +-2 g sensor: a sliver of the range, 10x more of the log scale,
    and of the images' contrast (GASF: centred at x~ = 1/2, not at 0 where it is flat to first order)."""
    t = np.linspace(0.0, 4 * np.pi, 64)
    ankle = (1.0 + 0.015 * np.sin(t))[None, :, None]
    linear = scaled_series(ankle, 64, "range", [[-2.0, 2.0]])[0, 0]
    logged = scaled_series(ankle, 64, "log", [[-2.0, 2.0]])[0, 0]
    assert np.ptp(linear) < 0.02 and np.ptp(logged) > 10 * np.ptp(linear)
    assert np.array_equal(np.argsort(linear, kind="stable"), np.argsort(logged, kind="stable"))
    for method in METHODS:
        contrast = {s: np.ptp(gaf_images(ankle, 64, method, s, [[-2.0, 2.0]])[0, 0]) for s in ("range", "log")}
        assert contrast["log"] > 10 * contrast["range"]


def test_input_dtypes_and_batch_independence():
    series = random_series(5, 70, seed=11)
    whole = gaf_images(series, 16)
    np.testing.assert_array_equal(gaf_images(series[2:3], 16), whole[2:3])
    np.testing.assert_allclose(gaf_images(series.astype(np.float32), 16), whole, atol=1e-4)
    integers = np.arange(60).reshape(1, 20, 3) % 7
    assert gaf_images(integers, 8).dtype == np.float32


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"series": np.zeros((4, 10))}, "shape"),
        ({"series": np.zeros((1, 0, 3))}, "no samples"),
        ({"series": np.full((1, 10, 3), np.nan)}, "NaN"),
        ({"method": "sum"}, "method"),
        ({"scaling": "zscore"}, "scaling"),
        ({"scaling": "range"}, "axis_ranges"),
        ({"scaling": "log"}, "axis_ranges"),
        ({"scaling": "range", "axis_ranges": [[0, 1]] * 2}, "shape"),
        ({"scaling": "range", "axis_ranges": [[1, 1]] * 3}, "low < high"),
        ({"size": 0}, "size"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    arguments = {"series": np.ones((1, 10, 3)), "size": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        gaf_images(**arguments)


@pytest.mark.parametrize("method", METHODS)
def test_threads_split_the_batch_without_changing_a_value(method):
    series = random_series(150, 90, seed=3)  # blocks of 50 series on 3 threads
    one = gaf_images(series, 32, method, threads=1)
    np.testing.assert_array_equal(gaf_images(series, 32, method, threads=3), one)
    np.testing.assert_array_equal(gaf_images(series[100:], 32, method), one[100:])
    broken = series.copy()
    broken[120, 5, 1] = np.nan  # in the last block, so a worker thread meets it
    with pytest.raises(ValueError, match="NaN"):
        gaf_images(broken, 32, method, threads=3)
