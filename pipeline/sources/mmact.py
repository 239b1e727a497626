"""MMAct (trimmed): sensor CSVs and camera videos anywhere under the root.

- sensors: `{modality}_clip/subject{N}/scene{M}/session{P}/<action>.csv`, modality in
  acc_phone, acc_watch, gyro, orientation; rows `YYYYMMDD_HH:MM:SS[.ffffff],x,y,z`, no header
  (a few malformed lines are skipped and noted: parse_sensor_csv).
- videos: `subject{N}/cam{C}/scene{M}/session{P}/<action>.mp4` (any prefix, e.g. cross_view/trainval/).
Take key `subject{N}/scene{M}/session{P}/{action lower-cased}`, label = index of the lower-cased
action in the class list; clip camera C (1..4).
"""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np

from pipeline.config import DatasetSpec
from pipeline.records import Clip, SensorStream, SourceError, Take
from pipeline.sources import Scan, add_sensor_file, index_of, requested_modalities, walk_files

SENSOR_FOLDER = re.compile(r"(acc_phone|acc_watch|gyro|orientation)_clip", re.IGNORECASE)
ROW_PATTERN = re.compile(
    rb"^[ \t]*(\d{8})_(\d{2}):(\d{2}):(\d{2}(?:\.\d*)?)[ \t]*,([^,\r\n]*),([^,\r\n]*),([^,\r\n]*?)[ \t\r]*$",
    re.MULTILINE,
)
NONBLANK_LINE = re.compile(rb"^[ \t\r]*[^\s]", re.MULTILINE)
SENSOR_LAYOUT = "{modality}_clip/subject{N}/scene{M}/session{P}/"
ROW_LAYOUT = "YYYYMMDD_HH:MM:SS[.ffffff],x,y,z"
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# A CSV keeps its take while at most this share of its non-blank lines is malformed: a stray
# garbage or cut-short line is skipped, yet a file that is mostly garbage (or short, with a bad
# line: 1 bad line needs 19 good ones) is refused rather than trusted.
MAX_SKIPPED_SHARE = 0.05


def _location(parts: tuple[str, ...]) -> tuple[int, int, int] | None:
    """(subject, scene, session) from folder names `subject{N}`, `scene{M}`, `session{P}`."""
    numbers = [index_of(p, name) for p, name in zip((r"subject(\d+)", r"scene(\d+)", r"session(\d+)"), parts)]
    return None if None in numbers else tuple(numbers)


def scan(root: Path, spec: DatasetSpec, modalities: Collection[str] | None = None) -> Scan:
    """Takes keyed by subject/scene/session/action, from sensor CSVs and videos; unknown actions are problems."""
    found = _MMActScan(spec, requested_modalities(spec, modalities))
    for folder, entry in walk_files(Path(root)):
        path = folder / entry.name
        suffix = path.suffix.lower()
        if suffix == ".csv":
            found.add_csv(path)
        elif suffix == ".mp4":
            found.add_video(path)
    return found.result()


