"""scan() of each layout on tiny raw trees written by hand, quirks included."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy import ndimage

from pipeline.config import load_dataset
from pipeline.records import SourceError
from pipeline.signals import clean_stream
from pipeline.sources import Scan, get_source
from pipeline.sources import berkeley_mhad, mmact, utd_mhad
from pipeline.synthetic.render import write_pgm

REAL_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-samples"


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_mat(path: Path, rows: int = 20) -> np.ndarray:
    data = np.arange(rows * 6, dtype=np.float64).reshape(rows, 6)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"d_iner": data}, do_compression=True)
    return data


def by_key(scan: Scan) -> dict:
    return {t.key: t for t in scan.takes}


def test_get_source_maps_layouts_to_modules():
    assert get_source("utd-mhad") is utd_mhad
    assert get_source("berkeley-mhad") is berkeley_mhad
    assert get_source("mmact") is mmact
    with pytest.raises(ValueError, match="unknown layout 'kinetics'"):
        get_source("kinetics")


# ---------------------------------------------------------------- UTD-MHAD


@pytest.fixture
def utd_tree(tmp_path) -> Path:
    root = tmp_path / "UTD-MHAD"
    touch(root / "RGB" / "a1_s1_t1_color.avi")
    touch(root / "RGB-part1" / "a2_s1_t1_color.avi")  # mirror layout: .avi at the root of a part folder
    touch(root / "RGB-part2" / "a1_s1_t1_color.avi")  # the same clip twice
    touch(root / "RGB" / "a10_s3_t2_color.avi")
    write_mat(root / "Inertial" / "a1_s1_t1_inertial.mat")
    write_mat(root / "Inertial" / "a3_s2_t4_inertial.mat")  # inertial without video
    write_mat(root / "Inertial" / "a10_s3_t2_inertial.mat")
    write_mat(root / "Inertial" / "a28_s1_t1_inertial.mat")  # no such action
    touch(root / "Depth" / "a1_s1_t1_depth.mat")
    touch(root / "Skeleton" / "a1_s1_t1_skeleton.mat")
    touch(root / "Inertial" / "readme.mat")
    touch(root / "README.txt", b"UTD-MHAD")
    return root


def test_utd_scan_pairs_by_stem(utd_tree):
    scan = utd_mhad.scan(utd_tree, load_dataset("utd-mhad"))
    assert [t.key for t in scan.takes] == sorted(["a1_s1_t1", "a2_s1_t1", "a3_s2_t4", "a10_s3_t2"])
    takes = by_key(scan)
    assert (takes["a10_s3_t2"].label, takes["a10_s3_t2"].subject, takes["a10_s3_t2"].trial) == (9, 3, 2)
    mat = utd_tree / "Inertial" / "a1_s1_t1_inertial.mat"
    assert takes["a1_s1_t1"].sensor_files == {"acc": mat, "gyro": mat}
    assert takes["a2_s1_t1"].sensor_files == {}
    assert set(takes["a3_s2_t4"].sensor_files) == {"acc", "gyro"}
    assert [(c.take_key, c.camera, c.video) for c in scan.clips] == [
        ("a10_s3_t2", 1, utd_tree / "RGB" / "a10_s3_t2_color.avi"),
        ("a1_s1_t1", 1, utd_tree / "RGB" / "a1_s1_t1_color.avi"),
        ("a2_s1_t1", 1, utd_tree / "RGB-part1" / "a2_s1_t1_color.avi"),
    ]
    assert scan.missing_modalities == []
    assert len(scan.problems) == 3
    assert any("RGB-part2/a1_s1_t1_color.avi: duplicate of" in p for p in scan.problems)
    assert any("a28_s1_t1_inertial.mat: action a28 outside a1..a27" in p for p in scan.problems)
    assert any("readme.mat: name is not" in p for p in scan.problems)


def test_utd_modality_subset_and_missing_inertial(utd_tree, tmp_path):
    spec = load_dataset("utd-mhad")
    scan = utd_mhad.scan(utd_tree, spec, modalities=["gyro"])
    assert set(by_key(scan)["a1_s1_t1"].sensor_files) == {"gyro"}
    with pytest.raises(ValueError, match="unknown sensor modalities \\['magnetometer'\\]"):
        utd_mhad.scan(utd_tree, spec, modalities=["magnetometer"])
    video_only = tmp_path / "video-only"
    touch(video_only / "a5_s2_t3_color.avi")
    scan = utd_mhad.scan(video_only, spec)
    assert scan.missing_modalities == ["acc", "gyro"]
    assert [(t.key, t.label, t.sensor_files) for t in scan.takes] == [("a5_s2_t3", 4, {})]


def test_utd_read_stream_of_a_scanned_take(utd_tree):
    take = by_key(utd_mhad.scan(utd_tree, load_dataset("utd-mhad")))["a3_s2_t4"]
    gyro = utd_mhad.read_stream(take.sensor_files["gyro"], "gyro")
    expected = np.arange(120, dtype=np.float64).reshape(20, 6)[:, 3:]
    np.testing.assert_array_equal(gyro.values, expected)
    np.testing.assert_allclose(np.diff(gyro.times), 0.02)


def test_scan_of_a_missing_root_names_it(tmp_path):
    with pytest.raises(SourceError, match="nowhere: raw dataset folder not found"):
        utd_mhad.scan(tmp_path / "nowhere", load_dataset("utd-mhad"))


# ---------------------------------------------------------------- Berkeley-MHAD


def acc_text(rows: int = 5, t0: float = 1309539264.0) -> bytes:
    lines = [f"{0.1 * i:.6f} {-0.5:.6f} {0.9:.6f} {t0 + i / 31:.6f}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def pgm_bytes(image: np.ndarray, maxval: int = 255, comment: bool = False) -> bytes:
    h, w = image.shape
    header = b"P5\n" + (b"# written by a test\n" if comment else b"") + f"{w} {h}\n{maxval}\n".encode()
    raster = image.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    return header + raster


def grbg_mosaic(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) keeping the colour each GRBG site samples."""
    h, w, _ = rgb.shape
    rows, cols = np.mgrid[0:h, 0:w]
    channel = np.where((rows % 2 == 0) & (cols % 2 == 1), 0, np.where((rows % 2 == 1) & (cols % 2 == 0), 2, 1))
    return np.take_along_axis(rgb, channel[..., None], axis=2)[..., 0]


