"""The one table of ResNet depths, and the paper's figures to compare against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResNetSpec:
    """One depth of the zoo.

    Attributes:
        family: ``"imagenet"`` (7x7 stem, max-pool, 4 stages) or ``"cifar"`` (3x3 stem, 3 stages,
            He et al. 2016's 6n+2 networks).
        block: ``"basic"`` (two 3x3 convolutions) or ``"bottleneck"`` (1x1, 3x3, 1x1 with 4x
            expansion).
        blocks: residual blocks per stage.
        widths: base width of each stage (a bottleneck's output is 4x this).
    """

    family: str
    block: str
    blocks: tuple[int, ...]
    widths: tuple[int, ...]

    @property
    def default_input_shape(self) -> tuple[int, int, int]:
        return (224, 224, 3) if self.family == "imagenet" else (32, 32, 3)

    @property
    def default_classes(self) -> int:
        return 1000 if self.family == "imagenet" else 10

    @property
    def total_stride(self) -> int:
        """Downsampling from input to the last stage: the smallest input side it accepts."""
        return 32 if self.family == "imagenet" else 4


_IMAGENET_WIDTHS = (64, 128, 256, 512)
_CIFAR_WIDTHS = (16, 32, 64)

RESNETS: dict[int, ResNetSpec] = {
    18: ResNetSpec("imagenet", "basic", (2, 2, 2, 2), _IMAGENET_WIDTHS),
    34: ResNetSpec("imagenet", "basic", (3, 4, 6, 3), _IMAGENET_WIDTHS),
    50: ResNetSpec("imagenet", "bottleneck", (3, 4, 6, 3), _IMAGENET_WIDTHS),
    101: ResNetSpec("imagenet", "bottleneck", (3, 4, 23, 3), _IMAGENET_WIDTHS),
    152: ResNetSpec("imagenet", "bottleneck", (3, 8, 36, 3), _IMAGENET_WIDTHS),
    20: ResNetSpec("cifar", "basic", (3, 3, 3), _CIFAR_WIDTHS),
    32: ResNetSpec("cifar", "basic", (5, 5, 5), _CIFAR_WIDTHS),
    44: ResNetSpec("cifar", "basic", (7, 7, 7), _CIFAR_WIDTHS),
    56: ResNetSpec("cifar", "basic", (9, 9, 9), _CIFAR_WIDTHS),
    110: ResNetSpec("cifar", "basic", (18, 18, 18), _CIFAR_WIDTHS),
}

# The modules that get a named constructor for every depth, with their class-name prefixes.
NAMED_MODULES: dict[str | None, str] = {
    None: "",
    "se": "SE",
    "ge": "GE",
    "srm": "SRM",
    "mssar": "MSSAR",
}

# ImageNet-1K figures of the SRM paper (Table 2; GFLOPs for the stride-on-1x1 layout):
# (params in millions, GFLOPs, top-1, top-5).
PAPER_IMAGENET: dict[str, tuple[float, float, float, float]] = {
    "resnet50": (25.56, 3.86, 75.89, 92.85),
    "se_resnet50": (28.09, 3.87, 76.80, 93.39),
    "ge_resnet50": (31.12, 3.87, 76.75, 93.41),
    "srm_resnet50": (25.62, 3.88, 77.13, 93.51),
    "resnet101": (44.55, 7.58, 77.40, 93.59),
    "se_resnet101": (49.33, 7.60, 78.08, 93.95),
    "ge_resnet101": (53.58, 7.60, 77.36, 93.64),
    "srm_resnet101": (44.68, 7.62, 78.47, 94.20),
}


def get_spec(depth: int) -> ResNetSpec:
    """The spec of a depth, or a ValueError listing the supported ones."""
    if depth not in RESNETS:
        imagenet = sorted(d for d, s in RESNETS.items() if s.family == "imagenet")
        cifar = sorted(d for d, s in RESNETS.items() if s.family == "cifar")
        raise ValueError(
            f"Unsupported ResNet depth {depth!r}. ImageNet depths: {imagenet}; "
            f"CIFAR depths: {cifar}."
        )
    return RESNETS[depth]


#: Width of the bottleneck 1x1 convolution, in multiples of the growth rate (torchvision's bn_size).
BOTTLENECK_WIDTH = 4


@dataclass(frozen=True)
class DenseNetSpec:
    """One variant of the DenseNet zoo.

    Attributes:
        family: ``"imagenet"`` (7x7 stride-2 stem conv, BN, ReLU, 3x3 max-pool; four blocks) or
            ``"cifar"`` (a single 3x3 stem conv; three blocks).
        blocks: dense layers per block.
        growth_rate: k, the feature maps each dense layer adds.
        stem_channels: output channels of the stem convolution.
        bottleneck: whether a dense layer starts with a 1x1 convolution to 4k maps (the "B" of
            DenseNet-BC).
        compression: a transition keeps ``floor(compression * channels)`` maps (the "C").
        label: the name the literature uses.
    """

    family: str
    blocks: tuple[int, ...]
    growth_rate: int
    stem_channels: int
    bottleneck: bool
    compression: float
    label: str

    @property
    def default_input_shape(self) -> tuple[int, int, int]:
        return (224, 224, 3) if self.family == "imagenet" else (32, 32, 3)

    @property
    def default_classes(self) -> int:
        return 1000 if self.family == "imagenet" else 10

    @property
    def total_stride(self) -> int:
        """Downsampling from input to the last block: the smallest input side it accepts."""
        stem = 4 if self.family == "imagenet" else 1
        return stem * 2 ** (len(self.blocks) - 1)


# Keyed by what follows "densenet" in the model names: densenet121, densenet_bc100.
DENSENETS: dict[str, DenseNetSpec] = {
    "121": DenseNetSpec("imagenet", (6, 12, 24, 16), 32, 64, True, 0.5, "DenseNet-121"),
    "169": DenseNetSpec("imagenet", (6, 12, 32, 32), 32, 64, True, 0.5, "DenseNet-169"),
    "201": DenseNetSpec("imagenet", (6, 12, 48, 32), 32, 64, True, 0.5, "DenseNet-201"),
    "161": DenseNetSpec("imagenet", (6, 12, 36, 24), 48, 96, True, 0.5, "DenseNet-161"),
    # (L - 4) / 3 layers per block; the stem has 16 maps (the paper's basic DenseNet).
    "40": DenseNetSpec("cifar", (12, 12, 12), 12, 16, False, 1.0, "DenseNet (L=40, k=12)"),
    # (L - 4) / 6 layers per block (two convolutions each); the stem has 2k maps.
    "bc100": DenseNetSpec("cifar", (16, 16, 16), 12, 24, True, 0.5, "DenseNet-BC (L=100, k=12)"),
}


def variant_key(variant: int | str) -> str:
    """``121`` / ``"121"`` / ``"BC100"`` -> the table key, or a ValueError listing the keys."""
    key = str(variant).lower().lstrip("_")
    if key not in DENSENETS:
        imagenet = [k for k, s in DENSENETS.items() if s.family == "imagenet"]
        cifar = [k for k, s in DENSENETS.items() if s.family == "cifar"]
        raise ValueError(
            f"Unsupported DenseNet variant {variant!r}. ImageNet: {', '.join(sorted(imagenet))}; "
            f"CIFAR: {', '.join(cifar)} (e.g. densenet(121) or densenet('bc100'))."
        )
    return key


def model_stem(key: str) -> str:
    """The model-name stem of a table key: ``"densenet121"``, ``"densenet_bc100"``."""
    return f"densenet{key}" if key.isdigit() else f"densenet_{key}"