class _MMActScan:
    """What one walk of an MMAct tree finds: `add_csv` records a sensor file, `add_video` a camera's
    video, both keyed by take (`identify`); `result` pairs them. Every skipped path adds one line to
    `problems`."""

    def __init__(self, spec: DatasetSpec, wanted: Collection[str]):
        self.spec, self.wanted = spec, wanted
        self.class_index = {name.lower(): i for i, name in enumerate(spec.classes)}
        self.problems: list[str] = []
        self.sensor_files: dict[str, dict[str, Path]] = {}
        self.videos: dict[tuple[str, int], Path] = {}
        self.ids: dict[str, tuple[int, int, int, int]] = {}
        self.found_modalities: set[str] = set()

    def identify(self, path: Path, location: tuple[int, int, int] | None, what: str) -> tuple[str, tuple] | None:
        """(take key, (label, subject, scene, session)) of a file, or None with a problem line."""
        if location is None:
            self.problems.append(f"{path}: {what} not under subject{{N}}/scene{{M}}/session{{P}}/ (skipped)")
            return None
        action = path.stem.lower()
        if action not in self.class_index:
            self.problems.append(f"{path}: unknown action {path.stem!r} (skipped)")
            return None
        subject, scene, session = location
        key = f"subject{subject}/scene{scene}/session{session}/{action}"
        return key, (self.class_index[action], subject, scene, session)

    def add_csv(self, path: Path) -> None:
        """A CSV under `{modality}_clip/subject{N}/scene{M}/session{P}/` as its take's stream of that modality."""
        parts = path.parent.parts
        sensor = SENSOR_FOLDER.fullmatch(parts[-4]) if len(parts) >= 4 else None
        if sensor is None:
            self.problems.append(f"{path}: CSV not under {SENSOR_LAYOUT} (skipped)")
            return
        modality = sensor.group(1).lower()
        if modality not in self.spec.sensors:
            self.problems.append(f"{path}: {modality} is not a sensor of {self.spec.name} (skipped)")
            return
        found = self.identify(path, _location(parts[-3:]), "CSV") if modality in self.wanted else None
        if found is not None and add_sensor_file(self.sensor_files, found[0], modality, path, self.problems):
            self.found_modalities.add(modality)
            self.ids[found[0]] = found[1]

    def add_video(self, path: Path) -> None:
        """An .mp4 under `subject{N}/cam{C}/scene{M}/session{P}/` as the clip of its take and camera C."""
        parts = path.parent.parts
        camera = index_of(r"cam(\d+)", parts[-3]) if len(parts) >= 4 else None
        location = _location((parts[-4], parts[-2], parts[-1])) if camera is not None else None
        if camera is None or not 1 <= camera <= 4:
            self.problems.append(f"{path}: video not under subject{{N}}/cam{{1-4}}/scene{{M}}/session{{P}}/ (skipped)")
            return
        found = self.identify(path, location, "video")
        if found is None:
            return
        key = found[0]
        if (key, camera) in self.videos:
            self.problems.append(f"{path}: duplicate of {self.videos[key, camera]} (skipped)")
            return
        self.videos[key, camera] = path
        self.ids[key] = found[1]

    def result(self) -> Scan:
        """Takes and clips sorted by key; the requested modalities no file had are `missing_modalities`."""
        takes = []
        for key in sorted(self.ids):
            label, subject, scene, session = self.ids[key]
            files = {m: self.sensor_files[key][m] for m in self.wanted if m in self.sensor_files.get(key, {})}
            takes.append(Take(key=key, label=label, subject=subject, scene=scene, session=session, sensor_files=files))
        clips = [Clip(take_key=key, camera=camera, video=path) for (key, camera), path in sorted(self.videos.items())]
        missing = [m for m in self.wanted if m not in self.found_modalities]
        return Scan(takes=takes, clips=clips, problems=self.problems, missing_modalities=missing)


def _table(data: bytes, rows: int) -> np.ndarray:
    """(rows, 7) float64: date, hour, minute, second, x, y, z of every row; ValueError when any row is not
    `YYYYMMDD_HH:MM:SS[.ffffff],x,y,z`.

    With `_` and `:` turned into commas every row is 7 numbers, parsed by numpy in C.
    """
    if not (data.count(b"_") == rows and data.count(b":") == 2 * rows and data.count(b",") == 3 * rows):
        raise ValueError
    flat = data.replace(b"_", b",").replace(b":", b",")
    table = np.loadtxt(io.BytesIO(flat), delimiter=",", comments=None, ndmin=2, dtype=np.float64)
    if table.shape != (rows, 7) or (table[:, :4] < 0).any() or (table[:, 0] != np.floor(table[:, 0])).any():
        raise ValueError
    return table