@pytest.fixture
def berkeley_tree(tmp_path) -> Path:
    root = tmp_path / "BerkeleyMHAD"
    acc = root / "Accelerometer"
    touch(acc / "Shimmer01" / "acc_h01_s01_a01_r01.txt", acc_text())
    touch(acc / "Shimmer02" / "acc_h02_s01_a01_r01.txt", acc_text())
    touch(acc / "Shimmer01" / "acc_h01_s12_a11_r05.txt", acc_text())
    touch(acc / "Shimmer01" / "acc_h01_s01_t-pose.txt", acc_text())  # documented non-takes
    touch(acc / "Shimmer01" / "acc_h01_s01_b01.txt", acc_text())
    touch(acc / "Shimmer01" / "acc_h01_s02_a12_r01.txt", acc_text())  # no action A12
    touch(acc / "Shimmer07" / "acc_h07_s01_a01_r01.txt", acc_text())  # no seventh Shimmer
    touch(acc / "Shimmer03" / "acc_h03_s01_a01_r02.txt")  # empty: kept, so prepare marks it failed
    touch(acc / "Shimmer01" / "acc_h01_s01_a01.txt", acc_text())  # repetition missing
    return root


def test_berkeley_accelerometer_only_tree(berkeley_tree):
    scan = berkeley_mhad.scan(berkeley_tree, load_dataset("berkeley-mhad"))
    assert [t.key for t in scan.takes] == ["s01_a01_r01", "s01_a01_r02", "s12_a11_r05"]
    takes = by_key(scan)
    empty = takes["s01_a01_r02"].sensor_files["acc_h03"]
    with pytest.raises(SourceError, match=f"{empty.name}: empty file"):
        berkeley_mhad.read_stream(empty, "acc_h03")
    assert set(takes["s01_a01_r01"].sensor_files) == {"acc_h01", "acc_h02"}
    assert (takes["s12_a11_r05"].label, takes["s12_a11_r05"].subject, takes["s12_a11_r05"].trial) == (10, 12, 5)
    assert scan.clips == [] and scan.frame_time_files == {}
    assert scan.missing_modalities == ["acc_h04", "acc_h05", "acc_h06"]
    assert len(scan.problems) == 3
    for expected in ("a12_r01.txt: action A12 outside A01..A11", "acc_h07 is not a sensor",
                     "acc_h01_s01_a01.txt: unexpected"):
        assert any(expected in p for p in scan.problems), expected
    stream = berkeley_mhad.read_stream(takes["s01_a01_r01"].sensor_files["acc_h02"], "acc_h02")
    np.testing.assert_allclose(stream.values[:, 0], [0.0, 0.1, 0.2, 0.3, 0.4])
    assert stream.times[0] == pytest.approx(1309539264.0)


