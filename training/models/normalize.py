"""The one place where video frames become network input.

Input convention: frames as stored in the cache, uint8 RGB channels-last (..., H, W, 3); or,
already channels-first, float RGB in 0-255 (..., 3, H, W). Output: float32 (..., 3, H, W):

    "caffe" (bninception):              BGR order, x - [104, 117, 128]   (B, G, R means; Caffe/TSN)
    "imagenet" (resnet18, resnet50):    RGB order, (x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]

Each video backbone names its convention in its registry entry (training.models.trn.VIDEO_BACKBONES).

GAF images of the sensor networks are already in [-1, 1] and do not pass through here.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

BGR_MEAN_255 = (104.0, 117.0, 128.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONVENTIONS = ("caffe", "imagenet")


class InputNormalizer(nn.Module):
    """x -> (x[channels] * scale - shift): one affine map per channel, after an optional RGB -> BGR flip."""

    def __init__(self, convention: str) -> None:
        super().__init__()
        if convention == "caffe":
            self.bgr = True
            scale = torch.ones(3)
            shift = torch.tensor(BGR_MEAN_255)
        elif convention == "imagenet":
            self.bgr = False
            std = torch.tensor(IMAGENET_STD)
            scale = 1.0 / (255.0 * std)
            shift = torch.tensor(IMAGENET_MEAN) / std
        else:
            raise ValueError(f"InputNormalizer: unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
        self.convention = convention
        self.register_buffer("scale", scale.view(3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(3, 1, 1), persistent=False)

    def forward(self, frames: Tensor) -> Tensor:
        if frames.dtype == torch.uint8:
            if frames.dim() < 3 or frames.shape[-1] != 3:
                raise ValueError(f"input_normalizer: uint8 frames must be (..., H, W, 3) RGB, got {tuple(frames.shape)}")
            frames = frames.movedim(-1, -3)
        elif not frames.is_floating_point() or frames.dim() < 3 or frames.shape[-3] != 3:
            raise ValueError(f"input_normalizer: float frames must be (..., 3, H, W) RGB in 0-255, got {frames.dtype} {tuple(frames.shape)}")
        x = frames.to(self.scale.dtype)
        if self.bgr:
            x = x.flip(-3)
        return x * self.scale - self.shift


def input_normalizer(backbone: str) -> InputNormalizer:
    """Callable (and nn.Module, so ``.to(device)`` moves it) mapping frames to video ``backbone``'s input."""
    from training.models.trn import video_backbone

    return InputNormalizer(video_backbone(backbone).normalization)
