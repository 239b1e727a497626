"""Numpy rendering of the stick body over a textured background, and the video/frame writers.

Limbs are thick segments drawn with distance-to-segment masks evaluated only inside each
segment's bounding box; one frame is a handful of small vectorised array operations.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .motion import JOINT_INDEX

# (start joint, end joint, thickness as a fraction of the frame height, colour slot)
SEGMENTS = (
    ("pelvis", "neck", 0.075, "shirt"),
    ("r_shoulder", "l_shoulder", 0.04, "shirt"),
    ("r_hip", "l_hip", 0.05, "pants"),
    ("r_hip", "r_knee", 0.045, "pants"), ("r_knee", "r_ankle", 0.04, "right_leg"),
    ("l_hip", "l_knee", 0.045, "pants"), ("l_knee", "l_ankle", 0.04, "left_leg"),
    ("r_shoulder", "r_elbow", 0.035, "shirt"), ("r_elbow", "r_wrist", 0.03, "right_arm"),
    ("l_shoulder", "l_elbow", 0.035, "shirt"), ("l_elbow", "l_wrist", 0.03, "left_arm"),
    ("neck", "head", 0.02, "skin"),
)
HEAD_RADIUS = 0.045  # fraction of the frame height


@dataclass(frozen=True)
class Camera:
    """Pinhole camera on a circle around the subject: yaw in degrees (0 = in front), distance in m."""

    yaw: float = 0.0
    distance: float = 4.0
    height: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # image offset as a fraction of (W, H)


def project(points: np.ndarray, camera: Camera, size: tuple[int, int]) -> np.ndarray:
    """(..., 3) world points -> (..., 2) pixel (x, y) for a frame of size (H, W)."""
    height, width = size
    yaw = np.radians(camera.yaw)
    x = np.cos(yaw) * points[..., 0] + np.sin(yaw) * points[..., 2]
    z = -np.sin(yaw) * points[..., 0] + np.cos(yaw) * points[..., 2]
    y = points[..., 1] - camera.height
    focal = 0.85 * height * camera.distance / 2.0
    depth = camera.distance - z
    u = width * (0.5 + camera.shift[0]) + focal * x / depth
    v = height * (0.5 + camera.shift[1]) - focal * y / depth
    return np.stack([u, v], axis=-1)


def background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 texture: smooth colour noise, diagonal stripes, a floor band and fine grain."""
    height, width = size
    coarse = rng.uniform(60, 200, size=(7, 9, 3))
    yy = np.linspace(0, coarse.shape[0] - 1, height)
    xx = np.linspace(0, coarse.shape[1] - 1, width)
    y0 = np.floor(yy).astype(int).clip(0, coarse.shape[0] - 2)
    x0 = np.floor(xx).astype(int).clip(0, coarse.shape[1] - 2)
    fy, fx = (yy - y0)[:, None, None], (xx - x0)[None, :, None]
    image = ((1 - fy) * (1 - fx) * coarse[y0][:, x0] + (1 - fy) * fx * coarse[y0][:, x0 + 1]
             + fy * (1 - fx) * coarse[y0 + 1][:, x0] + fy * fx * coarse[y0 + 1][:, x0 + 1])
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(0.04, 0.12) * height
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = np.sin(2 * np.pi * (np.cos(angle) * gx + np.sin(angle) * gy) / period)
    image = image + rng.uniform(10, 30) * stripes[..., None]
    floor = gy > 0.82 * height
    image[floor] = 0.6 * image[floor] + 0.4 * rng.uniform(40, 120, size=3)
    image += rng.normal(0, 6, size=(height, width, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def palette(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Clothing colours of one subject; forearms and shins are bright so their motion is visible."""
    return {
        "shirt": rng.integers(20, 110, size=3).astype(np.uint8),
        "pants": rng.integers(20, 90, size=3).astype(np.uint8),
        "right_arm": np.array([235, 60, 40], dtype=np.uint8),
        "left_arm": np.array([40, 90, 235], dtype=np.uint8),
        "right_leg": np.array([250, 215, 40], dtype=np.uint8),
        "left_leg": np.array([30, 225, 205], dtype=np.uint8),
        "skin": np.array([225, 190, 160], dtype=np.uint8),
    }


def _draw_segment(frame: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, colour: np.ndarray) -> None:
    height, width = frame.shape[:2]
    x0 = int(max(np.floor(min(a[0], b[0]) - radius), 0))
    x1 = int(min(np.ceil(max(a[0], b[0]) + radius) + 1, width))
    y0 = int(max(np.floor(min(a[1], b[1]) - radius), 0))
    y1 = int(min(np.ceil(max(a[1], b[1]) + radius) + 1, height))
    if x0 >= x1 or y0 >= y1:
        return
    px = np.arange(x0, x1, dtype=np.float32)[None, :] - a[0]
    py = np.arange(y0, y1, dtype=np.float32)[:, None] - a[1]
    d = b - a
    length2 = max(float(d @ d), 1e-6)
    s = np.clip((px * d[0] + py * d[1]) / length2, 0.0, 1.0)
    dist2 = (px - s * d[0]) ** 2 + (py - s * d[1]) ** 2
    frame[y0:y1, x0:x1][dist2 <= radius * radius] = colour


def render_frame(base: np.ndarray, joints_px: np.ndarray, colours: dict[str, np.ndarray],
                 occluder: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """One (H, W, 3) uint8 frame: the body at joints_px (J, 2) drawn on a copy of base.

    occluder: (x0, y0, x1, y1) as fractions of (W, H): a grey box drawn in front of the body.
    """
    frame = base.copy()
    height, width = frame.shape[:2]
    for start, end, thickness, slot in SEGMENTS:
        _draw_segment(frame, joints_px[JOINT_INDEX[start]], joints_px[JOINT_INDEX[end]],
                      0.5 * thickness * height, colours[slot])
    head = joints_px[JOINT_INDEX["head"]]
    _draw_segment(frame, head, head, HEAD_RADIUS * height, colours["skin"])
    if occluder is not None:
        x0, y0, x1, y1 = occluder
        frame[int(y0 * height):int(y1 * height), int(x0 * width):int(x1 * width)] = (128, 128, 120)
    return frame


def render_frames(base: np.ndarray, joints: np.ndarray, camera: Camera, colours: dict[str, np.ndarray],
                  occluder: tuple[float, float, float, float] | None = None):
    """Yields (H, W, 3) uint8 frames for world joints (T, J, 3)."""
    pixels = project(joints, camera, base.shape[:2]).astype(np.float32)
    for frame_joints in pixels:
        yield render_frame(base, frame_joints, colours, occluder)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3H/2, W) uint8 planar YUV 4:2:0, BT.601 limited range, 2x2 mean chroma.

    Done here rather than by swscale so the encoder's input never depends on uninitialised padding.
    """
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    height, width = rgb.shape[:2]

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).reshape(height // 4, width)

    planes = np.concatenate([y, half(u), half(v)], axis=0)
    return np.clip(np.rint(planes), 0, 255).astype(np.uint8)


def write_video(path: Path, frames, fps: Fraction, codec: str, options: dict[str, str] | None = None) -> int:
    """Encode RGB frames (even H and W) as yuv420p into path (container from the suffix), with no
    wall-clock metadata and bit-exact flags, so equal frames give equal bytes; returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(path), mode="w", format={".avi": "avi", ".mp4": "mp4"}[path.suffix]) as container:
        container.flags |= av.container.Flags.bitexact.value
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps, options=dict(options or {}))
                stream.width, stream.height = frame.shape[1], frame.shape[0]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.flags |= int(av.codec.context.Flags.bitexact)
            video_frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(frame), format="yuv420p")
            video_frame.pts = count
            for packet in stream.encode(video_frame):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode(None):
                container.mux(packet)
    return count


def bayer_grbg(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) GRBG mosaic: G R on even rows, B G on odd rows."""
    mosaic = np.empty(rgb.shape[:2], dtype=rgb.dtype)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 1]
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 0]
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 2]
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 1]
    return mosaic


def write_pgm(path: Path, image: np.ndarray) -> None:
    """Binary 8-bit PGM (P5) of a (H, W) uint8 image."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"{path}: a P5 8-bit PGM needs a (H, W) uint8 image, got {image.dtype} {image.shape}")
    header = f"P5\n{image.shape[1]} {image.shape[0]}\n255\n".encode("ascii")
    path.write_bytes(header + np.ascontiguousarray(image).tobytes())