def test_berkeley_cameras_and_time_stamps(berkeley_tree):
    frame = pgm_bytes(np.zeros((4, 6), dtype=np.uint8))
    camera = berkeley_tree / "Camera"

    def clip(cluster: int, cam: int, s: int, a: int, r: int, frames: int = 2) -> Path:
        folder = camera / f"Cluster{cluster:02d}" / f"Cam{cam:02d}" / f"S{s:02d}" / f"A{a:02d}" / f"R{r:02d}"
        for f in range(frames):
            touch(folder / f"img_l{cluster:02d}_c{cam:02d}_s{s:02d}_a{a:02d}_r{r:02d}_{f:05d}.pgm", frame)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    first = clip(1, 1, 1, 1, 1)
    clip(2, 3, 1, 1, 1)
    clip(4, 2, 1, 1, 1)
    clip(3, 2, 3, 2, 1)  # a take seen by a camera only
    clip(3, 3, 1, 1, 1)  # Cluster03 has two cameras
    clip(1, 1, 1, 1, 2, frames=0)  # empty folder
    touch(camera / "Cluster01" / "Cam01" / "S01" / "T-pose" / "img_l01_c01_s01_t-pose_00000.pgm", frame)
    touch(camera / "Cluster01" / "Cam01" / "S01" / "Extra" / "img_00000.pgm", frame)
    touch(berkeley_tree / "Copy" / "Cluster01" / "Cam01" / "S01" / "A01" / "R01" / "img_00000.pgm", frame)
    touch(berkeley_tree / "Kinect" / "Kin01" / "S01" / "A01" / "R01" / "kin_k01_s01_a01_r01_depth_00000.pgm", frame)
    times = touch(camera / "Time_stamps" / "time_stamps_img_s01_a01_r01.txt", b"0 1309539264.1\n1 1309539264.15\n")
    touch(berkeley_tree / "Time_stamps" / "time_stamps_img_s09_a09_r09.txt", b"0 1.0\n")  # no such take here

    scan = berkeley_mhad.scan(berkeley_tree, load_dataset("berkeley-mhad"))
    assert [t.key for t in scan.takes] == ["s01_a01_r01", "s01_a01_r02", "s03_a02_r01", "s12_a11_r05"]
    assert by_key(scan)["s03_a02_r01"].sensor_files == {}
    assert [(c.take_key, c.camera) for c in scan.clips] == [
        ("s01_a01_r01", 1), ("s01_a01_r01", 7), ("s01_a01_r01", 12), ("s03_a02_r01", 10)]
    assert scan.clips[0].video == first
    assert scan.frame_time_files == {"s01_a01_r01": times}
    assert any("Cluster03/Cam03 is not one of the 12 cameras" in p for p in scan.problems)
    assert any("R02: no .pgm frames" in p for p in scan.problems)
    assert any("S01/Extra: unexpected folder in a camera tree" in p for p in scan.problems)
    assert any(f"Copy/Cluster01/Cam01/S01/A01/R01: duplicate of {first}" in p for p in scan.problems)
    assert not any("T-pose" in p or "Kinect" in p for p in scan.problems)
    assert [p.name[-9:] for p in berkeley_mhad.frame_files(first)] == ["00000.pgm", "00001.pgm"]


def test_berkeley_frame_files_sorted_by_number(tmp_path):
    for number in (10, 2, 1, 100):
        touch(tmp_path / "R01" / f"img_l01_c01_s01_a01_r01_{number:05d}.pgm")
    touch(tmp_path / "R01" / "notes.txt")
    names = [p.name for p in berkeley_mhad.frame_files(tmp_path / "R01")]
    assert [int(n[-9:-4]) for n in names] == [1, 2, 10, 100]
    touch(tmp_path / "R01" / "thumbnail.pgm")
    with pytest.raises(SourceError, match="thumbnail.pgm: frame name does not end in _<number>.pgm"):
        berkeley_mhad.frame_files(tmp_path / "R01")
    (tmp_path / "R02").mkdir()
    with pytest.raises(SourceError, match="R02: no .pgm frames"):
        berkeley_mhad.frame_files(tmp_path / "R02")


