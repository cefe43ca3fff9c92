"""Building blocks of the residual networks: conv+BN, the residual branches, shortcuts.

Recalibration enters a block in exactly one place, :func:`residual_block`: after the last batch
normalisation of the residual branch and before the addition with the shortcut (docs/design.md §4).
"""

from __future__ import annotations

import keras

from srm_keras.models.shortcut import PaddedIdentity

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9  # PyTorch's 0.1

# He normal with fan-out, untruncated: torchvision's and the SRM release's convolution init.
CONV_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}


def batch_norm(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def conv_bn(x, filters: int, kernel_size: int, strides: int, conv_name: str, bn_name: str):
    """Convolution without bias, then batch normalisation.

    Strided convolutions with a kernel wider than 1 get an explicit symmetric padding of
    ``kernel_size // 2``: Keras' "same" would pad only the bottom and right on even sizes, which
    shifts the sampling grid away from the PyTorch reference (and its checkpoints).
    """
    padding = "valid" if kernel_size == 1 else "same"
    if kernel_size > 1 and strides > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{conv_name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=CONV_INITIALIZER,
        name=conv_name,
    )(x)
    return batch_norm(bn_name)(x)


def basic_branch(x, width: int, strides: int, prefix: str, stride_on: str):
    """3x3 conv -> BN -> ReLU -> 3x3 conv -> BN; the stride is on the first convolution."""
    del stride_on  # a basic block has a single place for its stride
    x = conv_bn(x, width, 3, strides, f"{prefix}_conv1", f"{prefix}_bn1")
    x = keras.layers.ReLU(name=f"{prefix}_relu1")(x)
    return conv_bn(x, width, 3, 1, f"{prefix}_conv2", f"{prefix}_bn2")


def bottleneck_branch(x, width: int, strides: int, prefix: str, stride_on: str):
    """1x1 -> 3x3 -> 1x1 (x4 channels), BN after each; the stride on the 3x3 (v1.5) or the 1x1."""
    stride1, stride2 = (1, strides) if stride_on == "3x3" else (strides, 1)
    x = conv_bn(x, width, 1, stride1, f"{prefix}_conv1", f"{prefix}_bn1")
    x = keras.layers.ReLU(name=f"{prefix}_relu1")(x)
    x = conv_bn(x, width, 3, stride2, f"{prefix}_conv2", f"{prefix}_bn2")
    x = keras.layers.ReLU(name=f"{prefix}_relu2")(x)
    return conv_bn(x, 4 * width, 1, 1, f"{prefix}_conv3", f"{prefix}_bn3")


# block type -> (residual branch, channel expansion)
BRANCHES = {"basic": (basic_branch, 1), "bottleneck": (bottleneck_branch, 4)}


def shortcut(x, filters: int, strides: int, prefix: str, kind: str):
    """Identity when shapes agree; otherwise option B (1x1 conv + BN) or A (padded identity)."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    if kind == "A":
        return PaddedIdentity(filters, strides, name=f"{prefix}_shortcut")(x)
    return conv_bn(x, filters, 1, strides, f"{prefix}_shortcut_conv", f"{prefix}_shortcut_bn")


def residual_block(
    x,
    block: str,
    width: int,
    strides: int,
    prefix: str,
    *,
    recalibration=None,
    recalibration_name: str | None = None,
    recalibration_kwargs: dict | None = None,
    stride_on: str = "3x3",
    shortcut_kind: str = "B",
):
    """One residual block: branch -> recalibration -> add shortcut -> ReLU.

    ``recalibration`` is a layer constructor (see ``srm_keras.layers.get``) or None; the module
    is named ``f"{prefix}_{recalibration_name}"``, e.g. ``stage3_block2_srm``.
    """
    branch, expansion = BRANCHES[block]
    y = branch(x, width, strides, prefix, stride_on)
    if recalibration is not None:
        y = recalibration(name=f"{prefix}_{recalibration_name}", **(recalibration_kwargs or {}))(y)
    identity = shortcut(x, width * expansion, strides, prefix, shortcut_kind)
    y = keras.layers.Add(name=f"{prefix}_add")([identity, y])
    return keras.layers.ReLU(name=f"{prefix}_out")(y)
