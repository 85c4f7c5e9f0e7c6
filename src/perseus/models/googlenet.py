"""GoogLeNet (Inception v1) in torch, since pytorchcv does not ship it."""

# Imported only from the torch export path: this module needs torch at import time.
import torch
from torch import nn


class _ConvBnRelu(nn.Sequential):
    """Conv + BatchNorm + ReLU; BN stands in for the paper's LRN, as in torchvision (folded at export)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(cout, eps=0.001),
            nn.ReLU(inplace=True),
        )


class _Inception(nn.Module):
    """One inception module: 1x1 | 1x1→3x3 | 1x1→5x5 | pool→1x1, concatenated on channels."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> None:
        super().__init__()
        self.branch1 = _ConvBnRelu(cin, c1, 1)
        self.branch2 = nn.Sequential(_ConvBnRelu(cin, c3r, 1), _ConvBnRelu(c3r, c3, 3, padding=1))
        # The paper's 5x5 branch; torchvision uses 3x3 here (an inherited porting quirk), which
        # would understate the cost of the real architecture.
        self.branch3 = nn.Sequential(_ConvBnRelu(cin, c5r, 1), _ConvBnRelu(c5r, c5, 5, padding=2))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), _ConvBnRelu(cin, pool, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """Table 1 of Szegedy et al. 2014 ("Going deeper with convolutions"), without the auxiliary heads
    (they only exist at training time, so they cost nothing at inference)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            _ConvBnRelu(3, 64, 7, stride=2, padding=3),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            _ConvBnRelu(64, 64, 1),
            _ConvBnRelu(64, 192, 3, padding=1),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        self.blocks = nn.Sequential(
            _Inception(192, 64, 96, 128, 16, 32, 32),  # 3a
            _Inception(256, 128, 128, 192, 32, 96, 64),  # 3b
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            _Inception(480, 192, 96, 208, 16, 48, 64),  # 4a
            _Inception(512, 160, 112, 224, 24, 64, 64),  # 4b
            _Inception(512, 128, 128, 256, 24, 64, 64),  # 4c
            _Inception(512, 112, 144, 288, 32, 64, 64),  # 4d
            _Inception(528, 256, 160, 320, 32, 128, 128),  # 4e
            nn.MaxPool2d(2, stride=2, ceil_mode=True),
            _Inception(832, 256, 160, 320, 32, 128, 128),  # 5a
            _Inception(832, 384, 192, 384, 48, 128, 128),  # 5b
        )
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.4)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.blocks(self.stem(x)))
        logits: torch.Tensor = self.fc(self.dropout(torch.flatten(x, 1)))
        return logits


def googlenet() -> nn.Module:
    return GoogLeNet()
