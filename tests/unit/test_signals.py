"""clean_stream / resample_stream on small hand-made streams."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.records import SensorStream, SourceError
from pipeline.signals import clean_stream, fill_missing, resample_stream


def stream(times, values) -> SensorStream:
    return SensorStream(times=np.asarray(times, dtype=np.float64), values=np.asarray(values, dtype=np.float64))


def test_clean_sorts_by_time_and_keeps_rows_together():
    raw = stream([2.0, 0.0, 1.0], [[20, 21, 22], [0, 1, 2], [10, 11, 12]])
    cleaned = clean_stream(raw, None)
    np.testing.assert_array_equal(cleaned.times, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(cleaned.values, [[0, 1, 2], [10, 11, 12], [20, 21, 22]])


def test_clean_drops_repeated_times_keeping_the_first_in_file_order():
    raw = stream([0.0, 1.0, 1.0, 0.5, 1.0], [[0] * 3, [1] * 3, [9] * 3, [5] * 3, [8] * 3])
    cleaned = clean_stream(raw, None)
    np.testing.assert_array_equal(cleaned.times, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(cleaned.values[:, 0], [0, 5, 1])
    assert np.all(np.diff(cleaned.times) > 0)


def test_clean_interpolates_missing_values_in_time_and_zeroes_an_all_missing_axis():
    times = [0.0, 1.0, 3.0, 4.0]
    values = [[0.0, np.nan, 1.0], [np.nan, np.nan, 2.0], [6.0, np.nan, np.inf], [8.0, np.nan, np.nan]]
    cleaned = clean_stream(stream(times, values), None)
    # axis 0: 0 at t=0, 6 at t=3 -> 2 at t=1; axis 2: edge values are held (np.interp).
    np.testing.assert_allclose(cleaned.values[:, 0], [0.0, 2.0, 6.0, 8.0])
    np.testing.assert_array_equal(cleaned.values[:, 1], [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(cleaned.values[:, 2], [1.0, 2.0, 2.0, 2.0])
    assert np.isfinite(cleaned.values).all()


def test_fill_missing_leaves_finite_values_untouched():
    values = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
    filled = fill_missing(np.array([0.0, 1.0, 2.0]), values)
    np.testing.assert_array_equal(filled, [[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    assert np.isnan(values[1, 0])  # the input is not modified


def test_clean_clips_each_axis_to_its_range():
    raw = stream([0.0, 1.0, 2.0], [[60.0, -3.0, 0.5], [-2.5, 1.0, 400.0], [1.0, 1.0, -400.0]])
    cleaned = clean_stream(raw, [(-2.0, 2.0), (-2.0, 2.0), (0.0, 360.0)])
    np.testing.assert_array_equal(cleaned.values, [[2.0, -2.0, 0.5], [-2.0, 1.0, 360.0], [1.0, 1.0, 0.0]])


def test_clean_rejects_a_badly_shaped_range():
    with pytest.raises(ValueError, match="3 \\(lo, hi\\) pairs"):
        clean_stream(stream([0.0, 1.0], np.zeros((2, 3))), [(-1.0, 1.0)])


def test_clean_drops_non_finite_times():
    cleaned = clean_stream(stream([0.0, np.nan, 2.0], [[0] * 3, [7] * 3, [2] * 3]), None)
    np.testing.assert_array_equal(cleaned.times, [0.0, 2.0])


def test_resample_of_a_linear_ramp_is_exact_on_irregular_times():
    rng = np.random.default_rng(0)
    times = 1.3e9 + np.sort(rng.uniform(0.0, 5.0, 40))
    times[0], times[-1] = 1.3e9, 1.3e9 + 5.0
    slopes, offsets = np.array([2.0, -1.0, 0.5]), np.array([1.0, 3.0, -2.0])
    values = offsets + np.outer(times - times[0], slopes)
    out = resample_stream(stream(times, values), 11)
    assert out.shape == (11, 3) and out.dtype == np.float32
    expected = offsets + np.outer(np.linspace(0.0, 5.0, 11), slopes)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_resample_hits_the_first_and_last_sample():
    raw = stream([0.0, 0.1, 0.7, 1.0], [[1, 2, 3], [9, 9, 9], [0, 0, 0], [4, 5, 6]])
    out = resample_stream(raw, 7)
    np.testing.assert_array_equal(out[0], [1, 2, 3])
    np.testing.assert_array_equal(out[-1], [4, 5, 6])


def test_resample_requires_increasing_times():
    with pytest.raises(SourceError, match="strictly increasing"):
        resample_stream(stream([0.0, 2.0, 1.0], np.zeros((3, 3))), 4)


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_samples_is_an_error(n):
    short = stream(np.arange(n, dtype=float), np.zeros((n, 3)))
    with pytest.raises(SourceError, match="at least 2"):
        clean_stream(short, None)
    with pytest.raises(SourceError, match="at least 2"):
        resample_stream(short, 8)


def test_duplicates_that_leave_one_sample_are_an_error():
    with pytest.raises(SourceError, match="1 usable sample"):
        clean_stream(stream([3.0, 3.0, 3.0], np.zeros((3, 3))), None)


def test_wrong_value_shape_is_an_error():
    with pytest.raises(SourceError, match="expected \\(N,\\) and \\(N, 3\\)"):
        clean_stream(stream([0.0, 1.0], np.zeros((2, 2))), None)
