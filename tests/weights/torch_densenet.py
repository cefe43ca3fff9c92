"""PyTorch reference DenseNets in plain torch.nn, with torchvision's module tree and names.

The structure is torchvision's ``DenseNet`` (``features.conv0/norm0/relu0/pool0``,
``features.denseblock{b}.denselayer{l}.norm1/relu1/conv1/norm2/relu2/conv2``,
``features.transition{t}.norm/relu/conv/pool``, ``features.norm5``, ``classifier``; the forward
pass ends with ReLU, global average pooling and the classifier), so its ``state_dict()`` is a
torchvision checkpoint. Two additions that torchvision lacks, named as the zoo's layouts name
them: a recalibration module on each dense layer's new maps (``rclb`` or timm's ``se``), and the
CIFAR layouts of the DenseNet paper (3x3 stem conv alone; without bottleneck a dense layer has
only ``norm1``/``relu1``/``conv1``, its 3x3).

Importing this module requires torch: test modules call ``pytest.importorskip("torch")`` first.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from tests.weights.torch_models import STYLES

# variant -> (ImageNet?, blocks, growth rate, stem channels, bottleneck, compression)
VARIANTS = {
    "121": (True, (6, 12, 24, 16), 32, 64, True, 0.5),
    "169": (True, (6, 12, 32, 32), 32, 64, True, 0.5),
    "201": (True, (6, 12, 48, 32), 32, 64, True, 0.5),
    "161": (True, (6, 12, 36, 24), 48, 96, True, 0.5),
    "40": (False, (12, 12, 12), 12, 16, False, 1.0),
    "bc100": (False, (16, 16, 16), 12, 24, True, 0.5),
}


class DenseLayer(nn.Module):
    def __init__(self, channels, growth, bottleneck, module, size):
        super().__init__()
        self.bottleneck = bottleneck
        self.norm1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        if bottleneck:
            self.conv1 = nn.Conv2d(channels, 4 * growth, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(4 * growth)
            self.relu2 = nn.ReLU()
            self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(channels, growth, 3, padding=1, bias=False)
        self.module_attr = None
        if module is not None:
            self.module_attr = module[0]
            setattr(self, module[0], module[1](growth, size))

    def forward(self, x):
        y = self.conv1(self.relu1(self.norm1(x)))
        if self.bottleneck:
            y = self.conv2(self.relu2(self.norm2(y)))
        if self.module_attr is not None:
            y = getattr(self, self.module_attr)(y)
        return y


class DenseBlock(nn.ModuleDict):
    def __init__(self, count, channels, growth, bottleneck, module, size):
        super().__init__()
        for index in range(count):
            layer = DenseLayer(channels + index * growth, growth, bottleneck, module, size)
            self.add_module(f"denselayer{index + 1}", layer)

    def forward(self, x):
        for layer in self.values():
            x = torch.cat([x, layer(x)], 1)
        return x


class Transition(nn.Sequential):
    def __init__(self, channels, out):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(channels))
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(channels, out, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(2, 2))


class DenseNet(nn.Module):
    """A DenseNet of ``VARIANTS``, with an optional module named after ``style``'s checkpoints."""

    def __init__(
        self,
        variant: str,
        module: str | None = None,
        style: str = "torchvision",
        classes: int = 1000,
        input_size: int = 224,
    ):
        super().__init__()
        imagenet, counts, growth, channels, bottleneck, compression = VARIANTS[variant]
        attribute, classes_by_name = STYLES[style]
        spec = None if module is None else (attribute, classes_by_name[module])
        if imagenet:
            stem = [
                ("conv0", nn.Conv2d(3, channels, 7, 2, 3, bias=False)),
                ("norm0", nn.BatchNorm2d(channels)),
                ("relu0", nn.ReLU()),
                ("pool0", nn.MaxPool2d(3, 2, 1)),
            ]
            size = (input_size + 1) // 2
            size = (size + 1) // 2
        else:
            stem = [("conv0", nn.Conv2d(3, channels, 3, 1, 1, bias=False))]
            size = input_size
        self.features = nn.Sequential(OrderedDict(stem))
        for index, count in enumerate(counts, start=1):
            block = DenseBlock(count, channels, growth, bottleneck, spec, size)
            self.features.add_module(f"denseblock{index}", block)
            channels += count * growth
            if index < len(counts):
                out = int(compression * channels)
                self.features.add_module(f"transition{index}", Transition(channels, out))
                channels, size = out, size // 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x):
        x = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
