"""GE: gather-excite, in the variants of the Gather-Excite paper."""

from __future__ import annotations

import math

import keras
from keras import ops

from srm_keras.layers.se import add_excitation_weights, excite

GLOBAL = "global"


def _check_extent(extent):
    if extent == GLOBAL:
        return extent
    if isinstance(extent, int) and extent >= 2 and extent & (extent - 1) == 0:
        return extent
    raise ValueError(
        f"extent must be 'global' or a power of two >= 2 (e.g. 8); received extent={extent!r}."
    )


@keras.saving.register_keras_serializable(package="srm_keras")
class GatherExcitation(keras.layers.Layer):
    """Gather-Excite (GE) recalibration.

    Hu, Shen, Albanie, Sun and Vedaldi, "Gather-Excite: Exploiting Feature Context in
    Convolutional Neural Networks", NeurIPS 2018.

    A *gather* operator aggregates each channel over a spatial extent, an *excite* operator turns
    the result into a sigmoid gate that rescales the input. The variants of the paper:

    - ``GatherExcitation()`` (GE-θ, global extent; the variant the SRM paper compares with): a
      depthwise convolution whose kernel covers the whole feature map (with bias, as in the SRM
      release), batch normalisation, sigmoid. The kernel size is the spatial size of the input,
      so the layer needs a static height and width when it is built.
    - ``GatherExcitation(parametric=False)`` (GE-θ⁻): global average pooling and a sigmoid; no
      parameters. With ``extent=e`` it average-pools ``e x e`` windows instead and resizes the
      gate back to the input size (nearest neighbour).
    - ``GatherExcitation(extent=8)`` (GE-θ with extent e): ``log2(e)`` depthwise 3x3 stride-2
      convolutions with batch normalisation (ReLU between them), the gate resized back to the
      input size (nearest neighbour). Works at any input size.
    - ``GatherExcitation(reduction=16)`` (GE-θ⁺): the global depthwise gather, batch
      normalisation and ReLU, then an excite bottleneck of 1x1 convolutions with biases
      (``C -> C // reduction -> C``, ReLU between) before the sigmoid.

    Args:
        extent: ``"global"`` or a power of two >= 2.
        parametric: False for the parameter-free GE-θ⁻.
        reduction: None, or the bottleneck ratio of GE-θ⁺ (global parametric gather only).
        momentum: momentum of the batch normalisations (Keras convention).
        bn_epsilon: epsilon of the batch normalisations.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape: ``(batch, height, width, channels)``. Output shape: the same.
    """

    weight_decay_exempt = False

    def __init__(
        self,
        extent=GLOBAL,
        parametric=True,
        reduction=None,
        momentum=0.9,
        bn_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.extent = _check_extent(extent)
        self.parametric = bool(parametric)
        if reduction is not None:
            if not self.parametric or self.extent != GLOBAL:
                raise ValueError(
                    "reduction (GE-θ⁺) requires the parametric global gather: use "
                    "GatherExcitation(extent='global', parametric=True, reduction=16)."
                )
            if not isinstance(reduction, int) or reduction < 1:
                raise ValueError(f"reduction must be a positive integer; received {reduction!r}.")
        self.reduction = reduction
        self.momentum = momentum
        self.bn_epsilon = bn_epsilon

        def batch_norm(name):
            return keras.layers.BatchNormalization(
                momentum=momentum, epsilon=bn_epsilon, name=name, dtype=self.dtype_policy
            )

        self.gather_convs = []
        self.gather_bns = []
        if self.parametric and self.extent == GLOBAL:
            self.gather_bns.append(batch_norm("bn"))
        elif self.parametric:
            for i in range(int(math.log2(self.extent))):
                self.gather_convs.append(
                    keras.layers.DepthwiseConv2D(
                        3,
                        strides=2,
                        use_bias=False,
                        name=f"gather{i + 1}_conv",
                        dtype=self.dtype_policy,
                    )
                )
                self.gather_bns.append(batch_norm(f"gather{i + 1}_bn"))

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "GatherExcitation expects a 4D channels-last input with a known number of "
                f"channels; received shape {input_shape}."
            )
        _, height, width, channels = input_shape
        if self.parametric and self.extent == GLOBAL:
            if height is None or width is None:
                raise ValueError(
                    "GatherExcitation with a global extent (recalibration='ge') sizes its "
                    "depthwise kernel to the feature map, so it needs a static height and width; "
                    f"received shape {input_shape}. Build the model with a fixed input_shape "
                    "(e.g. input_shape=(224, 224, 3)), or use an extent that works at any size "
                    "(recalibration='ge_extent8' or 'ge_minus')."
                )
            # Depthwise layout (kh, kw, C, 1), as keras.layers.DepthwiseConv2D stores it.
            self.gather_kernel = self.add_weight(
                name="gather_kernel",
                shape=(height, width, channels, 1),
                initializer=keras.initializers.HeNormal(),
            )
            self.gather_bias = self.add_weight(
                name="gather_bias", shape=(channels,), initializer="zeros"
            )
            self.gather_bns[0].build((None, channels))
        shape = (None, height, width, channels)
        for conv, bn in zip(self.gather_convs, self.gather_bns):
            padded = (
                None,
                None if shape[1] is None else shape[1] + 2,
                None if shape[2] is None else shape[2] + 2,
                channels,
            )
            conv.build(padded)
            shape = conv.compute_output_shape(padded)
            bn.build(shape)
        if self.reduction is not None:
            add_excitation_weights(self, channels, self.reduction)

    def _gather_global(self, inputs, training):
        # (N, H*W, C): XLA reduces one axis several times faster than two adjacent ones.
        x = ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))
        if not self.parametric:
            return ops.mean(x, axis=1)  # (N, C)
        # A valid depthwise convolution whose kernel covers the map is a weighted sum.
        kernel = ops.cast(ops.reshape(self.gather_kernel, (-1, x.shape[-1])), inputs.dtype)
        context = ops.sum(x * kernel, axis=1) + self.gather_bias  # (N, C)
        context = self.gather_bns[0](context, training=training)
        if self.reduction is not None:
            context = excite(self, ops.relu(context))
        return context

    def _gather_local(self, inputs, training):
        if not self.parametric:
            e = self.extent
            return ops.average_pool(inputs, pool_size=e, strides=e, padding="same")
        x = inputs
        for i, (conv, bn) in enumerate(zip(self.gather_convs, self.gather_bns)):
            if i > 0:
                x = ops.relu(x)
            # Symmetric padding of 1, as in the PyTorch convention (Keras' "same" pads the
            # bottom/right only at stride 2 on even sizes).
            x = conv(ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))))
            x = bn(x, training=training)
        return x

    def gate(self, inputs, training=None):
        """The gate the layer multiplies ``inputs`` by: ``(N, C)`` with a global extent,
        ``(N, H, W, C)`` with a local one."""
        if self.extent == GLOBAL:
            return ops.sigmoid(self._gather_global(inputs, training))
        context = self._gather_local(inputs, training)
        size = (ops.shape(inputs)[1], ops.shape(inputs)[2])
        return ops.sigmoid(ops.image.resize(context, size, interpolation="nearest"))

    def call(self, inputs, training=None):
        gate = ops.cast(self.gate(inputs, training), inputs.dtype)
        if self.extent != GLOBAL:
            return inputs * gate
        # The product on (N, H*W, C), so that the gate's gradient is a one-axis reduction.
        x = ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))
        return ops.reshape(x * gate[:, None, :], ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Analytic per-sample multiply-accumulates of the gather, excite and product."""
        _, height, width, channels = input_shape
        elements = height * width * channels
        total = elements  # the product with the gate
        if self.extent == GLOBAL:
            total += elements  # the global gather (weighted or plain average)
            if self.reduction is not None:
                total += 2 * channels * max(channels // self.reduction, 1)
        elif self.parametric:
            h, w = height, width
            for _ in self.gather_convs:
                h, w = (h + 1) // 2, (w + 1) // 2
                total += h * w * 9 * channels
        else:
            total += elements
        return total

    def get_config(self):
        config = super().get_config()
        config.update(
            extent=self.extent,
            parametric=self.parametric,
            reduction=self.reduction,
            momentum=self.momentum,
            bn_epsilon=self.bn_epsilon,
        )
        return config
