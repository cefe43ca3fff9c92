"""Gate statistics: what every recalibration module of a trained model does to each channel.

:func:`gate_statistics` runs a dataset through a *probe* of the model, whose outputs are, for
every module, the gate it multiplies its input by (read by :mod:`srm_keras.analysis.readers`),
reduced to per-channel statistics inside the probe. Nothing is trained or changed; batch
normalisations use their moving statistics (inference).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator

import keras
import numpy as np
from keras import ops

from srm_keras.analysis.readers import gate_reader, is_readable

# How far ``x * gate`` may be from the module's own output, relative to max |x| of the batch:
# the reader repeats the layer's arithmetic, possibly in another order (float32 rounding is
# ~1e-7 of a gate); under float16/bfloat16 policies the layer rounds its product to 1e-3.
_TOLERANCE = {"float16": 1e-2, "bfloat16": 1e-2}
_DEFAULT_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class GateStatistics:
    """Per-channel statistics of one module's gate over a dataset.

    Attributes:
        name: the module's layer name, e.g. ``"stage3_block2_srm"``.
        block: the block it sits in, e.g. ``"stage3_block2"`` (the name without the module's
            key; a dense layer's prefix in a DenseNet).
        module: the layer's class name, e.g. ``"StyleRecalibration"``.
        channels: C.
        spatial: whether the gate has a value per position (GE with a local extent, MS-SAR)
            rather than one per channel (SRM, SE, global GE).
        count: values per channel the statistics cover: images, times H·W for a spatial gate.
        mean: ``(C,)`` mean gate of each channel over the images (and positions).
        std: ``(C,)`` population standard deviation (divisor ``count``) over the same values:
            how much a channel's gate varies from image to image (and position to position).
    """

    name: str
    block: str
    module: str
    channels: int
    spatial: bool
    count: int
    mean: np.ndarray
    std: np.ndarray

    def as_dict(self) -> dict:
        """JSON-ready: the fields, with ``mean`` and ``std`` as lists."""
        fields = dataclasses.asdict(self)
        fields.update(mean=self.mean.tolist(), std=self.std.tolist())
        return fields


def recalibration_modules(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's recalibration modules, in layer order.

    A layer counts when its gate can be read (:func:`srm_keras.analysis.readers.gate_reader`).
    A layer of a class in the module registry (``srm_keras.layers.names()``) that no reader
    knows raises ValueError, rather than being skipped in silence; so does a model nested in
    ``model`` that holds modules (analyse the inner model itself).
    """
    registered = _registered_classes()
    modules = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            if recalibration_modules(layer):
                raise ValueError(
                    f"the recalibration modules of {model.name!r} sit in the nested model "
                    f"{layer.name!r}: analyse that model itself."
                )
            continue
        if is_readable(layer):
            gate_reader(layer)  # a subclass with its own call() is refused here, with the reason
            modules.append(layer)
        elif isinstance(layer, registered):
            gate_reader(layer)  # raises, naming register_gate_reader
    return modules


def gate_statistics(
    model: keras.Model,
    data,
    *,
    batch_size: int = 64,
    steps: int | None = None,
) -> list[GateStatistics]:
    """Per-channel gate means and spreads of every recalibration module of ``model`` over ``data``.

    Each module's gate is read at inference (``training=False``) by a probe model that shares
    the model's layers and weights: a gate of one value per channel (SRM, SE, global GE) gives,
    per channel, the mean and the standard deviation over the images; a spatial gate (GE with a
    local extent, MS-SAR) is pooled over positions as well: the mean over images and positions,
    and the standard deviation over images and positions (within-image and between-image
    variation together). On every batch the probe checks that ``inputs * gate`` reproduces the
    module's own output, so a reader that no longer matches its layer raises instead of
    reporting another layer's gates.

    Args:
        model: any Keras model containing recalibration modules (ResNets and DenseNets of the
            zoo; registered modules of your own with :func:`register_gate_reader` or a
            ``gate()`` method). Each module must be called once in the model.
        data: images ``(N, H, W, C)`` (a NumPy array or tensor, cut into ``batch_size``
            batches), or an iterable of batches: images, or tuples whose first item is the
            images (e.g. a ``tf.data.Dataset`` of ``(images, labels)``). Labels are not used.
            Images are what the model takes (normalised as in training).
        batch_size: batch size for an array of images.
        steps: read at most this many batches (default: all).

    Returns:
        One :class:`GateStatistics` per module, in layer order.

    Raises:
        ValueError: the model has no recalibration module, a module's gate cannot be read, a
            reader does not reproduce its module's output, or ``data`` is empty.
    """
    modules = recalibration_modules(model)
    if not modules:
        raise ValueError(
            f"{model.name!r} has no recalibration module (a plain network?): there are no "
            "gates to read."
        )
    probe = _probe(model, modules)
    predict = _inference(probe)
    accumulators = [_Moments(int(m.input.shape[-1])) for m in modules]
    spatial = [False] * len(modules)
    worst = [0.0] * len(modules)
    for images in _image_batches(data, batch_size, steps):
        outputs = predict(images)
        for i in range(len(modules)):
            stats, check = (np.asarray(o, dtype=np.float64) for o in outputs[2 * i : 2 * i + 2])
            if not len(check):  # an empty batch
                continue
            positions = int(check[0, 2])
            spatial[i] = positions > 1
            accumulators[i].add(stats[:, 0], stats[:, 1], positions)
            scale = max(float(check[:, 1].max()), np.finfo(np.float32).tiny)
            worst[i] = max(worst[i], float(check[:, 0].max()) / scale)
    if accumulators[0].count == 0:
        raise ValueError("data is empty: no images to read gates over.")
    for module, error in zip(modules, worst):
        tolerance = _TOLERANCE.get(module.compute_dtype, _DEFAULT_TOLERANCE)
        if not error <= tolerance:
            raise ValueError(
                f"the gate read for {module.name!r} ({type(module).__name__}) does not "
                f"reproduce the module's output (relative error {error:.2g} > {tolerance:g}): "
                "the layer computes something its reader in srm_keras.analysis.readers does "
                "not (a new option?). Update the reader, or give the class a "
                "gate(inputs, training=None) method."
            )
    return [
        GateStatistics(
            name=module.name,
            block=block_of(module),
            module=type(module).__name__,
            channels=acc.channels,
            spatial=is_spatial,
            count=acc.count,
            mean=acc.mean.copy(),
            std=np.sqrt(acc.m2 / acc.count),
        )
        for module, acc, is_spatial in zip(modules, accumulators, spatial)
    ]


def statistics_table(statistics: Iterable[GateStatistics]) -> dict[str, list]:
    """One row per module and channel, as columns: ``name``, ``block``, ``module``,
    ``channel``, ``mean``, ``std`` (``pandas.DataFrame(table)`` reads it as it is)."""
    table: dict[str, list] = {k: [] for k in ("name", "block", "module", "channel", "mean", "std")}
    for stats in statistics:
        for channel in range(stats.channels):
            table["name"].append(stats.name)
            table["block"].append(stats.block)
            table["module"].append(stats.module)
            table["channel"].append(channel)
            table["mean"].append(float(stats.mean[channel]))
            table["std"].append(float(stats.std[channel]))
    return table


def block_of(module: keras.layers.Layer) -> str:
    """The block a module sits in: its name without the module's key (``stage3_block2_srm`` ->
    ``stage3_block2``, as ``srm_keras.models.blocks`` names it), else the whole name."""
    from srm_keras.layers import names, short_name

    keys = {*names(), short_name(type(module))}
    for key in sorted(keys, key=len, reverse=True):
        if module.name.endswith(f"_{key}"):
            return module.name[: -len(key) - 1]
    return module.name


# -- the probe ---------------------------------------------------------------------------------


class _GateProbe(keras.layers.Layer):
    """Reads one module's gate and reduces it to per-image, per-channel moments.

    Outputs ``(stats, check)``: ``stats`` (N, 2, C) holds each image's mean gate per channel
    over the positions and the centred sum of squares around it (0 for a per-channel gate);
    ``check`` (N, 3) holds max |x * gate - module(x)|, max |x| and the number of positions.
    Never saved: it lives only inside :func:`gate_statistics`.
    """

    def __init__(self, module: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{module.name}_gate_probe", autocast=False, **kwargs)
        # A plain list attribute keeps Keras from tracking the module as this layer's own.
        self._target = [module]
        self._reader = gate_reader(module)

    def call(self, inputs):
        module = self._target[0]
        gate = ops.cast(self._reader(module, inputs), "float32")
        x = ops.cast(inputs, "float32")
        output = ops.cast(module(inputs, training=False), "float32")
        if len(gate.shape) == 2:  # (N, C): one value per channel
            product = x * gate[:, None, None, :]
            mean, squares = gate, ops.zeros_like(gate)
            positions = ops.ones_like(gate[:, 0])
        else:  # (N, H, W, C)
            product = x * gate
            flat = ops.reshape(gate, (ops.shape(gate)[0], -1, gate.shape[-1]))
            mean = ops.mean(flat, axis=1)
            squares = ops.sum(ops.square(flat - mean[:, None, :]), axis=1)
            positions = ops.ones_like(mean[:, 0]) * ops.cast(ops.shape(flat)[1], "float32")
        error = ops.max(ops.abs(product - output), axis=(1, 2, 3))
        scale = ops.max(ops.abs(x), axis=(1, 2, 3))
        return ops.stack([mean, squares], axis=1), ops.stack([error, scale, positions], axis=1)

    def compute_output_spec(self, inputs):
        batch, channels = inputs.shape[0], inputs.shape[-1]
        return (
            keras.KerasTensor((batch, 2, channels), "float32"),
            keras.KerasTensor((batch, 3), "float32"),
        )


def _probe(model: keras.Model, modules: list[keras.layers.Layer]) -> keras.Model:
    outputs = []
    for module in modules:
        outputs.extend(_GateProbe(module)(module.input))
    return keras.Model(model.inputs, outputs, name=f"{model.name}_gate_probe")


def _inference(model: keras.Model):
    """``model(images, training=False)`` as one traced function on TensorFlow."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return functools.partial(model, training=False)


class _Moments:
    """Running count, mean and centred sum of squares per channel (Chan et al.'s merge), in
    float64, from batches of per-image means and within-image sums of squares."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.count = 0
        self.mean = np.zeros(channels)
        self.m2 = np.zeros(channels)

    def add(self, means: np.ndarray, squares: np.ndarray, positions: int) -> None:
        # means, squares: (N, C), each image's over its `positions` values
        count = means.shape[0] * positions
        mean = means.mean(axis=0)
        m2 = squares.sum(axis=0) + positions * ((means - mean) ** 2).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * count / total)
        self.count = total


def _image_batches(data, batch_size: int, steps: int | None) -> Iterator:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer or None; got {steps!r}.")
    if hasattr(data, "shape") and len(data.shape) == 4:
        batches = (data[i : i + batch_size] for i in range(0, int(data.shape[0]), batch_size))
    else:
        batches = (b[0] if isinstance(b, tuple | list) else b for b in data)
    for index, batch in enumerate(batches):
        if steps is not None and index >= steps:
            return
        yield batch


def _registered_classes() -> tuple[type, ...]:
    from srm_keras.layers import get, names

    classes = set()
    for key in names():
        constructor = get(key)
        classes.add(getattr(constructor, "func", constructor))
    return tuple(classes)
