"""UTD-MHAD: `a{A}_s{S}_t{T}_color.avi` and `a{A}_s{S}_t{T}_inertial.mat` anywhere under the root.

One take per stem `a{A}_s{S}_t{T}` (label A-1, subject S, trial T), one clip (camera 1) per .avi.
The inertial .mat holds `d_iner` (N, 6) at 50 Hz: `acc` = columns 0-2 (g), `gyro` = 3-5 (deg/s).
"""
from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from pipeline.config import DatasetSpec
from pipeline.records import Clip, SensorStream, SourceError, Take
from pipeline.sources import Scan, requested_modalities, walk_files

RATE_HZ = 50.0
MAT_VARIABLE = "d_iner"
MODALITY_COLUMNS = {"acc": slice(0, 3), "gyro": slice(3, 6)}
NAME_PATTERN = re.compile(r"a(\d+)_s(\d+)_t(\d+)_(\w+)\.(avi|mat)", re.IGNORECASE)
IGNORED_KINDS = {("depth", "mat"), ("skeleton", "mat")}


def scan(root: Path, spec: DatasetSpec, modalities: Collection[str] | None = None) -> Scan:
    """Pair `_color.avi` and `_inertial.mat` files by stem; a take is listed with whatever it has."""
    wanted = requested_modalities(spec, modalities)
    problems: list[str] = []
    videos: dict[str, Path] = {}
    inertial: dict[str, Path] = {}
    ids: dict[str, tuple[int, int, int]] = {}
    for folder, entry in walk_files(Path(root)):
        path = folder / entry.name
        suffix = path.suffix.lower()
        if suffix not in (".avi", ".mat"):
            continue
        match = NAME_PATTERN.fullmatch(entry.name)
        if match is None:
            problems.append(f"{path}: name is not a{{A}}_s{{S}}_t{{T}}_<kind>{suffix} (skipped)")
            continue
        action, subject, trial = (int(g) for g in match.group(1, 2, 3))
        kind = (match.group(4).lower(), match.group(5).lower())
        if kind in IGNORED_KINDS:
            continue
        if kind == ("color", "avi"):
            found = videos
        elif kind == ("inertial", "mat"):
            found = inertial
        else:
            problems.append(f"{path}: unexpected file kind '_{match.group(4)}{suffix}' (skipped)")
            continue
        if not 1 <= action <= spec.num_classes:
            problems.append(f"{path}: action a{action} outside a1..a{spec.num_classes} (skipped)")
            continue
        key = f"a{action}_s{subject}_t{trial}"
        if key in found:
            problems.append(f"{path}: duplicate of {found[key]} (skipped)")
            continue
        found[key] = path
        ids[key] = (action, subject, trial)

    use_inertial = any(m in wanted for m in MODALITY_COLUMNS)
    keys = sorted(set(videos) | (set(inertial) if use_inertial else set()))
    takes = []
    for key in keys:
        action, subject, trial = ids[key]
        files = {m: inertial[key] for m in wanted if key in inertial}
        takes.append(Take(key=key, label=action - 1, subject=subject, trial=trial, sensor_files=files))
    clips = [Clip(take_key=key, camera=1, video=videos[key]) for key in keys if key in videos]
    missing = [m for m in wanted if not inertial]
    return Scan(takes=takes, clips=clips, problems=problems, missing_modalities=missing)


def read_inertial(path: Path) -> np.ndarray:
    """`d_iner` of a MATLAB 5 or v7.3 (HDF5) file as an (N, 6) float64 array."""
    path = Path(path)
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                if MAT_VARIABLE not in f:
                    raise SourceError(f"{path}: no variable '{MAT_VARIABLE}' (found: {', '.join(f) or 'none'})")
                # MATLAB stores column-major, so h5py sees the transpose: (6, N).
                data = np.asarray(f[MAT_VARIABLE][()]).T
        else:
            variables = scipy.io.loadmat(path)
            if MAT_VARIABLE not in variables:
                found = [k for k in variables if not k.startswith("__")]
                raise SourceError(f"{path}: no variable '{MAT_VARIABLE}' (found: {', '.join(found) or 'none'})")
            data = np.asarray(variables[MAT_VARIABLE])
    except SourceError:
        raise
    except Exception as exc:  # scipy and h5py raise many types on corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"{path}: unreadable .mat file ({reason})") from exc
    if data.ndim != 2 or data.shape[1] != 6:
        raise SourceError(f"{path}: '{MAT_VARIABLE}' has shape {data.shape}, expected (N, 6)")
    if not np.issubdtype(data.dtype, np.number):
        raise SourceError(f"{path}: '{MAT_VARIABLE}' is not numeric (dtype {data.dtype})")
    return data.astype(np.float64)


def read_stream(path: Path, modality: str) -> SensorStream:
    """The `acc` (columns 0-2) or `gyro` (3-5) stream of an inertial .mat; times = arange(N) / 50."""
    if modality not in MODALITY_COLUMNS:
        raise ValueError(f"UTD-MHAD has modalities {list(MODALITY_COLUMNS)}, not {modality!r}")
    data = read_inertial(path)
    times = np.arange(len(data), dtype=np.float64) / RATE_HZ
    return SensorStream(times=times, values=np.ascontiguousarray(data[:, MODALITY_COLUMNS[modality]]))
