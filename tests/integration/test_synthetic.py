"""Synthetic raw trees: exact layouts and formats, determinism, physics of the streams, quirks."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import decord
import numpy as np
import pytest
import scipy.io

from pipeline.synthetic import DEFAULT_CLASSES, write_dataset
from pipeline.synthetic.berkeley_mhad import camera_location
from pipeline.synthetic.mmact import java_float
from pipeline.synthetic.motion import Body, EffectorMotion, MotionSpec, Oscillation, TakeParams, sensor_readings

REAL_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-samples"
JAVA_FLOAT = r"-?\d+\.\d+(?:E-?\d+)?"
MMACT_LINE = re.compile(rf"^\d{{8}}_\d{{2}}:\d{{2}}:\d{{2}}\.\d{{6}},{JAVA_FLOAT},{JAVA_FLOAT},{JAVA_FLOAT}$")
MMACT_MODALITIES = ("acc_phone", "acc_watch", "gyro", "orientation")
G = 9.80665


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def mmact_rows(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    stamps = [line.split(",")[0] for line in lines]
    values = np.array([[float(v) for v in line.split(",")[1:]] for line in lines]).reshape(-1, 3)
    return stamps, values


def mmact_seconds(stamps: list[str]) -> np.ndarray:
    return np.array([dt.datetime.strptime(s, "%Y%m%d_%H:%M:%S.%f").timestamp() for s in stamps])


def energy_centroid(video: Path) -> tuple[float, float]:
    """(y, x) centroid, as fractions of (H, W), of the pixels' counts of large colour changes between frames."""
    reader = decord.VideoReader(str(video))
    frames = reader.get_batch(list(range(len(reader)))).asnumpy().astype(np.float32)
    energy = (np.abs(np.diff(frames, axis=0)).max(-1) > 60).sum(0).astype(np.float64)
    yy, xx = np.mgrid[0:energy.shape[0], 0:energy.shape[1]]
    total = energy.sum()
    return float((yy * energy).sum() / total / energy.shape[0]), float((xx * energy).sum() / total / energy.shape[1])


