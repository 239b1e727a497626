"""Source readers on the real sample files of the three datasets, plus corrupt and v7.3 variants."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from pipeline.records import SourceError
from pipeline.signals import clean_stream, resample_stream
from pipeline.sources import berkeley_mhad, mmact, utd_mhad

REAL = Path(__file__).resolve().parents[3] / "shared" / "real-samples"


def real(name: str) -> Path:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real sample {path} not available")
    return path


def test_utd_mat_splits_into_acc_and_gyro():
    path = real("a10_s1_t1_inertial.mat")
    full = scipy.io.loadmat(path)["d_iner"]
    assert utd_mhad.read_inertial(path).shape == (192, 6)
    acc = utd_mhad.read_stream(path, "acc")
    gyro = utd_mhad.read_stream(path, "gyro")
    assert acc.values.shape == (192, 3) and gyro.values.shape == (192, 3)
    np.testing.assert_array_equal(acc.values, full[:, :3])
    np.testing.assert_array_equal(gyro.values, full[:, 3:])
    np.testing.assert_allclose(acc.times[[0, 1, -1]], [0.0, 0.02, 191 / 50])
    # gravity: the magnitude of a resting wrist accelerometer is about 1 g at the start
    assert 0.7 < np.linalg.norm(acc.values[0]) < 1.3


def test_utd_v73_hdf5_mat_reads_like_matlab5(tmp_path):
    data = scipy.io.loadmat(real("a10_s1_t1_inertial.mat"))["d_iner"]
    path = tmp_path / "a10_s1_t1_inertial.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["d_iner"] = data.T  # MATLAB v7.3 stores column-major: h5py sees (6, N)
    assert h5py.is_hdf5(path)
    np.testing.assert_array_equal(utd_mhad.read_stream(path, "gyro").values, data[:, 3:])
    np.testing.assert_array_equal(utd_mhad.read_inertial(path), data)


def test_utd_corrupt_mat_names_the_file(tmp_path):
    good = real("a10_s1_t1_inertial.mat").read_bytes()
    path = tmp_path / "a1_s1_t1_inertial.mat"
    path.write_bytes(good[:300])
    with pytest.raises(SourceError, match="a1_s1_t1_inertial.mat: unreadable .mat"):
        utd_mhad.read_stream(path, "acc")
    garbage = tmp_path / "a2_s1_t1_inertial.mat"
    garbage.write_bytes(b"not a mat file at all" * 20)
    with pytest.raises(SourceError, match="a2_s1_t1_inertial.mat"):
        utd_mhad.read_stream(garbage, "acc")


def test_utd_wrong_variable_or_shape_names_the_problem(tmp_path):
    wrong_name = tmp_path / "a1_s1_t1_inertial.mat"
    scipy.io.savemat(wrong_name, {"inertial": np.zeros((10, 6))})
    with pytest.raises(SourceError, match="no variable 'd_iner' \\(found: inertial\\)"):
        utd_mhad.read_stream(wrong_name, "acc")
    wrong_shape = tmp_path / "a2_s1_t1_inertial.mat"
    scipy.io.savemat(wrong_shape, {"d_iner": np.zeros((10, 4))})
    with pytest.raises(SourceError, match="a2_s1_t1_inertial.mat: 'd_iner' has shape \\(10, 4\\)"):
        utd_mhad.read_stream(wrong_shape, "acc")


def test_berkeley_accelerometer_parses_with_unix_times():
    path = real("berkeley-mhad/acc_h01_s01_a01_r01.txt")
    raw = berkeley_mhad.read_stream(path, "acc_h01")
    assert raw.values.shape == (182, 3)
    np.testing.assert_allclose(raw.values[0], [0.873047, -0.516602, 0.144531])
    assert raw.times[0] == pytest.approx(1309539264.038020, abs=1e-6)
    assert np.abs(raw.values).max() <= 2.0
    cleaned = clean_stream(raw, [(-2.0, 2.0)] * 3)
    assert np.all(np.diff(cleaned.times) > 0)
    rate = (len(cleaned.times) - 1) / (cleaned.times[-1] - cleaned.times[0])
    assert 25.0 < rate < 36.0
    signal = resample_stream(cleaned, 256)
    assert signal.shape == (256, 3) and np.isfinite(signal).all()


def test_berkeley_camera_time_stamps_parse():
    path = real("berkeley-mhad/time_stamps_img_s01_a01_r01.txt")
    index, times = berkeley_mhad.read_frame_times(path)
    assert len(index) == len(times) == 126
    np.testing.assert_array_equal(index[:3], [0, 1, 2])
    assert np.all(np.diff(times) > 0)
    assert 18.0 < 1.0 / np.diff(times).mean() < 26.0  # about 22 fps
    # the camera and the accelerometer of the same take share one clock
    acc = berkeley_mhad.read_stream(real("berkeley-mhad/acc_h01_s01_a01_r01.txt"), "acc_h01")
    assert abs(times[0] - acc.times[0]) < 1.0


def test_berkeley_non_numeric_line_is_named(tmp_path):
    lines = real("berkeley-mhad/acc_h01_s01_a01_r01.txt").read_text().splitlines()
    lines[4] = "0.1 0.2 oops 1309539264.2"
    path = tmp_path / "acc_h01_s01_a01_r01.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match="acc_h01_s01_a01_r01.txt: line 5 is not 'ax ay az unix_time'"):
        berkeley_mhad.read_stream(path, "acc_h01")


def test_mmact_csv_timestamps_parse():
    path = real("carrying.csv")
    raw = mmact.read_stream(path, "acc_phone")
    assert raw.values.shape == (890, 3)
    np.testing.assert_allclose(raw.values[0], [-0.8051605, -9.051605, -1.0894012])
    # 20181016_13:37:28.612000 as seconds since 1970 (clock time read as UTC)
    assert raw.times[0] == pytest.approx(1539697048.612, abs=1e-5)
    cleaned = clean_stream(raw, [(-40.0, 40.0)] * 3)
    duration = cleaned.times[-1] - cleaned.times[0]
    assert duration == pytest.approx(8.925, abs=0.05)
    assert 90.0 < (len(cleaned.times) - 1) / duration < 110.0
    # gravity along the phone's y axis in a trouser pocket: about 9.8 m/s^2 in magnitude
    assert 8.0 < np.linalg.norm(cleaned.values, axis=1).mean() < 12.0


def test_mmact_empty_csv_names_the_file(tmp_path):
    path = tmp_path / "carrying.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match="carrying.csv: empty"):
        mmact.read_stream(path, "gyro")
    path.write_bytes(b"\n  \n")
    with pytest.raises(SourceError, match="carrying.csv: empty"):
        mmact.read_stream(path, "gyro")


def test_mmact_bad_line_costs_a_line(tmp_path):
    """One garbage line in 891 is skipped: the stream equals the file's without that line, and the
    warning counts it and names the file and its line number."""
    lines = real("carrying.csv").read_bytes().splitlines()
    clean = tmp_path / "clean" / "carrying.csv"
    clean.parent.mkdir()
    clean.write_bytes(b"\n".join(lines) + b"\n")
    damaged = tmp_path / "carrying.csv"
    damaged.write_bytes(b"\n".join(lines[:5] + [b"20181016_13:37:28.66\x00\x00garbage"] + lines[5:]) + b"\n")
    expected, stream = mmact.read_stream(clean, "acc_phone"), mmact.read_stream(damaged, "acc_phone")
    np.testing.assert_array_equal(stream.times, expected.times)
    np.testing.assert_array_equal(stream.values, expected.values)
    assert expected.warning == ""
    assert stream.warning == f"skipped 1 malformed line of 891 in {damaged} (first: line 6)"


def test_mmact_mostly_garbage_csv_names_the_first_bad_line(tmp_path):
    """More than MAX_SKIPPED_SHARE (5 %) of the lines bad refuses the file with today's one-line error
    naming the first bad line: every 10th line garbled, or one bad line beside 18 good ones; one bad
    line beside 19 good ones (5 %) is still read."""
    lines = real("carrying.csv").read_bytes().splitlines()
    path = tmp_path / "carrying.csv"
    path.write_bytes(b"\n".join(b"20181016_13:37:28.632000,-0.76,abc,-1.05" if i % 10 == 2 else line
                                for i, line in enumerate(lines)))
    with pytest.raises(SourceError, match=r"^\S+carrying.csv: line 3 is not 'YYYYMMDD_HH:MM:SS\[.ffffff\],x,y,z': "
                                          r"'20181016_13:37:28.632000,-0.76,abc,-1.05'$"):
        mmact.read_stream(path, "acc_phone")
    path.write_bytes(b"\n".join(lines[:2] + [b"x,y,z"] + lines[2:18]))
    with pytest.raises(SourceError, match="carrying.csv: line 3 is not"):
        mmact.read_stream(path, "acc_phone")
    path.write_bytes(b"\n".join(lines[:2] + [b"x,y,z"] + lines[2:19]))
    assert len(mmact.read_stream(path, "acc_phone").times) == 19


def test_berkeley_empty_or_missing_file_is_named(tmp_path):
    empty = tmp_path / "acc_h02_s01_a01_r01.txt"
    empty.write_text("\n")
    with pytest.raises(SourceError, match="acc_h02_s01_a01_r01.txt: empty file"):
        berkeley_mhad.read_stream(empty, "acc_h02")
    with pytest.raises(SourceError, match="acc_h03_s01_a01_r01.txt: cannot read"):
        berkeley_mhad.read_stream(tmp_path / "acc_h03_s01_a01_r01.txt", "acc_h03")
    short_row = tmp_path / "acc_h04_s01_a01_r01.txt"
    short_row.write_text("0.1 0.2 0.3 1309539264.0\n0.1 0.2 1309539264.1\n")
    with pytest.raises(SourceError, match="acc_h04_s01_a01_r01.txt: line 2 is not"):
        berkeley_mhad.read_stream(short_row, "acc_h04")


def test_mmact_impossible_clock_time_is_named(tmp_path):
    path = tmp_path / "kicking.csv"
    path.write_bytes(b"20181016_13:37:28.5,1,2,3\n20181016_25:00:00.0,1,2,3\n")
    with pytest.raises(SourceError, match="kicking.csv: invalid clock time 25:00:00.000000 in row 2"):
        mmact.read_stream(path, "gyro")
