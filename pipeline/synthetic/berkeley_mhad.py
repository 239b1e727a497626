"""Berkeley-MHAD raw layout: Bayer PGM frames per camera, camera timestamps, six Shimmer accelerometers.

Camera/Cluster{LL}/Cam{CC}/S{SS}/A{AA}/R{RR}/img_l{LL}_c{CC}_s{SS}_a{AA}_r{RR}_{FFFFF}.pgm (8-bit P5, GRBG),
Camera/Time_stamps/time_stamps_img_s{SS}_a{AA}_r{RR}.txt ('frame unix_seconds'),
Accelerometer/Shimmer{HH}/acc_h{HH}_s{SS}_a{AA}_r{RR}.txt ('ax ay az unix_seconds', g, +-2 g, about 31 Hz
in packets). Shimmers 1-2 wrists (right, left), 3-4 hips, 5-6 ankles.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .common import SynthSummary, add_noise, check_counts, resolve_classes, rng_for, subject_style, take_params
from .motion import GRAVITY, motion_for, pose_at, sensor_readings
from .render import Camera, background, bayer_grbg, palette, render_frames, write_pgm

FRAME_PERIOD_S = 0.046875  # about 21.3 fps, as the real camera timestamps
SAMPLE_PERIOD_S = 1 / 31.25
POLL_PERIOD_S = 0.0225
FRAME_SIZE = (480, 640)
SHIMMER_SITES = ("right_wrist", "left_wrist", "right_hip", "left_hip", "right_ankle", "left_ankle")
DEFAULT_CAMERAS = (1,)
UNIX_EPOCH_START = 1309539264.0
LSB_G = 1 / 512


def camera_location(camera: int) -> tuple[int, int]:
    """Flattened camera id 1..12 -> (cluster, cam): Cluster01-02 hold Cam01-04, Cluster03-04 Cam01-02."""
    table = [(1, c) for c in range(1, 5)] + [(2, c) for c in range(1, 5)] + [(3, 1), (3, 2), (4, 1), (4, 2)]
    if not 1 <= camera <= 12:
        raise ValueError(f"berkeley-mhad camera ids are 1..12, got {camera}")
    return table[camera - 1]


def camera_view(camera: int) -> Camera:
    """Clusters stand around the subject: each camera id a distinct yaw."""
    cluster, cam = camera_location(camera)
    yaw = {1: -35.0, 2: 35.0, 3: -70.0, 4: 70.0}[cluster] + 6.0 * (cam - 1)
    return Camera(yaw=yaw, shift=(0.0, 0.02 * (cam - 1)))


def packet_times(duration: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """True sample times and the logged times of a Shimmer, seconds from the take start.

    Samples (31.25 Hz, a few lost) are logged when the receiver polls, every 22.5 ms: logged gaps are
    mostly about 22 or 45 ms, with 1 ms steps where two samples arrive in one poll.
    """
    true = np.arange(0.0, duration, SAMPLE_PERIOD_S) + rng.uniform(0, SAMPLE_PERIOD_S)
    keep = np.ones(true.size, dtype=bool)
    for start in np.flatnonzero(rng.random(true.size) < 0.01):
        keep[start:start + int(rng.integers(1, 4))] = False
    keep[:2] = True
    true = true[keep]
    phase = rng.uniform(0, POLL_PERIOD_S)
    late = (rng.random(true.size) < 0.2).astype(int)  # a sample missing its poll waits for the next one
    index = np.maximum.accumulate(np.ceil((true - phase) / POLL_PERIOD_S).astype(int) + late)
    logged = index * POLL_PERIOD_S + phase + np.abs(rng.normal(0, 0.0015, size=true.size))
    for i in np.flatnonzero(np.diff(index) == 0) + 1:
        logged[i] = logged[i - 1] + 0.001
    return true, logged


def accelerometer_lines(values_g: np.ndarray, unix_times: np.ndarray) -> str:
    rows = np.column_stack([values_g, unix_times])
    return "".join(f"{a:.6f} {b:.6f} {c:.6f} {t:.6f}\n" for a, b, c, t in rows)


def write(out: Path, *, subjects: int, takes: int, classes: Sequence[int] | None, seed: int,
          quirks: bool = False, frame_size: tuple[int, int] | None = None,
          cameras: Sequence[int] = DEFAULT_CAMERAS) -> SynthSummary:
    check_counts(subjects, takes, 12, 5, "berkeley-mhad")
    labels = resolve_classes("berkeley-mhad", classes)
    size = tuple(frame_size or FRAME_SIZE)
    locations = {camera: camera_location(camera) for camera in cameras}
    summary = SynthSummary(root=out)
    no_acc = (min(2, subjects), labels[-1], takes) if quirks else None
    spike = (1, labels[0], 1) if quirks and (1, labels[0], 1) != no_acc else None
    if no_acc is not None:
        s, a, r = no_acc
        summary.quirks.append(f"missing accelerometer take s{s:02d}_a{a + 1:02d}_r{r:02d} for all six Shimmers "
                              "(camera frames and timestamps exist)")
    if spike is not None:
        summary.quirks.append(f"broken packet in Shimmer01 s01_a{labels[0] + 1:02d}_r01: one sample reads "
                              "17.5 g with another axis at -2.000")
    for subject in range(1, subjects + 1):
        style = subject_style(seed, "berkeley-mhad", subject)
        look = np.random.default_rng(style.look_seed)
        base, colours = background(look, size), palette(look)
        for label in labels:
            spec = motion_for("berkeley-mhad", label)
            for rep in range(1, takes + 1):
                rng = rng_for(seed, "berkeley-mhad", 1, subject, label, rep)
                take = take_params(style, spec, rng)
                key = f"s{subject:02d}_a{label + 1:02d}_r{rep:02d}"
                clock = UNIX_EPOCH_START + 86400.0 * subject + 600.0 * label + 60.0 * rep + float(rng.uniform(0, 1))

                frame_times = np.arange(float(rng.uniform(0.05, 0.15)), take.duration, FRAME_PERIOD_S)
                stamps = out / "Camera" / "Time_stamps" / f"time_stamps_img_{key}.txt"
                stamps.parent.mkdir(parents=True, exist_ok=True)
                stamps.write_text("".join(f"{i} {clock + t:.6f}\n" for i, t in enumerate(frame_times)))
                joints = pose_at(spec, take, style.body, frame_times).joints
                for camera, (cluster, cam) in locations.items():
                    folder = (out / "Camera" / f"Cluster{cluster:02d}" / f"Cam{cam:02d}" / f"S{subject:02d}"
                              / f"A{label + 1:02d}" / f"R{rep:02d}")
                    folder.mkdir(parents=True, exist_ok=True)
                    frames = render_frames(base, joints, camera_view(camera), colours)
                    for index, frame in enumerate(frames):
                        name = f"img_l{cluster:02d}_c{cam:02d}_{key}_{index:05d}.pgm"
                        write_pgm(folder / name, bayer_grbg(frame))
                    summary.n_clips += 1

                summary.n_takes += 1
                if (subject, label, rep) != no_acc:
                    _write_shimmers(out, key, spec, take, style.body, clock, (seed, subject, label, rep),
                                    spike=(subject, label, rep) == spike)
    return summary


def _write_shimmers(out: Path, key: str, spec, take, body, clock: float, where: tuple[int, int, int, int],
                    spike: bool) -> None:
    """The six Shimmers' accelerometer files of one take: packet times, readings in g with noise, 16-bit
    quantisation and the +-2 g range; `spike`: Shimmer01 gets one broken packet (17.5 g). `where`:
    (seed, subject, label, repetition), which seeds each Shimmer's own RNG stream."""
    seed, subject, label, rep = where
    for shimmer, site in enumerate(SHIMMER_SITES, start=1):
        sensor_rng = rng_for(seed, "berkeley-mhad", 2, subject, label, rep, shimmer)
        true, logged = packet_times(take.duration, sensor_rng)
        acc = sensor_readings(spec, take, body, site, true).acc / GRAVITY
        acc = add_noise(acc, sensor_rng, sigma=0.008, bias=0.01)
        acc = np.clip(np.round(acc / LSB_G) * LSB_G, -2.0, 2.0 - LSB_G)
        if shimmer == 1 and spike:
            row = acc.shape[0] // 2
            acc[row] = (17.5, -2.0, acc[row, 2])
        path = out / "Accelerometer" / f"Shimmer{shimmer:02d}" / f"acc_h{shimmer:02d}_{key}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(accelerometer_lines(acc, clock + logged))
