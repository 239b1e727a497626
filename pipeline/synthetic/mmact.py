"""MMAct trimmed raw layout: sensor CSVs per subject/scene/session and one H.264 video per camera.

trimmed/sensors/{acc_phone,acc_watch,gyro,orientation}_clip/subject{N}/scene{M}/session{P}/<action>.csv
(no header, 'YYYYMMDD_HH:MM:SS.ffffff,x,y,z'), and subject{N}/cam{C}/scene{M}/session{P}/<action>.mp4.
Phone (acc_phone 100 Hz m/s^2, gyro 50 Hz rad/s, orientation irregular, degrees) in the right trouser
pocket; watch (acc_watch 100 Hz m/s^2) on the right wrist. Take i (0-based) of a subject and class is
scene i % 4 + 1, session i % 5 + 1.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import load_dataset
from . import quirks as quirk
from .common import SynthSummary, add_noise, check_counts, resolve_classes, rng_for, subject_style, take_params
from .motion import motion_for, orientation_degrees, pose_at, sensor_readings
from .render import Camera, background, palette, render_frames, write_video

FPS = Fraction(30000, 1001)
FRAME_SIZE = (540, 960)  # half of the real 1080x1920: 1080p H.264 costs about 60 ms a frame here
CAMERA_YAW = {1: -50.0, 2: 50.0, 3: -20.0, 4: 75.0}
SCENE_OCCLUDERS = {2: (0.3, 0.45, 0.52, 1.0), 3: (0.2, 0.62, 0.8, 0.8)}  # occlusion box; desk
START = dt.datetime(2018, 10, 16, 9, 0, 0)
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "profile": "high", "threads": "1"}  # one thread: repeatable bytes


def scene_session(take_index: int) -> tuple[int, int]:
    return take_index % 4 + 1, take_index % 5 + 1


def timestamp_text(start: dt.datetime, offsets_ms: np.ndarray) -> list[str]:
    """'YYYYMMDD_HH:MM:SS.ffffff' for start + offsets (integer milliseconds)."""
    return [(start + dt.timedelta(milliseconds=int(ms))).strftime("%Y%m%d_%H:%M:%S.%f") for ms in offsets_ms]


def java_float(value: float) -> str:
    """Shortest text of a float32 as Java's Float.toString writes it: '-9.051605', '-7.171631E-4'."""
    value = np.float32(value)
    if value != 0 and not 1e-3 <= abs(value) < 1e7:
        mantissa, exponent = np.format_float_scientific(value, unique=True, trim="0", exp_digits=1).split("e")
        return f"{mantissa}E{int(exponent)}"
    return np.format_float_positional(value, unique=True, trim="0")


def csv_lines(stamps: list[str], values: np.ndarray) -> list[str]:
    return [f"{s},{java_float(x)},{java_float(y)},{java_float(z)}\n" for s, (x, y, z) in zip(stamps, values)]


