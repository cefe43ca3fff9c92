"""What the ResNet and DenseNet builders share: their input, the checks of their common
arguments, and the dtype of their classifier head."""

from __future__ import annotations

import os

import keras

POOLINGS = (None, "avg", "max")


def check_options(pooling, weights, recalibration_kwargs) -> None:
    """The builders' shared arguments: ``pooling``, ``weights`` (a local file, never a download)
    and ``recalibration_kwargs``."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be None, 'avg' or 'max'; received {pooling!r}.")
    if recalibration_kwargs is not None and not isinstance(recalibration_kwargs, dict):
        raise ValueError(
            f"recalibration_kwargs must be a dict; received {type(recalibration_kwargs).__name__}."
        )
    if weights is not None:
        if weights == "imagenet":
            raise ValueError(
                "srm_keras downloads no weights: pass weights=None, or the path of a local "
                "weights file (.weights.h5 / .keras) or PyTorch checkpoint (.safetensors / .pth)."
            )
        if not os.path.isfile(os.fspath(weights)):
            raise ValueError(f"weights file not found: {os.fspath(weights)!r}.")


def image_input(spec, network: str, input_tensor, input_shape):
    """The model input and the tensor the stem starts from, for a spec with
    ``default_input_shape`` and ``total_stride``; ``network`` names it in the errors."""
    if input_shape is None:
        if input_tensor is not None:
            input_shape = tuple(input_tensor.shape[1:])
        else:
            input_shape = spec.default_input_shape
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(
            "input_shape must be (height, width, channels) with known channels; "
            f"received {input_shape}."
        )
    smallest = spec.total_stride
    if looks_channels_first(input_shape, smallest):
        channels, height, width = input_shape
        raise ValueError(
            f"input_shape={input_shape} looks channels-first (channels, height, width); the "
            "models take (height, width, channels): pass "
            f"input_shape=({height}, {width}, {channels})."
        )
    for side in input_shape[:2]:
        if side is not None and side < smallest:
            raise ValueError(
                f"Input {input_shape[0]}x{input_shape[1]} is too small for {network}: each "
                f"side must be at least {smallest} pixels (the network's total stride). Resize "
                f"the images, e.g. input_shape=({smallest * 7}, {smallest * 7}, "
                f"{input_shape[-1]})."
            )
    if input_tensor is None:
        image = keras.Input(shape=input_shape, name="images")
        return image, image
    if not keras.backend.is_keras_tensor(input_tensor):
        image = keras.Input(tensor=input_tensor, shape=input_shape, name="images")
        return image, image
    return keras.utils.get_source_inputs(input_tensor), input_tensor


def looks_channels_first(input_shape, smallest: int) -> bool:
    """(3, 32, 32): a channel count first, too small for a side, and sides after it."""
    first, second, last = input_shape
    return (
        first in (1, 3, 4)
        and first < smallest
        and last is not None
        and last >= smallest
        and (second is None or second >= smallest)
    )


def head_dtype() -> str:
    """The softmax runs in float32 under mixed precision (float16 probabilities lose the small
    classes), and in float64 under a float64 policy, so it never lowers the model's precision."""
    return (
        "float64" if keras.mixed_precision.global_policy().compute_dtype == "float64" else "float32"
    )
