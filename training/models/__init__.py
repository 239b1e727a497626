"""Plain nn.Module networks with named feature taps; every forward returns a NetOutput."""
from __future__ import annotations

from .bninception import BNInception
from .normalize import InputNormalizer, input_normalizer
from .output import NetOutput
from .raw1d import RawEncoder
from .resnet import ResNetStudent, ResNetTrunk
from .trn import TRN, VIDEO_BACKBONES, VideoBackbone, video_backbone
from .vgg import VGG16BN
from .weights import LoadReport, WeightsError, load_pretrained

__all__ = [
    "BNInception", "InputNormalizer", "LoadReport", "NetOutput", "RawEncoder", "ResNetStudent", "ResNetTrunk",
    "TRN", "VGG16BN", "VIDEO_BACKBONES", "VideoBackbone", "WeightsError", "video_backbone", "input_normalizer", "load_pretrained",
]
