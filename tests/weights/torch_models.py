"""PyTorch reference networks in plain torch.nn, named as the checkpoints they stand for.

- torchvision ResNets (``conv1``, ``layerX.Y``, ``downsample``, ``fc``), stride on the 3x3;
- timm SE-ResNets: the SE module of a block is ``se`` with 1x1 convolutions ``fc1``/``fc2``;
- the SRM release: the module of a block is ``rclb`` (``SRMLayer``, ``SELayer``, ``GELayer``,
  written as in that release: the SRM standard deviation is ``Tensor.std`` without epsilon);
- CIFAR ResNets (He et al. 2016): 3x3 stem, three stages, option-A shortcut (strided identity
  with zero-padded channels) or option-B (1x1 conv + BN).

Importing this module requires torch: test modules call ``pytest.importorskip("torch")`` first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRMLayer(nn.Module):
    def __init__(self, channels: int, feature_size: int):
        super().__init__()
        self.cfc = nn.Parameter(torch.zeros(channels, 2))
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        n, c = x.shape[:2]
        flat = x.reshape(n, c, -1)
        t = torch.stack((flat.mean(dim=2), flat.std(dim=2)), dim=2)  # (N, C, 2)
        z = (t * self.cfc[None]).sum(dim=2)[:, :, None, None]
        return x * torch.sigmoid(self.bn(z))


class SELayer(nn.Module):
    def __init__(self, channels: int, feature_size: int, reduction: int = 16):
        super().__init__()
        hidden = channels // reduction
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x):
        gate = torch.sigmoid(self.fc(x.mean(dim=(2, 3))))
        return x * gate[:, :, None, None]


class GELayer(nn.Module):
    def __init__(self, channels: int, feature_size: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=feature_size, groups=channels),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        return x * torch.sigmoid(self.conv(x))


class TimmSEModule(nn.Module):
    def __init__(self, channels: int, feature_size: int, reduction: int = 16):
        super().__init__()
        hidden = channels // reduction
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        gate = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


# style -> (attribute of the module in a block, {module name: class})
STYLES = {
    "torchvision": (None, {}),
    "timm": ("se", {"se": TimmSEModule}),
    "srm_reference": ("rclb", {"srm": SRMLayer, "se": SELayer, "ge": GELayer}),
}


class PaddedShortcut(nn.Module):
    """Option A: strided identity, new channels zero-padded half before and half after."""

    def __init__(self, extra: int, stride: int):
        super().__init__()
        self.extra, self.stride = extra, stride

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class Block(nn.Module):
    def __init__(self, kind, inplanes, planes, stride, shortcut, module, size):
        super().__init__()
        self.kind = kind
        out = planes * (4 if kind == "bottleneck" else 1)
        if kind == "bottleneck":
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
        else:
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        self.pad_shortcut = None
        if stride != 1 or inplanes != out:
            if shortcut == "A":
                self.pad_shortcut = PaddedShortcut(out - inplanes, stride)
            else:
                self.downsample = nn.Sequential(
                    nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out)
                )
        self.module_attr = None
        if module is not None:
            self.module_attr = module[0]
            setattr(self, module[0], module[1](out, size))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        if self.kind == "bottleneck":
            y = F.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
        else:
            y = self.bn2(self.conv2(y))
        if self.module_attr is not None:
            y = getattr(self, self.module_attr)(y)
        if self.downsample is not None:
            x = self.downsample(x)
        elif self.pad_shortcut is not None:
            x = self.pad_shortcut(x)
        return F.relu(y + x)


_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    20: ("basic", (3, 3, 3)),
}


class ResNet(nn.Module):
    """A ResNet with optional recalibration modules, named after ``style``'s checkpoints."""

    def __init__(
        self,
        depth: int,
        module: str | None = None,
        style: str = "torchvision",
        classes: int = 1000,
        input_size: int = 224,
        shortcut: str = "B",
    ):
        super().__init__()
        kind, counts = _DEPTHS[depth]
        cifar = len(counts) == 3
        widths = (16, 32, 64) if cifar else (64, 128, 256, 512)
        attribute, classes_by_name = STYLES[style]
        self.cifar = cifar
        if cifar:
            self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
            size = input_size
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            size = input_size // 4
        self.bn1 = nn.BatchNorm2d(widths[0])
        inplanes = widths[0]
        for stage, (count, planes) in enumerate(zip(counts, widths), start=1):
            blocks = []
            for index in range(count):
                stride = 2 if stage > 1 and index == 0 else 1
                size = size // stride
                spec = None if module is None else (attribute, classes_by_name[module])
                blocks.append(Block(kind, inplanes, planes, stride, shortcut, spec, size))
                inplanes = planes * (4 if kind == "bottleneck" else 1)
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.stages = len(counts)
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if not self.cifar:
            x = F.max_pool2d(x, 3, 2, 1)
        for stage in range(1, self.stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and batch-norm statistics (scales kept near 1), then eval mode."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(t, low, high):
        return low + (high - low) * torch.rand(t.shape, generator=generator)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(uniform(module.weight, 0.5, 1.5))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
                module.running_mean.copy_(
                    0.1 * torch.randn(module.running_mean.shape, generator=generator)
                )
                module.running_var.copy_(uniform(module.running_var, 0.5, 1.5))
                module.num_batches_tracked.fill_(1000)
            elif isinstance(module, nn.Conv2d | nn.Linear):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=generator) / fan_in**0.5
                )
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
            elif isinstance(module, SRMLayer):
                module.cfc.copy_(torch.randn(module.cfc.shape, generator=generator))
    return model.eval()


def logits(model: nn.Module, images_nhwc) -> torch.Tensor:
    """The model's outputs for channels-last numpy images."""
    with torch.no_grad():
        return model(torch.from_numpy(images_nhwc).permute(0, 3, 1, 2).contiguous()).numpy()
