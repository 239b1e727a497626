"""Berkeley-MHAD: camera frame folders, Shimmer accelerometer text files, camera time stamps.

- clips: `Cluster{LL}/Cam{CC}/S{SS}/A{AA}/R{RR}/` folders of GRBG Bayer PGM frames; camera =
  flattened (cluster, cam): Cluster01 Cam01-04 -> 1-4, Cluster02 -> 5-8, Cluster03 -> 9-10, Cluster04 -> 11-12.
- sensors: `acc_h{HH}_s{SS}_a{AA}_r{RR}.txt` -> modality `acc_h{HH}`; rows `ax ay az unix_time`.
- time stamps: `time_stamps_img_s{SS}_a{AA}_r{RR}.txt`, rows `frame_index unix_seconds`.
Take key `s{SS}_a{AA}_r{RR}`, label A-1, subject S, trial R. T-pose and background recordings
(`t-pose`, `b01`) are documented non-takes and are skipped silently.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Collection
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.config import DatasetSpec
from pipeline.records import Clip, SensorStream, SourceError, Take
from pipeline.sources import Scan, add_sensor_file, index_of, requested_modalities, walk_files

CLUSTER_CAMERAS = {1: (0, 4), 2: (4, 4), 3: (8, 2), 4: (10, 2)}  # cluster -> (camera offset, cameras)
ACC_PATTERN = re.compile(r"acc_h(\d+)_s(\d+)_a(\d+)_r(\d+)\.txt", re.IGNORECASE)
TIMES_PATTERN = re.compile(r"time_stamps_img_s(\d+)_a(\d+)_r(\d+)\.txt", re.IGNORECASE)
NON_TAKE = re.compile(r"(^|[_/])(t-?pose|b\d+)($|[_.])", re.IGNORECASE)
FRAME_NUMBER = re.compile(r"_(\d+)\.pgm$", re.IGNORECASE)


def take_key(subject: int, action: int, repetition: int) -> str:
    return f"s{subject:02d}_a{action:02d}_r{repetition:02d}"


def camera_number(cluster: int, cam: int) -> int | None:
    """1..12 for a valid (cluster, cam) pair, else None."""
    if cluster not in CLUSTER_CAMERAS:
        return None
    offset, count = CLUSTER_CAMERAS[cluster]
    return offset + cam if 1 <= cam <= count else None


CAMERA_LEVELS = (r"cluster(\d+)", r"cam(\d+)", r"s(\d+)", r"a(\d+)")


def _camera_chain(folder: Path, depth: int = 4) -> tuple[int, ...] | None:
    """(cluster, cam, subject, action)[:depth] when folder ends in `Cluster{LL}/Cam{CC}/S{SS}/A{AA}`[:depth]."""
    parts = folder.parts[-depth:]
    if len(parts) < depth:
        return None
    numbers = [index_of(p, name) for p, name in zip(CAMERA_LEVELS[:depth], parts)]
    return None if None in numbers else tuple(numbers)


def _has_frames(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(e.name.lower().endswith(".pgm") for e in entries)


def scan(root: Path, spec: DatasetSpec, modalities: Collection[str] | None = None) -> Scan:
    """Takes from accelerometer files and camera folders, paired by (S, A, R); frame folders are not listed."""
    found = _BerkeleyScan(spec, requested_modalities(spec, modalities))
    for folder, entry in walk_files(Path(root), found.prune):
        found.add_text_file(folder / entry.name)
    return found.result()


class _BerkeleyScan:
    """What one walk of a Berkeley-MHAD tree finds: `prune` records camera folders as clips (never
    descending into their frames), `add_text_file` records accelerometer and time-stamp files, and
    `result` pairs them by take key. Every skipped path adds one line to `problems`."""

    def __init__(self, spec: DatasetSpec, wanted: Collection[str]):
        self.spec, self.wanted = spec, wanted
        self.problems: list[str] = []
        self.sensor_files: dict[str, dict[str, Path]] = {}
        self.clip_folders: dict[tuple[str, int], Path] = {}
        self.time_files: dict[str, Path] = {}
        self.ids: dict[str, tuple[int, int, int]] = {}
        self.found_modalities: set[str] = set()

    def label_ok(self, where: Path, action: int) -> bool:
        """True for an action A01..A{num_classes}; otherwise False and a problem line naming `where`."""
        if 1 <= action <= self.spec.num_classes:
            return True
        self.problems.append(f"{where}: action A{action:02d} outside A01..A{self.spec.num_classes:02d} (skipped)")
        return False

    def prune(self, folder: Path, child: str) -> bool:
        """Never descend into frame folders (thousands of files); record them as clips instead."""
        if NON_TAKE.search(child):
            return True
        repetition = index_of(r"r(\d+)", child)
        if repetition is None:
            if _camera_chain(folder, 3) is not None and index_of(r"a(\d+)", child) is None:
                self.problems.append(f"{folder / child}: unexpected folder in a camera tree (skipped)")
                return True
            return False
        chain = _camera_chain(folder)
        if chain is not None:  # R folders of other sensors (e.g. Kinect) hold frames too: pruned either way
            self.add_clip(folder / child, *chain, repetition)
        return True

    def add_clip(self, path: Path, cluster: int, cam: int, subject: int, action: int, repetition: int) -> None:
        """The R folder `path` as the clip of its take and camera, unless the camera or action is out of
        range, it holds no frames, or that (take, camera) already has a folder."""
        camera = camera_number(cluster, cam)
        if camera is None:
            self.problems.append(f"{path}: Cluster{cluster:02d}/Cam{cam:02d} is not one of the 12 cameras (skipped)")
            return
        if not self.label_ok(path, action):
            return
        key = take_key(subject, action, repetition)
        if not _has_frames(path):
            self.problems.append(f"{path}: no .pgm frames (skipped)")
        elif (key, camera) in self.clip_folders:
            self.problems.append(f"{path}: duplicate of {self.clip_folders[key, camera]} (skipped)")
        else:
            self.clip_folders[key, camera] = path
            self.ids[key] = (subject, action, repetition)

    def add_text_file(self, path: Path) -> None:
        """An accelerometer file (a take's stream), a camera time-stamp file, or a problem line."""
        name, lower = path.name, path.name.lower()
        if not lower.endswith(".txt"):
            return
        acc, times = ACC_PATTERN.fullmatch(name), TIMES_PATTERN.fullmatch(name)
        if acc is not None:
            self.add_sensor_file(path, *(int(g) for g in acc.groups()))
        elif times is not None:
            self.time_files.setdefault(take_key(*(int(g) for g in times.groups())), path)
        elif (lower.startswith("acc_") or lower.startswith("time_stamps")) and not NON_TAKE.search(name):
            self.problems.append(f"{path}: unexpected accelerometer or time-stamp file name (skipped)")

    def add_sensor_file(self, path: Path, shimmer: int, subject: int, action: int, repetition: int) -> None:
        """Shimmer `shimmer`'s file as its take's `acc_h{HH}` stream. A modality outside the spec, an action out
        of range or a second file for the slot is a problem line; a modality not asked for is ignored."""
        modality = f"acc_h{shimmer:02d}"
        if modality not in self.spec.sensors:
            self.problems.append(f"{path}: {modality} is not a sensor of {self.spec.name} (skipped)")
            return
        if modality not in self.wanted or not self.label_ok(path, action):
            return
        key = take_key(subject, action, repetition)
        if add_sensor_file(self.sensor_files, key, modality, path, self.problems):
            self.found_modalities.add(modality)
            self.ids[key] = (subject, action, repetition)

    def result(self) -> Scan:
        """Takes and clips sorted by key; time-stamp files only of takes that have a sensor file or a clip."""
        takes = []
        for key in sorted(self.ids):
            subject, action, repetition = self.ids[key]
            files = {m: self.sensor_files[key][m] for m in self.wanted if m in self.sensor_files.get(key, {})}
            takes.append(Take(key=key, label=action - 1, subject=subject, trial=repetition, sensor_files=files))
        clips = [Clip(take_key=key, camera=camera, video=path)
                 for (key, camera), path in sorted(self.clip_folders.items())]
        return Scan(takes=takes, clips=clips, problems=self.problems,
                    missing_modalities=[m for m in self.wanted if m not in self.found_modalities],
                    frame_time_files={k: v for k, v in sorted(self.time_files.items()) if k in self.ids})


def _read_table(path: Path, columns: int, layout: str) -> np.ndarray:
    """Whitespace-separated numeric text -> (rows, columns) float64; a bad row is named by line number."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy warns on an empty file; reported below
            table = np.loadtxt(path, dtype=np.float64, comments=None, ndmin=2)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except ValueError:
        table = None
    if table is not None and table.size == 0:
        raise SourceError(f"{path}: empty file")
    if table is not None and table.shape[1] == columns:
        return table
    text = path.read_text(encoding="ascii", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != columns:
                raise ValueError
            [float(f) for f in fields]
        except ValueError:
            raise SourceError(f"{path}: line {number} is not '{layout}': {line.strip()[:60]!r}") from None
    raise SourceError(f"{path}: not a table of '{layout}' rows")


def read_stream(path: Path, modality: str) -> SensorStream:
    """Raw accelerometer stream: times = unix seconds (column 4), values (N, 3) in g (columns 1-3)."""
    if not re.fullmatch(r"acc_h\d\d", modality):
        raise ValueError(f"Berkeley-MHAD modalities are acc_h01..acc_h06, not {modality!r}")
    table = _read_table(path, 4, "ax ay az unix_time")
    return SensorStream(times=table[:, 3].copy(), values=np.ascontiguousarray(table[:, :3]))


def read_frame_times(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Camera time stamps: (frame_index (N,) int64, unix_seconds (N,) float64) in file order."""
    table = _read_table(path, 2, "frame_index unix_seconds")
    index = table[:, 0]
    if not np.array_equal(index, np.round(index)) or (index < 0).any():
        raise SourceError(f"{path}: frame indices are not non-negative integers")
    return index.astype(np.int64), table[:, 1].copy()


def frame_files(folder: Path) -> list[Path]:
    """The .pgm frames of a clip folder sorted by their trailing frame number `_{FFFFF}.pgm`."""
    folder = Path(folder)
    try:
        names = [e.name for e in os.scandir(folder) if e.name.lower().endswith(".pgm")]
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list frame folder ({exc.strerror})") from exc
    if not names:
        raise SourceError(f"{folder}: no .pgm frames")
    numbered = []
    for name in names:
        match = FRAME_NUMBER.search(name)
        if match is None:
            raise SourceError(f"{folder / name}: frame name does not end in _<number>.pgm")
        numbered.append((int(match.group(1)), name))
    numbered.sort()
    return [folder / name for _, name in numbered]


PILLOW_ERRORS = (OSError, ValueError, Image.DecompressionBombError)  # what Image.open raises on a bad header


def _read_pgm(path: Path) -> np.ndarray:
    """Binary PGM (P5) -> (H, W) uint8, header and raster decoded by Pillow; a sample v of maxval M
    becomes round(v * 255 / M), halves up (_scale), so 8-bit maxval 255 is kept as is and 16-bit
    samples (big-endian, M > 255) land on 0-255.

    Pillow's array is the file's own samples only for maxval 255 (mode L) and 65535 (I;16B, read
    into mode I). For any other maxval its PPM decoder rescales by itself, halves to even (maxval 6:
    1 -> 42, not 43), 16-bit ones to 0-65535 first, in a Python loop per pixel (0.3 s a 640x480 frame);
    those rasters are read here with numpy, at the offset where Pillow's header parse stopped.
    Header forms are Pillow's: a comment must follow whitespace, so `P5#...` or `640#...` (a comment
    glued to a field, which the former hand parser read) is a malformed header. Any bad file is a
    one-line SourceError naming it.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from exc
    if data[:2] != b"P5":
        raise SourceError(f"{path}: not a binary PGM (magic {data[:2]!r}, expected b'P5')")
    try:
        with Image.open(io.BytesIO(data), formats=["PPM"]) as image:
            return _pgm_samples(path, data, image)
    except UnidentifiedImageError:
        raise SourceError(f"{path}: malformed PGM header (Pillow's PPM reader does not identify it)") from None
    except PILLOW_ERRORS as exc:
        raise SourceError(f"{path}: malformed PGM header ({exc})") from exc


def _pgm_samples(path: Path, data: bytes, image: Image.Image) -> np.ndarray:
    """The (H, W) uint8 frame of `data`, a P5 file whose header `image` (Pillow, not yet loaded) has read."""
    width, height = image.size
    codec, _, offset, args = image.tile[0]
    if codec == "ppm":  # Pillow's rescaling decoder: a maxval other than 255 and 65535
        maxval = args[-1]
    else:
        maxval = 255 if image.mode == "L" else 65535
    if width < 2 or height < 2:
        raise SourceError(f"{path}: unsupported PGM size {width}x{height} (a Bayer frame needs 2x2)")
    sample = np.dtype(np.uint8 if maxval < 256 else ">u2")
    expected = width * height * sample.itemsize
    if len(data) - offset < expected:
        raise SourceError(f"{path}: PGM raster has {max(0, len(data) - offset)} bytes, "
                          f"expected {expected} ({width}x{height})")
    if codec == "ppm":
        samples = np.frombuffer(data, dtype=sample, count=width * height, offset=offset).reshape(height, width)
    else:
        samples = np.asarray(image)  # the raw decoder: the length check above leaves it nothing to fail on
    return samples if maxval == 255 else _scale(samples.astype(np.uint32), maxval)


def _scale(image: np.ndarray, maxval: int) -> np.ndarray:
    """Integer samples in [0, maxval] -> uint8 in [0, 255], rounded."""
    return ((np.minimum(image, maxval) * 255 + maxval // 2) // maxval).astype(np.uint8)


def demosaic_grbg(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaic of a GRBG Bayer mosaic (H, W) uint8 -> (H, W, 3) uint8 RGB.

    Row 0 reads G R G R ..., row 1 B G B G ...; a missing colour is the mean of its 2 or 4
    nearest same-colour neighbours (kernels [1 2 1; 2 4 2; 1 2 1]/4 for R, B and [0 1 0; 1 4 1; 0 1 0]/4 for G).
    """
    h, w = raw.shape
    # Mirror padding without repeating the edge keeps the Bayer phase of every neighbour.
    padded = np.pad(raw.astype(np.uint16), 1, mode="reflect")
    rows = np.arange(h + 2)[:, None] - 1
    cols = np.arange(w + 2)[None, :] - 1
    red = ((rows % 2 == 0) & (cols % 2 == 1)).astype(np.uint16)
    blue = ((rows % 2 == 1) & (cols % 2 == 0)).astype(np.uint16)
    green = 1 - red - blue

    def shifted(plane: np.ndarray, dy: int, dx: int) -> np.ndarray:
        return plane[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    def interpolate(plane: np.ndarray, diagonal: bool) -> np.ndarray:
        total = 4 * shifted(plane, 0, 0)
        weight = 2 if diagonal else 1
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            total = total + weight * shifted(plane, dy, dx)
        if diagonal:
            for dy, dx in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                total = total + shifted(plane, dy, dx)
        return ((total + 2) // 4).astype(np.uint8)

    return np.stack(
        [interpolate(padded * red, True), interpolate(padded * green, False), interpolate(padded * blue, True)],
        axis=-1,
    )


def read_bayer_frame(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of one GRBG Bayer PGM frame (8- or 16-bit)."""
    return demosaic_grbg(_read_pgm(Path(path)))