def _is_row(line: bytes) -> bool:
    """One line of the layout: ROW_PATTERN with three numbers (without `_`, which float() reads and numpy not)."""
    match = ROW_PATTERN.fullmatch(line)
    if match is None or any(b"_" in value for value in match.group(5, 6, 7)):
        return False
    try:
        [float(value) for value in match.group(5, 6, 7)]
    except ValueError:
        return False
    return True


def _table_without_bad_lines(path: Path, data: bytes) -> tuple[np.ndarray, str]:
    """The table of the file's valid rows and a one-line note on the lines skipped, or the SourceError
    naming the first bad line when too much of the file is bad (see MAX_SKIPPED_SHARE)."""
    lines = [(number, line) for number, line in enumerate(data.splitlines(), start=1) if line.strip()]
    good, bad = [], []
    for number, line in lines:
        (good if _is_row(line) else bad).append((number, line))
    if len(bad) > MAX_SKIPPED_SHARE * len(lines):
        number, line = bad[0]
        text = line.decode("ascii", errors="replace").strip()[:60]
        raise SourceError(f"{path}: line {number} is not '{ROW_LAYOUT}': {text!r}")
    try:
        table = _table(b"\n".join(line for _, line in good), len(good))
    except ValueError:
        raise SourceError(f"{path}: not a table of '{ROW_LAYOUT}' rows") from None
    if not bad:
        return table, ""
    plural = "s" if len(bad) > 1 else ""
    return table, f"skipped {len(bad)} malformed line{plural} of {len(lines)} in {path} (first: line {bad[0][0]})"


def parse_sensor_csv(path: Path, data: bytes) -> SensorStream:
    """Rows of one MMAct CSV -> times (N,) seconds since 1970-01-01 (clock time read as UTC), values (N, 3).

    A bad line costs a line: a row that is not `YYYYMMDD_HH:MM:SS[.ffffff],x,y,z` (a garbage or
    cut-short line, a header) is skipped and counted in the stream's `warning`, as long as such
    lines are at most MAX_SKIPPED_SHARE of the file's non-blank lines; a file with more (mostly
    garbage, or a short file with a bad line) is refused, naming its first bad line. A row of the
    layout with an impossible clock time or date is a wrong clock, not a damaged line: it refuses
    the file. The whole file is parsed by numpy at once; only a file that fails that is re-read
    line by line.
    """
    if not data.strip():
        raise SourceError(f"{path}: empty file")
    try:
        table, warning = _table(data, len(NONBLANK_LINE.findall(data))), ""
    except ValueError:
        table, warning = _table_without_bad_lines(path, data)
    hours, minutes, seconds = table[:, 1], table[:, 2], table[:, 3]
    bad_clock = (hours >= 24) | (minutes >= 60) | (seconds >= 61)
    if bad_clock.any():
        row = int(np.argmax(bad_clock))
        clock = f"{int(hours[row]):02d}:{int(minutes[row]):02d}:{seconds[row]:09.6f}"
        raise SourceError(f"{path}: invalid clock time {clock} in row {row + 1}")
    dates, date_index = np.unique(table[:, 0], return_inverse=True)
    day_seconds = np.empty(len(dates))
    for i, date in enumerate(dates):
        try:
            day = dt.datetime.strptime(f"{int(date):08d}", "%Y%m%d").toordinal()
        except ValueError:
            raise SourceError(f"{path}: invalid date '{int(date):08d}' in a timestamp") from None
        day_seconds[i] = (day - EPOCH_ORDINAL) * 86400.0
    clock = hours * 3600.0 + minutes * 60.0 + seconds
    return SensorStream(times=day_seconds[date_index.ravel()] + clock, values=np.ascontiguousarray(table[:, 4:7]),
                        warning=warning)


def read_stream(path: Path, modality: str) -> SensorStream:
    """Raw stream of one sensor CSV (file order kept: may be unsorted or hold repeated times)."""
    if modality not in ("acc_phone", "acc_watch", "gyro", "orientation"):
        raise ValueError(f"MMAct modalities are acc_phone, acc_watch, gyro, orientation, not {modality!r}")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_sensor_csv(path, data)
