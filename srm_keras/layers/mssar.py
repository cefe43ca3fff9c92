"""MS-SAR: multi-scale spatially-asymmetric recalibration (a reconstruction, see docs/mssar.md)."""

from __future__ import annotations

import math

import keras
from keras import ops

GLOBAL = "global"
DEFAULT_SCALES = (2, 4, GLOBAL)


def _check_scales(scales) -> tuple:
    if isinstance(scales, int | str):
        scales = (scales,)
    scales = tuple(scales)
    valid = all(
        s == GLOBAL or (isinstance(s, int) and not isinstance(s, bool) and s >= 1) for s in scales
    )
    if not scales or not valid or len(set(scales)) != len(scales):
        raise ValueError(
            "scales must be a non-empty sequence of distinct positive integers (pooling cell "
            f"sizes) and/or 'global', e.g. (2, 4, 'global'); received scales={scales!r}."
        )
    return scales


def _hidden(channels: int, reduction: int) -> int:
    return max(channels // reduction, 1)


def mssar_parameters(
    channels: int,
    reduction: int = 16,
    scales=DEFAULT_SCALES,
    kernel_size: int = 3,
    depthwise: bool = True,
    batch_norm: bool = True,
) -> int:
    """Trainable parameters of one :class:`MultiScaleSpatialRecalibration` on ``channels``.

    With ``h = max(C // reduction, 1)`` and ``L`` local (non-global) scales::

        C*h                        shared reduction kernel
        + h                        its bias (only without batch_norm)
        + 2*h per scale            batch normalisation gamma and beta (only with batch_norm)
        + L * k*k*h                spatial kernels (k*k*h*h each when depthwise=False)
        + h*C + C                  shared expansion kernel and the gate bias

    Batch normalisation's moving statistics (``2*h`` per scale) are not trainable and not counted.
    """
    scales = _check_scales(scales)
    hidden = _hidden(channels, reduction)
    local = sum(1 for s in scales if s != GLOBAL)
    spatial = kernel_size * kernel_size * hidden * (1 if depthwise else hidden)
    norm = 2 * hidden * len(scales) if batch_norm else hidden
    return 2 * channels * hidden + channels + norm + local * spatial


def mssar_macs(
    input_shape,
    reduction: int = 16,
    scales=DEFAULT_SCALES,
    kernel_size: int = 3,
    depthwise: bool = True,
) -> int:
    """Per-sample multiply-accumulates of one :class:`MultiScaleSpatialRecalibration`.

    ``input_shape`` is ``(batch, H, W, C)`` (the batch is ignored). Counted as for the other
    modules: every element read by a pooling or added into the full-size gate counts one, and
    each weight use one; batch normalisation, ReLU, sigmoid and biases are not counted. With
    ``h = max(C // reduction, 1)`` and, for a scale ``s``, ``P_s`` cells
    (``ceil(H/s) * ceil(W/s)``; 1 for the global scale)::

        sum over scales of
            H*W*C  (pooling; none for s = 1)
            + P_s * (C*h + h*C)  (reduction and expansion)
            + P_s * k*k*h  (spatial kernel; k*k*h*h when depthwise=False; none when global)
        + (S - 1) * H*W*C  (fusing S full-size maps)
        + H*W*C  (the product with the gate)

    One global scale gives ``2*H*W*C + 2*C*h``, the count of ``SqueezeExcitation``.
    """
    scales = _check_scales(scales)
    _, height, width, channels = input_shape
    hidden = _hidden(channels, reduction)
    elements = height * width * channels
    spatial = kernel_size * kernel_size * hidden * (1 if depthwise else hidden)
    total = len(scales) * elements  # S - 1 fusions and the product
    for scale in scales:
        if scale == GLOBAL:
            total += elements + 2 * channels * hidden
            continue
        cells = math.ceil(height / scale) * math.ceil(width / scale)
        total += (elements if scale > 1 else 0) + cells * (2 * channels * hidden + spatial)
    return total


def fuse_scales(logits, scales, fusion: str, bias, height, width):
    """MS-SAR's gate from each scale's logits: ``(N, C)`` for the global scale, ``(N, P, Q, C)``
    on a scale's cells otherwise (``(N, 1, 1, C)`` is taken as global too).

    ``sigmoid(bias + sum_s up_s(l_s))`` for ``fusion="sum"``, ``mean_s sigmoid(bias +
    up_s(l_s))`` for ``"average"``, where ``up_s`` is :func:`upsample_nearest` onto the
    ``height`` x ``width`` map. Returns ``(N, H, W, C)``, or ``(N, 1, 1, C)`` when every scale is
    global (it broadcasts over the map).
    """
    fused = None
    for scale, scale_logits in zip(scales, logits):
        if fusion == "average":
            scale_logits = ops.sigmoid(scale_logits + bias)
        if scale == GLOBAL:
            if len(scale_logits.shape) == 2:
                scale_logits = scale_logits[:, None, None, :]  # (N, 1, 1, C)
        else:
            scale_logits = upsample_nearest(scale_logits, scale, height, width)
        fused = scale_logits if fused is None else fused + scale_logits
    if fusion == "sum":
        return ops.sigmoid(fused + bias)
    return fused / len(scales)


def upsample_nearest(x, scale: int, height, width):
    """Nearest-neighbour upsampling of ``x`` (N, h, w, C), made by a ``scale`` x ``scale`` "same"
    pooling of an ``height`` x ``width`` map, back onto that map: every position gets the value
    of the cell that pooled it.

    "Same" pooling places ``ceil(H/s)`` cells over the map and splits the ``ceil(H/s)*s - H``
    missing rows between the top (the smaller half) and the bottom; the repeated map is cropped
    by the same offsets. Sizes may be dynamic tensors.
    """
    if scale == 1:
        return x
    cells_h, cells_w = ops.shape(x)[1], ops.shape(x)[2]
    if all(isinstance(v, int) for v in (cells_h, cells_w)):
        # One nearest-neighbour resize by an integer factor (a builtin TFLite and ONNX op).
        x = ops.image.resize(
            x, (cells_h * scale, cells_w * scale), "nearest", data_format="channels_last"
        )
    else:  # ops.image.resize needs static sizes
        x = ops.repeat(ops.repeat(x, scale, axis=1), scale, axis=2)  # (N, h*s, w*s, C)
    top = (cells_h * scale - height) // 2
    left = (cells_w * scale - width) // 2
    if all(isinstance(v, int) for v in (top, left, height, width)):
        if top == left == 0 and cells_h * scale == height and cells_w * scale == width:
            return x
        # Static bounds: a constant slice, with no shape computed at run time.
        return x[:, top : top + height, left : left + width, :]
    return ops.slice(x, (0, top, left, 0), (ops.shape(x)[0], height, width, x.shape[-1]))


@keras.saving.register_keras_serializable(package="srm_keras")
class MultiScaleSpatialRecalibration(keras.layers.Layer):
    """Multi-scale spatially-asymmetric recalibration (MS-SAR), as reconstructed here.

    Wang, Xie, Qiao, Zhang, Zhang and Yuille, "Multi-scale spatially-asymmetric recalibration
    for image classification", ECCV 2018 (arXiv:1804.00787). The paper's equations and code were
    not available: this layer is a reconstruction from its description, not the authors'
    module, and no figure of the paper is reproduced by it. What the description fixes: a gate
    per neuron (position and channel), computed from a local region around it (its "coordinate
    set"), at several scales, with a weight per relative position (spatially asymmetric, like a
    convolution kernel), multiplied into the response, at a small extra cost. Every other choice
    is ours and a constructor argument; docs/mssar.md explains each.

    For an input ``x`` of shape ``(N, H, W, C)``, ``h = max(C // reduction, 1)``, and each scale
    ``s`` of ``scales``::

        p_s = pool_s(x)                  # s x s cells, stride s, "same"; global: 1 x 1
        z_s = relu(bn_s(p_s @ W_r))      # shared 1x1 reduction C -> h (+ b_r, no BN, if not
                                         # batch_norm); one BN per scale
        u_s = K_s * z_s                  # k x k "same" convolution on the cells (local scales)
        l_s = u_s @ W_e                  # shared 1x1 expansion h -> C
        gate = sigmoid(b + sum_s up_s(l_s))        # fusion="sum"
        gate = mean_s sigmoid(b + up_s(l_s))       # fusion="average"
        y = x * gate

    ``up_s`` puts each cell's value back on the positions it pooled (:func:`upsample_nearest`);
    the global scale broadcasts. The global scale has no ``K_s``: on a 1x1 map a "same" kernel
    sees only its centre tap, a per-channel factor that ``W_e`` absorbs. The expansion is
    applied per scale on the cells, before upsampling (fewer multiply-accumulates than on the
    full map; the same result, since both are linear and nearest upsampling only copies).

    ``W_e`` and ``b`` start at zero (``gate_initializer``), so every gate is exactly 0.5 at
    initialisation. ``scales=("global",), batch_norm=False`` is exactly
    :class:`~srm_keras.layers.SqueezeExcitation` (with ``W_r, b_r, W_e, b`` as its squeeze
    and excite weights). Parameters: :func:`mssar_parameters`; MACs: :func:`mssar_macs`.

    The pooling and everything after it run in float32 under float16, bfloat16 and float32
    policies (float64 under a float64 policy); the gate is cast back before the product.

    Args:
        scales: pooling cell sizes (positive integers; 1 = no pooling) and/or ``"global"``.
        kernel_size: odd size ``k`` of the spatial kernels of the local scales.
        reduction: ratio of the shared channel reduction (hidden width ``max(C // r, 1)``).
        depthwise: True for a depthwise ``K_s`` (``k*k*h`` weights per scale), False for a full
            convolution ``h -> h`` (``k*k*h*h``).
        batch_norm: one batch normalisation per scale after the reduction (then the reduction
            has no bias); False for a reduction with a bias and no normalisation.
        pooling: ``"average"`` or ``"max"`` pooling of the cells.
        fusion: ``"sum"`` of the scales' logits before one sigmoid, or ``"average"`` of the
            scales' sigmoid gates.
        kernel_initializer: initialiser of ``W_r`` and the ``K_s``.
        gate_initializer: initialiser of ``W_e`` ("zeros": gates of exactly 0.5 at the start).
        momentum: momentum of the batch normalisations (Keras convention).
        bn_epsilon: epsilon of the batch normalisations.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape: ``(batch, height, width, channels)``, any height and width (dynamic too).
    Output shape: the same.
    """

    weight_decay_exempt = False

    def __init__(
        self,
        scales=DEFAULT_SCALES,
        kernel_size=3,
        reduction=16,
        depthwise=True,
        batch_norm=True,
        pooling="average",
        fusion="sum",
        kernel_initializer="glorot_uniform",
        gate_initializer="zeros",
        momentum=0.9,
        bn_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.scales = _check_scales(scales)
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                "kernel_size must be an odd positive integer (so that a 'same' kernel is "
                f"centred on its cell), e.g. 3; received kernel_size={kernel_size!r}."
            )
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"reduction must be a positive integer; received {reduction!r}.")
        if pooling not in ("average", "max"):
            raise ValueError(f"pooling must be 'average' or 'max'; received {pooling!r}.")
        if fusion not in ("sum", "average"):
            raise ValueError(f"fusion must be 'sum' or 'average'; received {fusion!r}.")
        self.kernel_size = kernel_size
        self.reduction = reduction
        self.depthwise = bool(depthwise)
        self.batch_norm = bool(batch_norm)
        self.pooling = pooling
        self.fusion = fusion
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.gate_initializer = keras.initializers.get(gate_initializer)
        self.momentum = momentum
        self.bn_epsilon = bn_epsilon
        # The gate is computed in float32 at least (see the class docstring).
        self.statistics_dtype = "float64" if self.compute_dtype == "float64" else "float32"
        self.bns = [
            keras.layers.BatchNormalization(
                momentum=momentum,
                epsilon=bn_epsilon,
                dtype=self.statistics_dtype,
                name=f"{self._scale_name(s)}_bn",
            )
            for s in (self.scales if self.batch_norm else ())
        ]

    @staticmethod
    def _scale_name(scale) -> str:
        return GLOBAL if scale == GLOBAL else f"scale{scale}"

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "MultiScaleSpatialRecalibration expects a 4D channels-last input (batch, height, "
                f"width, channels) with a known number of channels; received shape {input_shape}."
            )
        channels = input_shape[-1]
        hidden = _hidden(channels, self.reduction)

        def weight(name, shape, initializer):
            return self.add_weight(
                name=name,
                shape=shape,
                initializer=initializer,
                dtype=self.statistics_dtype,
                autocast=False,
            )

        self.squeeze_kernel = weight("squeeze_kernel", (channels, hidden), self.kernel_initializer)
        self.squeeze_bias = None if self.batch_norm else weight("squeeze_bias", (hidden,), "zeros")
        k = self.kernel_size
        self.spatial_kernels = {
            s: weight(
                f"{self._scale_name(s)}_kernel",
                (k, k, hidden, 1 if self.depthwise else hidden),
                self.kernel_initializer,
            )
            for s in self.scales
            if s != GLOBAL
        }
        self.excite_kernel = weight("excite_kernel", (hidden, channels), self.gate_initializer)
        self.excite_bias = weight("excite_bias", (channels,), "zeros")
        for scale, bn in zip(self.scales, self.bns):
            bn.build((None, hidden) if scale == GLOBAL else (None, None, None, hidden))

    def _scale_logits(self, x, index, scale, training):
        """(N, P, Q, C) logits of one scale on its cells, without the bias; (N, C) if global."""
        if scale == GLOBAL:
            # (N, H*W, C): XLA reduces one axis several times faster than two adjacent ones.
            flat = ops.reshape(x, (ops.shape(x)[0], -1, x.shape[-1]))
            pooled = ops.max(flat, axis=1) if self.pooling == "max" else ops.mean(flat, axis=1)
        elif scale == 1:
            pooled = x
        else:
            pool = ops.max_pool if self.pooling == "max" else ops.average_pool
            pooled = pool(x, scale, scale, padding="same", data_format="channels_last")
        z = self._pointwise(pooled, self.squeeze_kernel)
        z = self.bns[index](z, training=training) if self.batch_norm else z + self.squeeze_bias
        z = ops.relu(z)
        if scale != GLOBAL:
            conv = ops.depthwise_conv if self.depthwise else ops.conv
            z = conv(z, self.spatial_kernels[scale], padding="same", data_format="channels_last")
        return self._pointwise(z, self.excite_kernel)

    @staticmethod
    def _pointwise(x, kernel):
        """``x @ kernel`` on the last axis: a matrix product on (N, C), a 1x1 convolution on
        maps (one builtin operator in TFLite and ONNX, where a rank-4 product is not)."""
        if len(x.shape) == 2:
            return ops.matmul(x, kernel)
        kernel = ops.reshape(kernel, (1, 1, *kernel.shape))
        return ops.conv(x, kernel, padding="valid", data_format="channels_last")

    def _gate_map(self, inputs, training):
        """The gate, ``(N, H, W, C)``, or ``(N, 1, 1, C)`` when every scale is global."""
        x = ops.cast(inputs, self.statistics_dtype)
        logits = [self._scale_logits(x, i, scale, training) for i, scale in enumerate(self.scales)]
        return fuse_scales(
            logits, self.scales, self.fusion, self.excite_bias, ops.shape(x)[1], ops.shape(x)[2]
        )

    def gate(self, inputs, training=None):
        """The ``(N, H, W, C)`` gate the layer multiplies ``inputs`` by, in the statistics
        dtype."""
        return ops.broadcast_to(self._gate_map(inputs, training), ops.shape(inputs))

    def call(self, inputs, training=None):
        return inputs * ops.cast(self._gate_map(inputs, training), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def macs(self, input_shape) -> int:
        """Analytic per-sample multiply-accumulates: :func:`mssar_macs` with these options."""
        return mssar_macs(
            input_shape, self.reduction, self.scales, self.kernel_size, self.depthwise
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            scales=list(self.scales),
            kernel_size=self.kernel_size,
            reduction=self.reduction,
            depthwise=self.depthwise,
            batch_norm=self.batch_norm,
            pooling=self.pooling,
            fusion=self.fusion,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            gate_initializer=keras.initializers.serialize(self.gate_initializer),
            momentum=self.momentum,
            bn_epsilon=self.bn_epsilon,
        )
        return config