def sensor_files(spec, take, body, rng: np.random.Generator, start: dt.datetime) -> dict[str, list[str]]:
    """Modality -> CSV lines of one take, all on one millisecond clock starting at `start`."""
    duration_ms = int(take.duration * 1000)
    acc_ms = np.arange(0, duration_ms, 10)
    gyro_ms = np.arange(0, duration_ms, 20)
    orient_ms = np.cumsum(rng.integers(8, 33, size=duration_ms // 8))
    orient_ms = orient_ms[orient_ms < duration_ms]
    phone = sensor_readings(spec, take, body, "right_pocket", acc_ms / 1000)
    watch = sensor_readings(spec, take, body, "right_wrist", acc_ms / 1000)
    gyro = sensor_readings(spec, take, body, "right_pocket", gyro_ms / 1000).gyro
    heading = float(rng.uniform(0, 360))
    angles = orientation_degrees(sensor_readings(spec, take, body, "right_pocket", orient_ms / 1000).rotation)
    angles = add_noise(angles, rng, sigma=0.3, bias=0.5)
    angles[:, 0] = (angles[:, 0] + heading) % 360.0
    return {
        "acc_phone": csv_lines(timestamp_text(start, acc_ms), add_noise(phone.acc, rng, 0.06, 0.08)),
        "acc_watch": csv_lines(timestamp_text(start, acc_ms), add_noise(watch.acc, rng, 0.06, 0.08)),
        "gyro": csv_lines(timestamp_text(start, gyro_ms), add_noise(gyro, rng, 0.01, 0.005)),
        "orientation": csv_lines(timestamp_text(start, orient_ms), angles),
    }


def write(out: Path, *, subjects: int, takes: int, classes: Sequence[int] | None, seed: int,
          quirks: bool = False, frame_size: tuple[int, int] | None = None,
          cameras: Sequence[int] = (1, 2, 3, 4)) -> SynthSummary:
    check_counts(subjects, takes, 20, 20, "mmact")
    labels = resolve_classes("mmact", classes)
    names = load_dataset("mmact").classes
    size = tuple(frame_size or FRAME_SIZE)
    summary = SynthSummary(root=out)
    chosen = _quirk_takes(subjects, takes, labels) if quirks else {}
    for subject in range(1, subjects + 1):
        style = subject_style(seed, "mmact", subject)
        colours = palette(np.random.default_rng(style.look_seed))
        backgrounds: dict[int, np.ndarray] = {}
        for label in labels:
            spec = motion_for("mmact", label)
            for index in range(takes):
                scene, session = scene_session(index)
                where = (subject, label, index)
                action = names[label].capitalize() if chosen.get("capitalised") == where else names[label]
                rng = rng_for(seed, "mmact", 1, subject, label, index)
                take = take_params(style, spec, rng)
                start = START + dt.timedelta(days=subject - 1, minutes=40 * scene + 8 * session,
                                             seconds=20 * label, milliseconds=20 * int(rng.integers(0, 50)))
                relative = Path(f"subject{subject}") / f"scene{scene}" / f"session{session}" / f"{action}.csv"
                quirks_here = {name for name, place in chosen.items() if place == where}
                lines_of = sensor_files(spec, take, style.body, rng, start)
                _write_sensor_files(out, relative, lines_of, quirks_here, rng, summary)
                if action != names[label]:
                    summary.quirks.append(f"capitalised action name {action} (subject{subject} scene{scene} "
                                          f"session{session}): sensor CSVs and videos")
                summary.n_takes += 1

                if scene not in backgrounds:
                    backgrounds[scene] = background(rng_for(seed, "mmact", 2, subject, scene), size)
                frame_times = np.arange(int(take.duration * float(FPS))) / float(FPS)
                joints = pose_at(spec, take, style.body, frame_times).joints
                for camera in cameras:
                    video = (out / f"subject{subject}" / f"cam{camera}" / f"scene{scene}" / f"session{session}"
                             / f"{action}.mp4")
                    frames = render_frames(backgrounds[scene], joints, Camera(yaw=CAMERA_YAW[camera]), colours,
                                           SCENE_OCCLUDERS.get(scene))
                    write_video(video, frames, FPS, "libx264", X264_OPTIONS)
                    if camera == cameras[0] and "corrupt" in quirks_here:
                        quirk.corrupt_video(video, rng)
                        summary.quirks.append(f"corrupt video (truncated, garbage tail) {video.relative_to(out)}")
                    summary.n_clips += 1
    return summary


def _quirk_takes(subjects: int, takes: int, labels: Sequence[int]) -> dict[str, tuple[int, int, int]]:
    """Quirk name -> the one (subject, label, take index) that carries it: first and last subject, class
    and take, so a tree of any size has every quirk (with counts of 1, some share a take)."""
    last = takes - 1
    return {
        "capitalised": (1, labels[0], min(1, last)),
        "shuffled": (1, labels[-1], 0),
        "no_fraction": (1, labels[0], 0),
        "empty": (min(2, subjects), labels[-1], last),
        "cut_short": (subjects, labels[-1], 0),
        "corrupt": (subjects, labels[0], last),
    }


def _write_sensor_files(out: Path, relative: Path, lines_of: dict[str, list[str]], quirks_here: set[str],
                        rng: np.random.Generator, summary: SynthSummary) -> None:
    """One take's CSV per modality under trimmed/sensors/<modality>_clip/<relative>, with the take's
    quirks (shuffled phone timestamps, gyro timestamps without fractions, an empty orientation CSV, a watch
    row cut short)."""
    for modality, lines in lines_of.items():
        if modality == "acc_phone" and "shuffled" in quirks_here:
            lines = quirk.shuffle_timestamps(lines, rng)
            summary.quirks.append(f"duplicated and out-of-order timestamps in acc_phone_clip/{relative}")
        if modality == "gyro" and "no_fraction" in quirks_here:
            lines = quirk.drop_zero_fractions(lines)
            summary.quirks.append(f"timestamps without .ffffff in gyro_clip/{relative}")
        if modality == "acc_watch" and "cut_short" in quirks_here:
            summary.quirks.append(f"a row cut short (line {len(lines) // 2 + 1}) in acc_watch_clip/{relative}")
            lines = quirk.cut_short_line(lines)
        if modality == "orientation" and "empty" in quirks_here:
            lines = []
            summary.quirks.append(f"empty CSV orientation_clip/{relative}")
        path = out / "trimmed" / "sensors" / f"{modality}_clip" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines))
