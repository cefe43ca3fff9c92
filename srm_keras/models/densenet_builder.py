"""DenseNets (Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017): the builder of the variants in ``srm_keras.models.spec.DENSENETS``.

Each dense layer is BN -> ReLU -> [1x1 conv to 4k -> BN -> ReLU ->] 3x3 conv to k, the k new
maps go through the recalibration module, and are concatenated to the layer's input. Transitions
are BN -> ReLU -> 1x1 conv (compressed) -> 2x2 average pool. See docs/densenet.md.
"""

from __future__ import annotations

import os

import keras

from srm_keras import layers as recalibration_layers
from srm_keras.models import blocks
from srm_keras.models.inputs import check_options, head_dtype, image_input
from srm_keras.models.spec import (
    BOTTLENECK_WIDTH,
    DENSENETS,
    DenseNetSpec,
    model_stem,
    variant_key,
)
from srm_keras.weights import is_checkpoint_path, load_keras_weights, load_torch_state_dict


def densenet(
    variant: int | str,
    recalibration=None,
    *,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor=None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    classifier_activation: str | None = "softmax",
    recalibration_kwargs: dict | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build a DenseNet, optionally with a recalibration module in every dense layer.

    Args:
        variant: 121, 169, 201 or 161 (ImageNet layout of torchvision and timm) or 40 and
            ``"bc100"`` (CIFAR layouts of the DenseNet paper, k = 12).
        recalibration: a registered module name (``"srm"``, ``"se"``, ``"ge"``, ...; see
            ``srm_keras.layers.names()``), a ``keras.layers.Layer`` subclass that takes ``name``
            and infers its channels in ``build()``, or None for the plain network. It acts on
            each dense layer's k new feature maps, before they are concatenated.
        include_top: whether to end with global average pooling and the classifier.
        weights: None (random initialisation), or the path of a local file: Keras weights
            (``.weights.h5``, ``.keras``) or a PyTorch checkpoint (``.safetensors``, ``.pth``,
            ``.pt``, ``.bin``) named as torchvision's and timm's DenseNets (see
            ``srm_keras.weights.load_torch_state_dict``). A classifier that does not fit
            (another number of classes, or none in the file) is skipped with a
            ``HeadMismatchWarning`` unless ``classes`` is given; any other mismatch is an
            error. Nothing is ever downloaded.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)`` for ImageNet
            variants and ``(32, 32, 3)`` for CIFAR ones. Height and width may be None, except
            with the global-extent GE module.
        pooling: without the top, None (4D feature maps), ``"avg"`` or ``"max"`` (2D features).
        classes: number of classes (default 1000 for ImageNet variants, 10 for CIFAR ones).
        classifier_activation: activation of the ``predictions`` layer that follows the
            ``logits`` Dense layer (computed in float32), or None to output the logits.
        recalibration_kwargs: options for every recalibration module (e.g. ``{"ddof": 0}``).
        name: the model's name (default e.g. ``"srm_densenet121"``, ``"densenet_bc100"``).

    Returns:
        A functional ``keras.Model`` with hierarchical, stable layer names (``stem_conv``,
        ``block2_layer3_conv1``, ``block2_layer3_srm``, ``transition1_conv``, ``final_bn``,
        ``logits``).

    Raises:
        ValueError: for an unknown variant or module, a bad argument, or an input too small.
    """
    key = variant_key(variant)
    spec = DENSENETS[key]
    factory = recalibration_layers.get(recalibration)
    module_name = recalibration_layers.short_name(recalibration)
    check_options(pooling, weights, recalibration_kwargs)
    # Classes given with weights: a new head on purpose, so a checkpoint's other head is no news.
    new_head = classes is not None
    if include_top:
        classes = spec.default_classes if classes is None else classes
        if not isinstance(classes, int) or isinstance(classes, bool) or classes <= 0:
            raise ValueError(f"classes must be a positive integer; received classes={classes!r}.")

    inputs, x = image_input(spec, spec.label, input_tensor, input_shape)
    x = _stem(x, spec)
    for index, count in enumerate(spec.blocks, start=1):
        for layer in range(1, count + 1):
            x = dense_layer(
                x,
                spec,
                f"block{index}_layer{layer}",
                recalibration=factory,
                recalibration_name=module_name,
                recalibration_kwargs=recalibration_kwargs,
            )
        if index < len(spec.blocks):
            x = transition(x, int(spec.compression * x.shape[-1]), f"transition{index}")
    x = blocks.batch_norm("final_bn")(x)
    x = keras.layers.ReLU(name="final_relu")(x)

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
        name = f"{module_name}_{model_stem(key)}" if module_name else model_stem(key)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        if is_checkpoint_path(weights):
            load_torch_state_dict(model, weights, replace_head=new_head)
        else:
            load_keras_weights(model, weights, replace_head=new_head)
    return model


def bn_relu_conv(x, filters: int, kernel_size: int, prefix: str, suffix: str = ""):
    """Pre-activation unit: BN -> ReLU -> convolution without bias (stride 1, "same").

    Layers are named ``{prefix}_bn{suffix}``, ``{prefix}_relu{suffix}``, ``{prefix}_conv{suffix}``.
    """
    x = blocks.batch_norm(f"{prefix}_bn{suffix}")(x)
    x = keras.layers.ReLU(name=f"{prefix}_relu{suffix}")(x)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        padding="valid" if kernel_size == 1 else "same",
        use_bias=False,
        kernel_initializer=blocks.CONV_INITIALIZER,
        name=f"{prefix}_conv{suffix}",
    )(x)


def dense_layer(
    x,
    spec: DenseNetSpec,
    prefix: str,
    *,
    recalibration=None,
    recalibration_name: str | None = None,
    recalibration_kwargs: dict | None = None,
):
    """One dense layer: its k new maps, recalibrated, concatenated to its input.

    ``recalibration`` is a layer constructor (see ``srm_keras.layers.get``) or None; the module
    is named ``f"{prefix}_{recalibration_name}"``, e.g. ``block2_layer3_srm``.
    """
    k = spec.growth_rate
    if spec.bottleneck:
        y = bn_relu_conv(x, BOTTLENECK_WIDTH * k, 1, prefix, "1")
        y = bn_relu_conv(y, k, 3, prefix, "2")
    else:
        y = bn_relu_conv(x, k, 3, prefix, "1")
    if recalibration is not None:
        y = recalibration(name=f"{prefix}_{recalibration_name}", **(recalibration_kwargs or {}))(y)
    return keras.layers.Concatenate(name=f"{prefix}_concat")([x, y])


def transition(x, filters: int, prefix: str):
    """BN -> ReLU -> 1x1 convolution to ``filters`` maps -> 2x2 average pooling (stride 2)."""
    x = bn_relu_conv(x, filters, 1, prefix)
    return keras.layers.AveragePooling2D(2, strides=2, name=f"{prefix}_pool")(x)


def _stem(x, spec: DenseNetSpec):
    if spec.family == "cifar":
        # No BN or ReLU here: the first dense layer and transition begin with their own.
        return keras.layers.Conv2D(
            spec.stem_channels,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=blocks.CONV_INITIALIZER,
            name="stem_conv",
        )(x)
    x = blocks.conv_bn(x, spec.stem_channels, 7, 2, "stem_conv", "stem_bn")
    x = keras.layers.ReLU(name="stem_relu")(x)
    # Zero padding equals PyTorch's -inf padding here: the inputs are ReLU outputs.
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
