"""Plain nn.Module networks with named feature taps; every forward returns a NetOutput."""
from __future__ import annotations

from .bninception import BNInception
from .normalize import InputNormalizer, input_normalizer
from .output import NetOutput
from .raw1d import RawEncoder
from .resnet import ResNetStudent, ResNetTrunk
from .trn import GSDM_TAPS, TRN, build_video_backbone
from .vgg import VGG16BN
from .weights import LoadReport, WeightsError, load_pretrained

__all__ = [
    "BNInception", "GSDM_TAPS", "InputNormalizer", "LoadReport", "NetOutput", "RawEncoder", "ResNetStudent", "ResNetTrunk",
    "TRN", "VGG16BN", "WeightsError", "build_video_backbone", "input_normalizer", "load_pretrained",
]