def test_bayer_frame_of_a_uniform_scene_is_that_colour(tmp_path):
    colour = np.array([200, 100, 50], dtype=np.uint8)
    mosaic = grbg_mosaic(np.broadcast_to(colour, (6, 8, 3)))
    path8 = touch(tmp_path / "f8_00000.pgm", pgm_bytes(mosaic, comment=True))
    path16 = touch(tmp_path / "f16_00000.pgm", pgm_bytes(mosaic.astype(np.uint32) * 257, maxval=65535))
    path12 = touch(tmp_path / "f12_00000.pgm", pgm_bytes(np.round(mosaic * (4095 / 255)), maxval=4095))
    for path in (path8, path16, path12):
        rgb = berkeley_mhad.read_bayer_frame(path)
        assert rgb.shape == (6, 8, 3) and rgb.dtype == np.uint8
        np.testing.assert_array_equal(rgb, np.broadcast_to(colour, (6, 8, 3)), err_msg=path.name)


def test_bayer_demosaic_matches_bilinear_convolution():
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, size=(10, 14), dtype=np.uint8)
    rows, cols = np.mgrid[0:10, 0:14]
    masks = [(rows % 2 == 0) & (cols % 2 == 1), (rows + cols) % 2 == 0, (rows % 2 == 1) & (cols % 2 == 0)]
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4
    planes = [ndimage.convolve(raw.astype(np.float64) * m, k, mode="mirror") for m, k in zip(masks, (k_rb, k_g, k_rb))]
    expected = np.stack(planes, axis=-1)
    rgb = berkeley_mhad.demosaic_grbg(raw)
    np.testing.assert_array_equal(rgb, np.floor(expected + 0.5).astype(np.uint8))
    # a sampled colour is kept as is
    np.testing.assert_array_equal(rgb[0, 1, 0], raw[0, 1])
    np.testing.assert_array_equal(rgb[1, 0, 2], raw[1, 0])


