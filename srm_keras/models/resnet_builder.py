"""The one ResNet builder: every depth and module of the zoo comes from here."""

from __future__ import annotations

import os

import keras

from srm_keras import layers as recalibration_layers
from srm_keras.models import blocks
from srm_keras.models.inputs import check_options, head_dtype, image_input
from srm_keras.models.spec import ResNetSpec, get_spec
from srm_keras.weights import is_checkpoint_path, load_keras_weights, load_torch_state_dict

STRIDE_PLACES = ("3x3", "1x1")
SHORTCUTS = ("A", "B")


def resnet(
    depth: int,
    recalibration=None,
    *,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor=None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    classifier_activation: str | None = "softmax",
    stride_on: str = "3x3",
    shortcut: str | None = None,
    recalibration_kwargs: dict | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build a ResNet, optionally with a recalibration module in every residual block.

    Args:
        depth: 18, 34, 50, 101 or 152 (ImageNet layout: 7x7 stem, max-pool, four stages) or
            20, 32, 44, 56, 110 (CIFAR layout: 3x3 stem, three stages of basic blocks).
        recalibration: a registered module name (``"srm"``, ``"se"``, ``"ge"``, ...; see
            ``srm_keras.layers.names()``), a ``keras.layers.Layer`` subclass that takes ``name``
            and infers its channels in ``build()``, or None for the plain network.
        include_top: whether to end with global average pooling and the classifier.
        weights: None (random initialisation), or the path of a local file: Keras weights
            (``.weights.h5``, ``.keras``) or a PyTorch checkpoint (``.safetensors``, ``.pth``,
            ``.pt``, ``.bin``) in the torchvision, timm or SRM-release naming, detected from its
            tensor names (see ``srm_keras.weights.load_torch_state_dict``). A classifier that
            does not fit (another number of classes, or none in the file) is skipped with a
            ``HeadMismatchWarning`` unless ``classes`` is given; any other mismatch is an
            error. Nothing is ever downloaded.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)`` for ImageNet
            depths and ``(32, 32, 3)`` for CIFAR depths. Height and width may be None, except
            with the global-extent GE module.
        pooling: without the top, None (4D feature maps), ``"avg"`` or ``"max"`` (2D features).
        classes: number of classes (default 1000 for ImageNet depths, 10 for CIFAR depths).
        classifier_activation: activation of the ``predictions`` layer that follows the
            ``logits`` Dense layer (computed in float32), or None to output the logits.
        stride_on: where a bottleneck block downsamples: ``"3x3"`` (torchvision v1.5 and the
            SRM release, default) or ``"1x1"`` (the original layout that the SE paper's FLOPs
            describe).
        shortcut: ``"A"`` (parameter-free padded identity) or ``"B"`` (1x1 conv + BN) where a
            block changes shape; default A for CIFAR depths and B for ImageNet depths.
        recalibration_kwargs: options for every recalibration module (e.g. ``{"ddof": 0}``
            for SRM, ``{"reduction": 8}`` for SE).
        name: the model's name (default e.g. ``"srm_resnet50"``).

    Returns:
        A functional ``keras.Model``. Layer names are hierarchical and stable
        (``stem_conv``, ``stage3_block2_conv1``, ``stage3_block2_srm``, ``logits``).

    Raises:
        ValueError: for an unsupported depth, unknown module, bad argument or input too small.
    """
    spec = get_spec(depth)
    factory = recalibration_layers.get(recalibration)
    module_name = recalibration_layers.short_name(recalibration)
    shortcut = _check_options(spec, stride_on, shortcut, pooling, weights, recalibration_kwargs)
    # Classes given with weights: a new head on purpose, so a checkpoint's other head is no news.
    new_head = classes is not None
    if include_top:
        classes = spec.default_classes if classes is None else classes
        if not isinstance(classes, int) or isinstance(classes, bool) or classes <= 0:
            raise ValueError(f"classes must be a positive integer; received classes={classes!r}.")

    inputs, x = image_input(spec, f"a {spec.family} ResNet", input_tensor, input_shape)
    x = _stem(x, spec)
    for stage, (count, width) in enumerate(zip(spec.blocks, spec.widths), start=1):
        for index in range(1, count + 1):
            strides = 2 if stage > 1 and index == 1 else 1
            x = blocks.residual_block(
                x,
                spec.block,
                width,
                strides,
                f"stage{stage}_block{index}",
                recalibration=factory,
                recalibration_name=module_name,
                recalibration_kwargs=recalibration_kwargs,
                stride_on=stride_on,
                shortcut_kind=shortcut,
            )

    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(classes, name="logits")(x)
        if classifier_activation is not None:
            x = keras.layers.Activation(
                classifier_activation, dtype=head_dtype(), name="predictions"
            )(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)

    if name is None:
        name = f"{module_name}_resnet{depth}" if module_name else f"resnet{depth}"
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        if is_checkpoint_path(weights):
            load_torch_state_dict(model, weights, replace_head=new_head)
        else:
            load_keras_weights(model, weights, replace_head=new_head)
    return model


def _check_options(spec, stride_on, shortcut, pooling, weights, recalibration_kwargs) -> str:
    if stride_on not in STRIDE_PLACES:
        raise ValueError(f"stride_on must be one of {STRIDE_PLACES}; received {stride_on!r}.")
    if shortcut is None:
        shortcut = "A" if spec.family == "cifar" else "B"
    if shortcut not in SHORTCUTS:
        raise ValueError(
            f"shortcut must be 'A' (padded identity) or 'B' (1x1 conv + BN); received {shortcut!r}."
        )
    check_options(pooling, weights, recalibration_kwargs)
    return shortcut


def _stem(x, spec: ResNetSpec):
    if spec.family == "cifar":
        x = blocks.conv_bn(x, spec.widths[0], 3, 1, "stem_conv", "stem_bn")
        return keras.layers.ReLU(name="stem_relu")(x)
    x = blocks.conv_bn(x, spec.widths[0], 7, 2, "stem_conv", "stem_bn")
    x = keras.layers.ReLU(name="stem_relu")(x)
    # Zero padding equals PyTorch's -inf padding here: the inputs are ReLU outputs.
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
