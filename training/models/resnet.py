"""torchvision ResNet18/50 trunks with named stage taps, and the VSKD sensor student.

``ResNetTrunk`` keeps torchvision's attribute names (conv1, bn1, layer1..layer4), so a
torchvision state dict loads into it key for key (its ``fc.*`` keys are reported unexpected).
Stage taps: stem (after the max-pool, H/4), layer1 (H/4), layer2 (H/8), layer3 (H/16), layer4 (H/32).
"""
from __future__ import annotations

from torch import Tensor, nn
from torchvision.models import resnet18, resnet50

from .output import NetOutput

TRUNK_STAGES: tuple[str, ...] = ("stem", "layer1", "layer2", "layer3", "layer4")
RESNET_DEPTHS = {18: (resnet18, 512), 50: (resnet50, 2048)}


class ResNetTrunk(nn.Module):
    """torchvision ResNet without avgpool/fc: (B, in_channels, H, W), H, W >= 32 -> (B, out_dim) + stage maps."""

    stage_names = TRUNK_STAGES

    def __init__(self, depth: int = 18, in_channels: int = 3) -> None:
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise ValueError(f"ResNetTrunk: depth must be one of {sorted(RESNET_DEPTHS)}, got {depth}")
        build, self.out_dim = RESNET_DEPTHS[depth]
        net = build(weights=None)
        self.depth = depth
        self.conv1 = net.conv1 if in_channels == 3 else nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1, self.relu, self.maxpool = net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def features(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(B, C, H, W) -> ((B, out_dim) global-average-pooled layer4, {stage: (B, C_k, h_k, w_k)})."""
        if x.dim() != 4 or min(x.shape[-2:]) < 32:
            raise ValueError(f"ResNet{self.depth} expects (B, C, H, W) with H, W >= 32, got {tuple(x.shape)}")
        taps = {"stem": self.maxpool(self.relu(self.bn1(self.conv1(x))))}
        x = taps["stem"]
        for name in TRUNK_STAGES[1:]:
            x = getattr(self, name)(x)
            taps[name] = x
        return x.mean(dim=(2, 3)), taps

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.features(x)


class ResNetStudent(nn.Module):
    """VSKD sensor student: trunk -> fc0 Linear(512|2048, D) -> classifier ReLU -> Linear(D, C).

    embedding: fc0's linear output (B, D), signed so that MSE against a teacher's semantic
    feature can reach zero (the ReLU of the paper's "fc0 (ReLU)" opens ``classifier``);
    taps: layer1..layer4; logits (B, num_classes).
    """

    tap_names: tuple[str, ...] = ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, depth: int, num_classes: int, embed_dim: int = 300, in_channels: int = 3) -> None:
        super().__init__()
        if num_classes < 1 or embed_dim < 1:
            raise ValueError(f"ResNetStudent: num_classes and embed_dim must be >= 1, got {num_classes}, {embed_dim}")
        self.backbone = ResNetTrunk(depth, in_channels)
        self.num_classes, self.embed_dim = num_classes, embed_dim
        self.fc0 = nn.Linear(self.backbone.out_dim, embed_dim)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(embed_dim, num_classes))

    def forward(self, x: Tensor) -> NetOutput:
        pooled, maps = self.backbone.features(x)
        embedding = self.fc0(pooled)
        taps = {name: maps[name] for name in self.tap_names}
        return NetOutput(logits=self.classifier(embedding), embedding=embedding, taps=taps)