def bad_pgm_message(path: Path) -> str:
    """The SourceError of reading one bad frame: it must be one line that names the file."""
    with pytest.raises(SourceError) as caught:
        berkeley_mhad.read_bayer_frame(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_bad_pgm_files_name_the_problem(tmp_path):
    ascii_pgm = touch(tmp_path / "a_00000.pgm", b"P2\n2 2\n255\n1 2 3 4\n")
    assert "a_00000.pgm: not a binary PGM" in bad_pgm_message(ascii_pgm)
    short = touch(tmp_path / "b_00000.pgm", pgm_bytes(np.zeros((4, 4), dtype=np.uint8))[:-3])
    assert "b_00000.pgm: PGM raster has 13 bytes, expected 16" in bad_pgm_message(short)
    short16 = touch(tmp_path / "b16_00000.pgm", pgm_bytes(np.zeros((4, 4)), maxval=1023)[:-3])
    assert "b16_00000.pgm: PGM raster has 29 bytes, expected 32" in bad_pgm_message(short16)
    header_only = touch(tmp_path / "c_00000.pgm", b"P5\n4")
    assert "c_00000.pgm: malformed PGM header" in bad_pgm_message(header_only)
    too_deep = touch(tmp_path / "d_00000.pgm", b"P5\n2 2\n70000\n" + bytes(8))
    assert "d_00000.pgm: malformed PGM header" in bad_pgm_message(too_deep)
    one_pixel = touch(tmp_path / "e_00000.pgm", pgm_bytes(np.zeros((1, 1), dtype=np.uint8)))
    assert "e_00000.pgm: unsupported PGM size 1x1" in bad_pgm_message(one_pixel)
    png = touch(tmp_path / "f_00000.pgm", b"\x89PNG\r\n\x1a\n" + bytes(16))
    assert "f_00000.pgm: not a binary PGM" in bad_pgm_message(png)
    glued_comment = touch(tmp_path / "g_00000.pgm", b"P5\n4#c\n4 255\n" + bytes(16))  # Pillow's header grammar
    assert "g_00000.pgm: malformed PGM header" in bad_pgm_message(glued_comment)


def numpy_pgm(data: bytes) -> np.ndarray:
    """An independent reading of a P5 file: header fields by regex (comment lines dropped), samples by numpy
    (big-endian when maxval > 255), scaled to 0-255 in floating point, halves up."""
    gap = rb"(?:\s|#[^\n]*\n)+"
    header = re.match(rb"P5" + gap + rb"(\d+)" + gap + rb"(\d+)" + gap + rb"(\d+)\s", data)
    width, height, maxval = (int(g) for g in header.groups())
    samples = np.frombuffer(data, dtype=np.uint8 if maxval < 256 else ">u2", count=width * height,
                            offset=header.end())
    return np.floor(samples.reshape(height, width).astype(np.float64) * 255 / maxval + 0.5).astype(np.uint8)


def real_sample_frames() -> list[Path]:
    frames = sorted(REAL_SAMPLES.rglob("*.pgm"))[:3] if REAL_SAMPLES.is_dir() else []
    if not frames:
        pytest.skip(f"no real Berkeley-MHAD .pgm frame in {REAL_SAMPLES}")
    return frames


@pytest.mark.parametrize("kind", ["8-bit", "8-bit maxval 200", "16-bit", "16-bit maxval 1023", "synthetic", "real"])
def test_pgm_reader_equals_a_numpy_parse(tmp_path, kind):
    rng = np.random.default_rng(5)
    if kind == "real":
        paths = real_sample_frames()
    elif kind == "synthetic":
        paths = [tmp_path / "synthetic_00000.pgm"]
        write_pgm(paths[0], rng.integers(0, 256, size=(30, 44), dtype=np.uint8))
    else:
        maxval = {"8-bit": 255, "8-bit maxval 200": 200, "16-bit": 65535, "16-bit maxval 1023": 1023}[kind]
        samples = rng.integers(0, maxval + 1, size=(30, 44))
        samples[0, :3] = (0, maxval // 2, maxval)
        paths = [touch(tmp_path / "frame_00000.pgm", pgm_bytes(samples, maxval=maxval, comment=True))]
    for path in paths:
        image = berkeley_mhad._read_pgm(path)
        assert image.dtype == np.uint8
        np.testing.assert_array_equal(image, numpy_pgm(path.read_bytes()), err_msg=str(path))


# ---------------------------------------------------------------- MMAct


@pytest.fixture
def mmact_tree(tmp_path) -> Path:
    root = tmp_path / "MMAct"
    sensors = root / "trimmed" / "sensors"
    quirky = (
        b"20181016_13:37:28.620000,1.0,2.0,3.0\n"
        b"20181016_13:37:28.610000,0.5,2.0,3.0\n"  # out of order
        b"20181016_13:37:28.620000,9.0,9.0,9.0\n"  # repeated time
        b"20181016_13:37:29,4.0,5.0,6.0\r\n"  # no fraction, CRLF
    )
    touch(sensors / "acc_phone_clip" / "subject1" / "scene1" / "session1" / "Carrying_light.csv", quirky)
    touch(sensors / "acc_watch_clip" / "subject1" / "scene1" / "session1" / "carrying_light.csv", quirky)
    touch(sensors / "gyro_clip" / "subject1" / "scene1" / "session1" / "carrying_light.csv", quirky)
    touch(sensors / "gyro_clip" / "subject10" / "scene2" / "session3" / "walking.csv")  # empty
    touch(sensors / "acc_phone_clip" / "subject2" / "scene3" / "session5" / "dancing.csv", quirky)
    touch(sensors / "acc_phone_clip" / "subject2" / "scene3" / "Walking.csv", quirky)  # no session folder
    touch(sensors / "magnetometer_clip" / "subject2" / "scene3" / "session5" / "walking.csv", quirky)
    videos = root / "cross_view" / "trainval"
    touch(videos / "subject1" / "cam1" / "scene1" / "session1" / "Carrying_light.mp4")
    touch(videos / "subject1" / "cam4" / "scene1" / "session1" / "carrying_light.mp4")
    touch(root / "cross_scene" / "trainval" / "subject1" / "cam1" / "scene1" / "session1" / "carrying_light.mp4")
    touch(videos / "subject10" / "cam2" / "scene2" / "session3" / "walking.mp4")
    touch(videos / "subject10" / "cam5" / "scene2" / "session3" / "walking.mp4")  # no fifth camera
    return root


def test_mmact_scan_keys_labels_and_cameras(mmact_tree):
    spec = load_dataset("mmact")
    scan = mmact.scan(mmact_tree, spec)
    keys = ["subject1/scene1/session1/carrying_light", "subject10/scene2/session3/walking"]
    assert [t.key for t in scan.takes] == keys
    carrying, walking = scan.takes
    assert (carrying.label, carrying.subject, carrying.scene, carrying.session) == (2, 1, 1, 1)
    assert spec.classes[walking.label] == "walking" and (walking.subject, walking.scene, walking.session) == (10, 2, 3)
    assert set(carrying.sensor_files) == {"acc_phone", "acc_watch", "gyro"}
    assert carrying.sensor_files["acc_phone"].name == "Carrying_light.csv"
    assert set(walking.sensor_files) == {"gyro"}  # its only CSV is empty: kept, read_stream names it
    with pytest.raises(SourceError, match="walking.csv: empty file"):
        mmact.read_stream(walking.sensor_files["gyro"], "gyro")
    assert [(c.take_key, c.camera) for c in scan.clips] == [
        ("subject1/scene1/session1/carrying_light", 1),
        ("subject1/scene1/session1/carrying_light", 4),
        ("subject10/scene2/session3/walking", 2),
    ]
    assert "cross_scene" in str(scan.clips[0].video)  # the first copy in path order is kept
    assert scan.missing_modalities == ["orientation"]
    for expected in ("dancing.csv: unknown action 'dancing'",
                     "cross_view/trainval/subject1/cam1/scene1/session1/Carrying_light.mp4: duplicate of",
                     "cam5/scene2/session3/walking.mp4: video not under", "scene3/Walking.csv: CSV not under",
                     "magnetometer_clip/subject2/scene3/session5/walking.csv: CSV not under"):
        assert any(expected in p for p in scan.problems), expected
    assert len(scan.problems) == 5
    subset = mmact.scan(mmact_tree, spec, modalities=["gyro", "orientation"])
    assert set(subset.takes[0].sensor_files) == {"gyro"}
    assert subset.missing_modalities == ["orientation"]


def test_mmact_quirky_csv_reads_and_cleans(mmact_tree):
    take = mmact.scan(mmact_tree, load_dataset("mmact")).takes[0]
    raw = mmact.read_stream(take.sensor_files["acc_phone"], "acc_phone")
    assert raw.values.shape == (4, 3)
    np.testing.assert_allclose(raw.times - raw.times[1], [0.01, 0.0, 0.01, 0.39], atol=1e-6)
    cleaned = clean_stream(raw, None)
    np.testing.assert_allclose(cleaned.times - cleaned.times[0], [0.0, 0.01, 0.39], atol=1e-6)
    np.testing.assert_array_equal(cleaned.values[:, 0], [0.5, 1.0, 4.0])


def test_mmact_times_cross_midnight(tmp_path):
    path = touch(tmp_path / "walking.csv", b"20181231_23:59:59.990000,1,2,3\n20190101_00:00:00.005000,1,2,3\n")
    stream = mmact.read_stream(path, "acc_watch")
    assert stream.times[1] - stream.times[0] == pytest.approx(0.015, abs=1e-6)
    bad_date = touch(tmp_path / "running.csv", b"20181332_10:00:00.0,1,2,3\n")
    with pytest.raises(SourceError, match="running.csv: invalid date '20181332'"):
        mmact.read_stream(bad_date, "acc_watch")
    header = touch(tmp_path / "sitting.csv", b"time,x,y,z\n20181016_10:00:00.0,1,2,3\n")
    with pytest.raises(SourceError, match="sitting.csv: line 1 is not"):
        mmact.read_stream(header, "acc_watch")


def test_mmact_garbage_lines_are_skipped_and_counted(tmp_path):
    """Each kind of damaged line (cut short, binary, a header, a word for a number, an empty field, a
    stray `_` in a number) costs that line only: the stream equals the file's without them, and the
    warning counts them and names the first one."""
    rows = [f"20181016_10:00:{i // 100:02d}.{i % 100:02d}0000,{i}.5,-{i}.25,9.{i}\n".encode() for i in range(200)]
    damaged = {3: b"20181016_10:00:00.03", 50: b"\x00\x17\xff\x80garbage", 90: b"time,x,y,z",
               120: b"20181016_10:00:01.20,1,abc,2", 150: b"20181016_10:00:01.50,1,,2",
               180: b"20181016_10:00:01.80,1_0,2,3"}
    lines = [damaged[i] + b"\n" if i in damaged else row for i, row in enumerate(rows)]
    clean = mmact.read_stream(touch(tmp_path / "clean.csv", b"".join(rows)), "acc_phone")
    stream = mmact.read_stream(touch(tmp_path / "walking.csv", b"".join(lines)), "acc_phone")
    kept = [i for i in range(200) if i not in damaged]
    np.testing.assert_array_equal(stream.times, clean.times[kept])
    np.testing.assert_array_equal(stream.values, clean.values[kept])
    assert stream.warning == f"skipped 6 malformed lines of 200 in {tmp_path / 'walking.csv'} (first: line 4)"
    assert clean.warning == ""
