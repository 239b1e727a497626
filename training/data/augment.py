"""Batched frame augmentation on the device: TSN multi-scale crop, horizontal flip, resize.

A crop is a box (x0, y0, w, h) in input pixels, one per clip and shared by all its segments (as
TSN's GroupMultiScaleCrop). Crop, flip and resize to `size` x `size` run as ONE bilinear
`grid_sample` over the whole batch: output pixel u in [-1, 1] reads input coordinate
x = cx + u * w / W (normalised, align_corners=False), negated u for a flipped clip.

Training boxes: side lengths base * scale (base = shorter frame side) for width and height drawn
independently from `scales` with |i - j| <= max_distort, placed at one of TSN's 13 fixed offsets
(corners, centre, edge midpoints, quarter points). Evaluation box: the centre square of side
base * 224/256, i.e. TSN's "resize the shorter side to 256, centre-crop 224" at any size. A
multi-view test adds mmaction2's ThreeCrop: that square at the start, centre and end of the longer
side (`view_boxes`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch.nn.functional as F
from torch import Tensor

EVAL_CROP_FRACTION = 224 / 256
# TSN's "more fixed crop" offsets in quarters of the free space (x, y)
FIXED_OFFSETS = np.array(
    [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)],
    dtype=np.float64,
) / 4.0


def multiscale_boxes(
    rng: np.random.Generator, n: int, height: int, width: int,
    scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66), max_distort: int = 1,
) -> np.ndarray:
    """(n, 4) float64 crop boxes (x0, y0, w, h) in pixels, drawn as TSN's multi-scale crop."""
    base = min(height, width)
    sides = np.array([base * s for s in scales], dtype=np.float64)
    pairs = np.array([(i, j) for i in range(len(sides)) for j in range(len(sides)) if abs(i - j) <= max_distort])
    chosen = pairs[rng.integers(0, len(pairs), size=n)]
    w, h = sides[chosen[:, 0]], sides[chosen[:, 1]]
    offsets = FIXED_OFFSETS[rng.integers(0, len(FIXED_OFFSETS), size=n)]
    x0 = np.floor(offsets[:, 0] * (width - w))
    y0 = np.floor(offsets[:, 1] * (height - h))
    return np.stack([x0, y0, w, h], axis=1)


def centre_boxes(n: int, height: int, width: int, fraction: float = EVAL_CROP_FRACTION) -> np.ndarray:
    """(n, 4) centre square boxes of side fraction * shorter side."""
    side = fraction * min(height, width)
    box = np.array([(width - side) / 2, (height - side) / 2, side, side], dtype=np.float64)
    return np.tile(box, (n, 1))


def view_boxes(n: int, crop: int, crops: int, height: int, width: int,
               fraction: float = EVAL_CROP_FRACTION) -> np.ndarray:
    """(n, 4) boxes of crop view `crop` (0 <= crop < crops) of an evaluation with `crops` in (1, 3).

    Every box is the square of side = fraction * shorter side (the centre crop's). crops=1: the
    centre square (centre_boxes). crops=3, mmaction2's ThreeCrop: centred on the shorter side and at
    offset crop * (longer - side) / 2 along the longer one (width when width >= height), i.e.
    left / centre / right (top / centre / bottom for portrait frames); crop 1 is the centre square.
    """
    if crops not in (1, 3) or not 0 <= crop < crops:
        raise ValueError(f"crop view {crop} of {crops}: crops must be 1 or 3, crop one of 0..{crops - 1}")
    boxes = centre_boxes(n, height, width, fraction)
    if crops == 3:
        side = boxes[0, 2]
        axis, longer = (0, width) if width >= height else (1, height)
        boxes[:, axis] = crop * (longer - side) / 2
    return boxes


def crop_affine(boxes: np.ndarray, flips: np.ndarray, height: int, width: int) -> np.ndarray:
    """(n, 2, 3) float32 affine_grid matrices mapping output [-1, 1] coordinates into each box."""
    x0, y0, w, h = boxes.T
    theta = np.zeros((len(boxes), 2, 3), dtype=np.float32)
    theta[:, 0, 0] = np.where(flips, -1.0, 1.0) * w / width
    theta[:, 0, 2] = (2 * x0 + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * y0 + h) / height - 1
    return theta


def crop_resize(frames: Tensor, theta: Tensor, size: int) -> Tensor:
    """uint8 (B, T, H, W, 3), theta (B, 2, 3) -> float (B, T, 3, size, size) in 0-255, one box per clip.

    Runs in float32 on the frames' device.
    """
    batch, steps, height, width, _ = frames.shape
    images = frames.flatten(0, 1).permute(0, 3, 1, 2).float()  # (B*T, 3, H, W), channels_last strides
    grid = F.affine_grid(
        theta.to(images.device).repeat_interleave(steps, dim=0), [batch * steps, 3, size, size], align_corners=False
    )
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.unflatten(0, (batch, steps))


def resize_images(images: Tensor, size: int) -> Tensor:
    """(B, C, G, G) -> (B, C, size, size) float32, bilinear with antialiasing when shrinking."""
    images = images.float()
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