@pytest.fixture(scope="module")
def utd(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("utd")
    summary = write_dataset("utd-mhad", root, subjects=4, takes=2, classes=None, seed=3, frame_size=(96, 128))
    assert summary.n_takes == summary.n_clips == 4 * 2 * len(DEFAULT_CLASSES["utd-mhad"])
    assert summary.quirks == []
    return root


@pytest.fixture(scope="module")
def berkeley(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("berkeley")
    summary = write_dataset("berkeley-mhad", root, subjects=2, takes=2, classes=[0, 5], seed=3, frame_size=(32, 64))
    assert (summary.n_takes, summary.n_clips, summary.quirks) == (8, 8, [])
    return root


@pytest.fixture(scope="module")
def mmact(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mmact")
    summary = write_dataset("mmact", root, subjects=2, takes=2, classes=[10, 34], seed=3, frame_size=(32, 64))
    assert (summary.n_takes, summary.n_clips, summary.quirks) == (8, 32, [])
    return root


def test_sensor_physics_matches_hand_derivatives():
    """Hip sensor (x = world up, y = world x): a bobbing pelvis y = A sin(w t) reads g - A w^2 sin(w t);
    a pelvis leaning by theta = B sin(w t) about world x turns at d(theta)/dt about the sensor's y axis."""
    take = TakeParams(start=-50.0, active=200.0, duration=100.0, speed=1.0, amplitude=1.0, phase=0.0)
    t = np.linspace(0.0, 2.0, 41)
    w = 2 * np.pi * 0.8
    bob = MotionSpec("bob", {"root": EffectorMotion(oscillations=(Oscillation((0, 1, 0), 0.1, 0.8),))})
    readings = sensor_readings(bob, take, Body(), "right_hip", t)
    phase = w * (t - take.start)
    np.testing.assert_allclose(readings.acc[:, 0], G - 0.1 * w**2 * np.sin(phase), atol=1e-3)
    np.testing.assert_allclose(readings.acc[:, 1:], 0.0, atol=1e-6)
    np.testing.assert_allclose(readings.gyro, 0.0, atol=1e-6)
    lean = MotionSpec("lean", {"lean": EffectorMotion(oscillations=(Oscillation((1, 0, 0), 0.2, 0.8),))})
    readings = sensor_readings(lean, take, Body(), "right_hip", t)
    np.testing.assert_allclose(readings.gyro[:, 1], 0.2 * w * np.cos(phase), atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(readings.gyro[:, [0, 2]], axis=1), 0.0, atol=1e-6)


def test_utd_layout_and_formats(utd):
    expected = {f"a{a + 1}_s{s}_t{t}" for a in DEFAULT_CLASSES["utd-mhad"] for s in range(1, 5) for t in (1, 2)}
    videos = {p.name for p in (utd / "RGB").iterdir()}
    mats = {p.name for p in (utd / "Inertial").iterdir()}
    assert videos == {f"{k}_color.avi" for k in expected}
    assert mats == {f"{k}_inertial.mat" for k in expected}
    for key in sorted(expected)[:6]:
        mat = utd / "Inertial" / f"{key}_inertial.mat"
        assert mat.read_bytes().startswith(b"MATLAB 5.0 MAT-file")
        d_iner = scipy.io.loadmat(mat)["d_iner"]
        assert d_iner.dtype == np.float64 and d_iner.ndim == 2 and d_iner.shape[1] == 6
        reader = decord.VideoReader(str(utd / "RGB" / f"{key}_color.avi"))
        assert reader[0].shape == (96, 128, 3)
        # video at 30 fps and inertial at 50 Hz cover the same take
        assert abs(len(reader) - d_iner.shape[0] * 30 / 50) <= 1
        assert abs(reader.get_avg_fps() - 30) < 0.5


def test_utd_rest_reads_one_g_and_motion_exceeds_it(utd):
    for mat in sorted((utd / "Inertial").glob("*.mat")):
        d_iner = scipy.io.loadmat(mat)["d_iner"]
        rest = np.linalg.norm(d_iner[:15, :3], axis=1)
        assert abs(rest.mean() - 1.0) < 0.05, mat.name
        assert np.abs(d_iner[:15, 3:]).mean() < 10, mat.name
        assert np.linalg.norm(d_iner[:, :3], axis=1).max() > 1.2, mat.name


def test_utd_classes_separable_by_signal_statistics(utd):
    features, labels, subjects = [], [], []
    for mat in sorted((utd / "Inertial").glob("*.mat")):
        a, s, _ = (int(part[1:]) for part in mat.name.split("_")[:3])
        d_iner = scipy.io.loadmat(mat)["d_iner"]
        features.append(np.concatenate([d_iner.mean(0), d_iner.std(0), d_iner.min(0), d_iner.max(0)]))
        labels.append(a)
        subjects.append(s)
    x, y, s = np.array(features), np.array(labels), np.array(subjects)
    train = s <= 2
    z = (x - x[train].mean(0)) / (x[train].std(0) + 1e-9)
    classes = np.unique(y)
    centroids = np.stack([z[train & (y == c)].mean(0) for c in classes])
    predicted = classes[np.argmin(((z[~train, None] - centroids[None]) ** 2).sum(-1), axis=1)]
    assert (predicted == y[~train]).mean() >= 0.8  # chance is 1/6


def test_utd_motion_energy_follows_the_moving_limb(utd):
    wave = np.array([energy_centroid(p) for p in sorted((utd / "RGB").glob("a3_s*_color.avi"))])  # right hand up
    jog = np.array([energy_centroid(p) for p in sorted((utd / "RGB").glob("a22_s*_color.avi"))])  # knees lifting
    assert wave[:, 0].max() < 0.36 and wave[:, 1].mean() < 0.47  # upper image; the subject's right = image left
    assert jog[:, 0].min() > wave[:, 0].max() + 0.1 and jog[:, 0].mean() > 0.47


def test_berkeley_layout_formats_and_clock(berkeley):
    bunched = []
    for subject in (1, 2):
        for action in (1, 6):
            for rep in (1, 2):
                key = f"s{subject:02d}_a{action:02d}_r{rep:02d}"
                stamps = np.loadtxt(berkeley / "Camera" / "Time_stamps" / f"time_stamps_img_{key}.txt")
                assert np.array_equal(stamps[:, 0], np.arange(len(stamps)))
                assert np.allclose(np.diff(stamps[:, 1]), 0.046875, atol=1e-5)
                folder = berkeley / f"Camera/Cluster01/Cam01/S{subject:02d}/A{action:02d}/R{rep:02d}"
                names = sorted(p.name for p in folder.iterdir())
                assert names == [f"img_l01_c01_{key}_{i:05d}.pgm" for i in range(len(stamps))]
                pgm = (folder / names[0]).read_bytes()
                assert pgm.startswith(b"P5\n64 32\n255\n") and len(pgm) == len(b"P5\n64 32\n255\n") + 64 * 32
                for shimmer in range(1, 7):
                    path = berkeley / f"Accelerometer/Shimmer{shimmer:02d}/acc_h{shimmer:02d}_{key}.txt"
                    first = path.read_text().splitlines()[0].split(" ")
                    assert len(first) == 4 and all(len(v.split(".")[1]) == 6 for v in first)
                    acc = np.loadtxt(path)
                    gaps = np.diff(acc[:, 3])
                    assert 27 < gaps.size / gaps.sum() < 34 and (gaps > 0).all()  # about 31 Hz
                    bunched.append((gaps < 0.002).mean())
                    assert abs(acc[0, 3] - stamps[0, 1]) < 0.5 and abs(acc[-1, 3] - stamps[-1, 1]) < 0.5
                    assert np.abs(acc[:, :3]).max() <= 2.0
                    assert abs(np.linalg.norm(acc[:8, :3], axis=1).mean() - 1.0) < 0.06
    assert 0 < np.mean(bunched) < 0.2  # samples logged in packets: some 1 ms steps


def test_berkeley_bayer_mosaic_holds_the_rendered_colours(berkeley):
    """The red right forearm shows up in the R sites of the GRBG mosaic, not in the B sites."""
    folder = berkeley / "Camera/Cluster01/Cam01/S01/A06/R01"
    frames = np.stack([np.frombuffer(p.read_bytes()[-32 * 64:], np.uint8).reshape(32, 64)
                       for p in sorted(folder.iterdir())])
    red_sites, blue_sites = frames[:, 0::2, 1::2].astype(int), frames[:, 1::2, 0::2].astype(int)
    assert (red_sites - blue_sites > 120).any()


def test_camera_location_flattening():
    assert [camera_location(c) for c in (1, 4, 5, 8, 9, 10, 11, 12)] == [
        (1, 1), (1, 4), (2, 1), (2, 4), (3, 1), (3, 2), (4, 1), (4, 2)]
    with pytest.raises(ValueError, match="1..12"):
        camera_location(13)


def test_mmact_layout_timestamps_and_rates(mmact):
    csvs = sorted((mmact / "trimmed" / "sensors").rglob("*.csv"))
    expected = {f"trimmed/sensors/{m}_clip/subject{s}/scene{i % 4 + 1}/session{i % 5 + 1}/{a}.csv"
                for m in MMACT_MODALITIES for s in (1, 2) for i in (0, 1) for a in ("jumping", "waving_hand")}
    assert {str(p.relative_to(mmact)) for p in csvs} == expected
    videos = {str(p.relative_to(mmact)) for p in mmact.glob("subject*/cam*/scene*/session*/*.mp4")}
    assert videos == {f"subject{s}/cam{c}/scene{i % 4 + 1}/session{i % 5 + 1}/{a}.mp4"
                      for s in (1, 2) for c in (1, 2, 3, 4) for i in (0, 1) for a in ("jumping", "waving_hand")}
    for path in csvs:
        lines = path.read_text().splitlines()
        assert len(lines) > 50 and all(MMACT_LINE.match(line) for line in lines), path
    clip = Path("subject1/scene1/session1/jumping.csv")
    periods = {}
    for modality in MMACT_MODALITIES:
        stamps, values = mmact_rows(mmact / "trimmed/sensors" / f"{modality}_clip" / clip)
        seconds = mmact_seconds(stamps)
        assert (np.diff(seconds) > 0).all()
        periods[modality] = np.diff(seconds)
        if modality.startswith("acc"):
            assert abs(np.linalg.norm(values[:25], axis=1).mean() - G) < 0.4  # at rest: gravity only
            assert np.linalg.norm(values, axis=1).max() > 1.3 * G
        if modality == "orientation":
            assert (values[:, 0] >= 0).all() and (values[:, 0] < 360).all()
            assert (np.abs(values[:, 1]) <= 180).all() and (np.abs(values[:, 2]) <= 90).all()
    assert np.allclose(periods["acc_phone"], 0.01, atol=1e-4) and np.allclose(periods["gyro"], 0.02, atol=1e-4)
    assert periods["orientation"].std() > 0.003  # irregular
    stamps, _ = mmact_rows(mmact / "trimmed/sensors/acc_phone_clip" / clip)
    reader = decord.VideoReader(str(mmact / "subject1/cam4/scene1/session1/jumping.mp4"))
    assert reader[0].shape == (32, 64, 3)
    assert abs(len(reader) - len(stamps) * 0.01 * 29.97) <= 2


def test_java_float_text():
    assert [java_float(v) for v in (-9.051605, -7.171631e-4, 0.0, 12.0, 2.5e7)] == [
        "-9.051605", "-7.171631E-4", "0.0", "12.0", "2.5E7"]


def test_mmact_timestamp_text_matches_the_real_sample():
    sample = REAL_SAMPLES / "carrying.csv"
    if not sample.exists():
        pytest.skip("real samples not available")
    lines = sample.read_text().splitlines()
    assert all(MMACT_LINE.match(line) for line in lines)
    mmact_seconds([line.split(",")[0] for line in lines])


def test_mmact_watch_moves_with_the_waving_wrist_and_phone_with_the_legs(mmact):
    def spread(modality: str, action: str) -> float:
        _, values = mmact_rows(mmact / "trimmed/sensors" / f"{modality}_clip/subject1/scene1/session1/{action}.csv")
        return float(np.linalg.norm(values, axis=1).std())

    assert spread("acc_watch", "waving_hand") > 2 * spread("acc_phone", "waving_hand")
    assert spread("acc_phone", "jumping") > 2 * spread("acc_phone", "waving_hand")


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for layout, classes in (("utd-mhad", [0, 21]), ("berkeley-mhad", [1]), ("mmact", [3])):
        digests = []
        for name, seed in (("a", 5), ("b", 5), ("c", 6)):
            write_dataset(layout, tmp_path / layout / name, subjects=1, takes=1, classes=classes, seed=seed,
                          frame_size=(32, 64))
            digests.append(tree_digest(tmp_path / layout / name))
        assert digests[0] == digests[1], (layout, sorted(k for k in digests[0] if digests[0][k] != digests[1].get(k)))
        common = digests[0].keys() & digests[2].keys()
        assert len(common) > 0.5 * len(digests[0]), layout
        assert all(digests[0][k] != digests[2][k] for k in common), (layout, [k for k in common
                                                                         if digests[0][k] == digests[2][k]])


def test_quirks_injected_only_when_asked(tmp_path):
    utd = write_dataset("utd-mhad", tmp_path / "utd", subjects=1, takes=2, classes=[7], seed=0, quirks=True,
                        frame_size=(32, 64))
    assert utd.n_takes == 1 and len(utd.quirks) == 1
    assert sorted(p.name for p in (tmp_path / "utd").rglob("*.*")) == ["a8_s1_t1_color.avi", "a8_s1_t1_inertial.mat"]

    berkeley = write_dataset("berkeley-mhad", tmp_path / "bk", subjects=2, takes=1, classes=[0, 6], seed=0,
                             quirks=True, frame_size=(32, 64))
    assert len(berkeley.quirks) == 2
    assert (tmp_path / "bk/Camera/Time_stamps/time_stamps_img_s02_a07_r01.txt").exists()
    assert not list((tmp_path / "bk/Accelerometer").rglob("*_s02_a07_r01.txt"))
    assert np.loadtxt(tmp_path / "bk/Accelerometer/Shimmer01/acc_h01_s01_a01_r01.txt")[:, :3].max() > 3

    mmact = write_dataset("mmact", tmp_path / "mm", subjects=2, takes=2, classes=[5, 11], seed=0, quirks=True,
                          frame_size=(32, 64))
    assert len(mmact.quirks) == 6
    sensors = tmp_path / "mm/trimmed/sensors"
    assert (sensors / "acc_phone_clip/subject1/scene2/session2/Crouching.csv").exists()
    assert (tmp_path / "mm/subject1/cam3/scene2/session2/Crouching.mp4").exists()
    assert (sensors / "orientation_clip/subject2/scene2/session2/kicking.csv").stat().st_size == 0
    shuffled = mmact_seconds(mmact_rows(sensors / "acc_phone_clip/subject1/scene1/session1/kicking.csv")[0])
    assert (np.diff(shuffled) == 0).any() and (np.diff(shuffled) < 0).any()
    watch_lines = (sensors / "acc_watch_clip/subject2/scene1/session1/kicking.csv").read_text().splitlines()
    cut = [i for i, line in enumerate(watch_lines) if not MMACT_LINE.match(line)]
    assert len(cut) == 1 and watch_lines[cut[0] + 1].startswith(watch_lines[cut[0]])  # the next row, cut short
    assert f"a row cut short (line {cut[0] + 1}) in acc_watch_clip/subject2/scene1/session1/kicking.csv" in mmact.quirks
    gyro_lines = (sensors / "gyro_clip/subject1/scene1/session1/crouching.csv").read_text().splitlines()
    assert any(re.match(r"^\d{8}_\d{2}:\d{2}:\d{2},", line) for line in gyro_lines)
    with pytest.raises((decord.DECORDError, RuntimeError)):
        reader = decord.VideoReader(str(tmp_path / "mm/subject2/cam1/scene2/session2/crouching.mp4"))
        reader.get_batch(list(range(len(reader))))


def test_bad_arguments_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown layout"):
        write_dataset("kinetics", tmp_path, subjects=1, takes=1, classes=None, seed=0)
    with pytest.raises(ValueError, match="0..26"):
        write_dataset("utd-mhad", tmp_path, subjects=1, takes=1, classes=[27], seed=0)
    with pytest.raises(ValueError, match="takes must be in 1..4"):
        write_dataset("utd-mhad", tmp_path, subjects=1, takes=5, classes=None, seed=0)
