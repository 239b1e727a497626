"""UTD-MHAD raw layout: RGB/a{A}_s{S}_t{T}_color.avi and Inertial/a{A}_s{S}_t{T}_inertial.mat.

Inertial: MATLAB 5 (zlib) variable d_iner (N, 6) float64 at 50 Hz, acc in g then gyro in deg/s,
from the right-wrist sensor (a1-a21) or the right-thigh sensor (a22-a27).
"""
from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io

from .common import SynthSummary, add_noise, check_counts, resolve_classes, rng_for, subject_style, take_params
from .motion import GRAVITY, motion_for, pose_at, sensor_readings
from .render import Camera, background, palette, render_frames, write_video

RATE_HZ = 50.0
FPS = Fraction(30)
FRAME_SIZE = (480, 640)
MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: Sat Jan 03 21:17:45 2015"


def mat_bytes(d_iner: np.ndarray) -> bytes:
    """A compressed MATLAB 5 file holding d_iner, with a fixed header text (no wall-clock date)."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"d_iner": d_iner}, do_compression=True, oned_as="column")
    data = buffer.getvalue()
    return MAT_HEADER.ljust(116, b" ") + data[116:]


def inertial(label: int, take, body, rng: np.random.Generator) -> np.ndarray:
    """(N, 6) float64: acc (g) and gyro (deg/s) of the class's sensor site at 50 Hz, with noise."""
    site = "right_wrist" if label < 21 else "right_thigh"
    times = np.arange(int(round(take.duration * RATE_HZ))) / RATE_HZ
    readings = sensor_readings(motion_for("utd-mhad", label), take, body, site, times)
    acc = add_noise(readings.acc / GRAVITY, rng, sigma=0.01, bias=0.01)
    gyro = add_noise(np.degrees(readings.gyro), rng, sigma=1.5, bias=1.0)
    return np.concatenate([acc, gyro], axis=1).astype(np.float64)


def write(out: Path, *, subjects: int, takes: int, classes: Sequence[int] | None, seed: int,
          quirks: bool = False, frame_size: tuple[int, int] | None = None) -> SynthSummary:
    check_counts(subjects, takes, 8, 4, "utd-mhad")
    labels = resolve_classes("utd-mhad", classes)
    size = tuple(frame_size or FRAME_SIZE)
    summary = SynthSummary(root=out)
    dropped = (labels[0], 1, takes) if quirks and takes > 1 else None
    if dropped is not None:
        summary.quirks.append(f"missing take a{dropped[0] + 1}_s1_t{takes}: no color.avi and no inertial.mat")
    for subject in range(1, subjects + 1):
        style = subject_style(seed, "utd-mhad", subject)
        look = np.random.default_rng(style.look_seed)
        base, colours = background(look, size), palette(look)
        for label in labels:
            spec = motion_for("utd-mhad", label)
            for trial in range(1, takes + 1):
                if (label, subject, trial) == dropped:
                    continue
                rng = rng_for(seed, "utd-mhad", 1, subject, label, trial)
                take = take_params(style, spec, rng)
                stem = f"a{label + 1}_s{subject}_t{trial}"
                mat = out / "Inertial" / f"{stem}_inertial.mat"
                mat.parent.mkdir(parents=True, exist_ok=True)
                mat.write_bytes(mat_bytes(inertial(label, take, style.body, rng)))
                frame_times = np.arange(int(round(take.duration * float(FPS)))) / float(FPS)
                joints = pose_at(spec, take, style.body, frame_times).joints
                camera = Camera(yaw=float(rng.uniform(-15, 15)), shift=(float(rng.uniform(-0.04, 0.04)), 0.0))
                write_video(out / "RGB" / f"{stem}_color.avi", render_frames(base, joints, camera, colours),
                            FPS, "mpeg4", {"qmin": "5", "qmax": "5", "threads": "1"})
                summary.n_takes += 1
                summary.n_clips += 1
    return summary
