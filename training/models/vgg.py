"""VGG16 with batch norm as the sensor (GAF image) teacher of SAKDN.

Layout (``stages`` in order, then ``classifier``)::

    block1..block5  conv3x3-BN-ReLU x2/2/3/3/3 + max-pool 2x2   (64, 128, 256, 512, 512 channels)
    fc6             AdaptiveAvgPool2d(1) -> flatten -> Linear(512, D, no bias) -> BN1d -> ReLU (-> Dropout)
    fc7             Linear(D, D)            the semantic layer; its output is the embedding
    classifier      Linear(D, C)            (fc8, on fc7's linear output as in the published code)

The conv blocks use torchvision's ``vgg16_bn().features`` indexing inside each block, so
torchvision weights map one to one (see ``weights.py``).

fc6 pools to 1x1, not torchvision's 7x7: the GAF images are 32-64 px, where block5 is 1x1 or
2x2 and a 7x7 pool would only replicate pixels into a 512*49*D (7.5 M weights at D=300) layer
that a few hundred training takes cannot fit; 1x1 gives the same layer for every input size
from 32 px up with 512*D weights.

The embedding is fc7's linear output (signed), so that MSE against a GloVe class vector (which
has negative coordinates) can reach zero, and fc8 reads it directly, as in the published code.
There is no dropout by default, as in the published code: on the demo store (batch 4, D = 50,
12 epochs) dropout 0.5 after fc6 kept the teachers near chance (fused 56%, per-sensor CE above
ln C), a ReLU between fc7 and fc8 cost another 8 points (fused 83 -> 92%, README).
BatchNorm1d in fc6 needs batches of 2 or more in training mode.
"""
from __future__ import annotations

from torch import Tensor, nn

from .output import NetOutput, staged_forward

VGG16_BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
BLOCK_NAMES: tuple[str, ...] = ("block1", "block2", "block3", "block4", "block5")


def _conv_block(in_channels: int, widths: tuple[int, ...]) -> nn.Sequential:
    """conv3x3(pad 1)-BN-ReLU per width, then max-pool 2x2/2; halves H and W."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        in_channels = width
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def semantic_head(channels: int, embed_dim: int, dropout: float = 0.0) -> tuple[nn.Sequential, nn.Linear]:
    """fc6 (global average pool -> Linear(channels, D, no bias) -> BN1d -> ReLU -> Dropout) and fc7
    Linear(D, D), whose signed output is the semantic embedding; shared by the sensor networks."""
    fc6 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(channels, embed_dim, bias=False),
                        nn.BatchNorm1d(embed_dim), nn.ReLU(inplace=True), nn.Dropout(dropout))
    return fc6, nn.Linear(embed_dim, embed_dim)


class VGG16BN(nn.Module):
    """VGG16-BN teacher: (B, in_channels, H, W), H, W >= 32 -> NetOutput.

    taps: block1..block5 outputs, (B, 64, H/2, W/2) ... (B, 512, H/32, W/32);
    embedding: fc7 output (B, embed_dim); logits: (B, num_classes).
    """

    def __init__(self, num_classes: int, embed_dim: int = 300, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1 or embed_dim < 1 or in_channels < 1:
            raise ValueError(f"VGG16BN: num_classes, embed_dim and in_channels must be >= 1, got {num_classes}, {embed_dim}, {in_channels}")
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        stages: dict[str, nn.Module] = {}
        channels = in_channels
        for name, widths in zip(BLOCK_NAMES, VGG16_BLOCKS):
            stages[name] = _conv_block(channels, widths)
            channels = widths[-1]
        stages["fc6"], stages["fc7"] = semantic_head(channels, embed_dim, dropout)
        self.stages = nn.ModuleDict(stages)
        self.classifier = nn.Linear(embed_dim, num_classes)
        self.tap_names: tuple[str, ...] = BLOCK_NAMES
        _init_weights(self)

    def forward(self, x: Tensor) -> NetOutput:
        if x.dim() != 4 or min(x.shape[-2:]) < 32:
            raise ValueError(f"VGG16BN expects (B, C, H, W) with H, W >= 32, got {tuple(x.shape)}")
        return staged_forward(self.stages, self.tap_names, self.classifier, x)


def _init_weights(module: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, zero biases (torchvision's VGG init); linears keep PyTorch's
    default fan-in init, because torchvision's N(0, 0.01) suits 4096-wide layers: with a D = 50
    embedding it starts the logits near zero and the teachers collapsed to chance on the demo data."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            m.reset_parameters()


def vgg_feature_index(block: int, index_in_block: int) -> int:
    """Index in torchvision ``vgg16_bn().features`` of module ``block{block}.{index_in_block}``."""
    start = sum(3 * len(widths) + 1 for widths in VGG16_BLOCKS[: block - 1])
    return start + index_in_block
