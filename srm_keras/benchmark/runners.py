"""One synchronous step of a contender: a Keras inference or training step, or an artifact call.

Keras models run through their own compiled step functions (``predict_on_batch`` and
``train_on_batch`` after ``compile(jit_compile=...)``), which is what ``fit`` and ``predict``
run, on every Keras backend. Both return NumPy values, so a step has finished when the call
returns. Exported artifacts run through the runtime a deployment would use: TensorFlow's
SavedModel loader, ONNX Runtime, or the LiteRT interpreter.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import numpy as np

from srm_keras.benchmark.sources import Source
from srm_keras.training.precision import precision_policy

MODES = ("inference", "train")

Step = Callable[[], object]


def build_keras_model(
    source: Source, *, image_size: int, classes: int, precision: str, jit_compile: bool
) -> keras.Model:
    """Build and compile the Keras model of ``source`` for timing.

    The optimiser is SGD with momentum (the papers' recipe); the learning rate is small so that
    random data cannot drive the weights to overflow during the timed steps.
    """
    with precision_policy(precision):
        model = source.builder(input_shape=(image_size, image_size, 3), classes=classes)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            jit_compile=jit_compile,
        )
    return model


def keras_step(model: keras.Model, mode: str, batch_size: int, seed: int) -> Step:
    """One inference (``predict_on_batch``) or training (``train_on_batch``) step on a fixed
    batch of normalised random images and random labels, already on the device."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; received {mode!r}.")
    rng = np.random.default_rng(seed)
    shape = (batch_size, *model.input_shape[1:])
    images = keras.ops.convert_to_tensor(rng.standard_normal(shape, dtype=np.float32))
    if mode == "inference":
        return lambda: model.predict_on_batch(images)
    classes = int(model.output_shape[-1])
    labels = keras.ops.convert_to_tensor(rng.integers(0, classes, size=(batch_size,)), "int32")
    return lambda: model.train_on_batch(images, labels)


def _concrete_shape(shape, batch_size: int, image_size: int, where: str) -> list[int]:
    """Fill the unknown dimensions of an image input: batch first, channels (3) last."""
    dims = [None if d is None or isinstance(d, str) or d < 0 else int(d) for d in shape]
    if len(dims) != 4:
        raise ValueError(
            f"{where}: expected one 4D image input (batch, height, width, channels); "
            f"found shape {list(shape)}."
        )
    if dims[0] is not None and dims[0] != batch_size:
        raise ValueError(
            f"{where}: the input has a fixed batch size of {dims[0]}; run with "
            f"--batch-size {dims[0]} or export with a dynamic batch dimension."
        )
    filled = [batch_size, *(image_size if d is None else d for d in dims[1:3])]
    return [*filled, 3 if dims[3] is None else dims[3]]


def _random_input(shape: list[int], dtype, seed: int) -> np.ndarray:
    """0-255 pixels (exported models take raw RGB), in the input's dtype."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, 0), min(info.max, 255) + 1, size=shape).astype(dtype)
    return rng.uniform(0.0, 255.0, size=shape).astype(dtype)


def savedmodel_step(path: str, batch_size: int, image_size: int, seed: int) -> Step:
    """Call the SavedModel's ``serving_default`` signature (or its only one)."""
    try:
        import tensorflow as tf
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "tensorflow":
            raise
        raise ValueError(
            f"SavedModel {path!r}: loading a SavedModel needs TensorFlow; install it (pip "
            "install tensorflow) or time the .onnx or .tflite export instead."
        ) from error

    signatures = tf.saved_model.load(path).signatures
    if not signatures:
        raise ValueError(f"SavedModel {path!r} has no signatures; export it with a serving one.")
    function = signatures.get("serving_default") or next(iter(signatures.values()))
    inputs = function.structured_input_signature[1]
    if len(inputs) != 1:
        raise ValueError(
            f"SavedModel {path!r}: expected a signature with one image input; found "
            f"{sorted(inputs)}."
        )
    ((name, spec),) = inputs.items()
    shape = _concrete_shape(spec.shape.as_list(), batch_size, image_size, f"SavedModel {path!r}")
    feed = {name: tf.constant(_random_input(shape, spec.dtype.as_numpy_dtype, seed))}

    def step():
        # Eager outputs are complete on return on CPU; .numpy() also waits for a GPU.
        return [value.numpy() for value in function(**feed).values()]

    return step


_ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}


def onnx_step(
    path: str, batch_size: int, image_size: int, seed: int, threads: int | None = None
) -> Step:
    """One ONNX Runtime ``session.run`` on the CPU execution provider; ``threads`` sets its
    intra-op threads (default: ONNX Runtime's own choice)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type not in _ONNX_TYPES:
        raise ValueError(
            f"ONNX model {path!r}: expected one image input of a numeric type; found "
            f"{[(i.name, i.type) for i in inputs]}."
        )
    shape = _concrete_shape(inputs[0].shape, batch_size, image_size, f"ONNX model {path!r}")
    feed = {inputs[0].name: _random_input(shape, _ONNX_TYPES[inputs[0].type], seed)}
    return lambda: session.run(None, feed)


def tflite_step(
    path: str, batch_size: int, image_size: int, seed: int, threads: int | None = None
) -> Step:
    """One LiteRT ``invoke``, the input resized to the batch; ``threads`` defaults to the
    cores this process may use."""
    from ai_edge_litert.interpreter import Interpreter

    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    interpreter = Interpreter(model_path=path, num_threads=threads)
    details = interpreter.get_input_details()
    if len(details) != 1:
        raise ValueError(f"TFLite model {path!r}: expected one image input; found {len(details)}.")
    detail = details[0]
    signature = detail.get("shape_signature", detail["shape"])
    dynamic = [None if d < 0 else d for d in signature]
    if dynamic[0] is not None and dynamic[0] != batch_size:
        dynamic[0] = None  # LiteRT resizes a fixed batch dimension too
    shape = _concrete_shape(dynamic, batch_size, image_size, f"TFLite model {path!r}")
    if list(detail["shape"]) != shape:
        interpreter.resize_tensor_input(detail["index"], shape, strict=False)
    interpreter.allocate_tensors()
    value = _random_input(shape, detail["dtype"], seed)
    outputs = [output["index"] for output in interpreter.get_output_details()]

    def step():
        interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        return [interpreter.get_tensor(index) for index in outputs]

    return step


def artifact_step(
    source: Source,
    batch_size: int,
    image_size: int,
    seed: int,
    tflite_threads: int | None = None,
    onnx_threads: int | None = None,
) -> Step:
    """The inference step of an exported artifact (see :mod:`srm_keras.benchmark.sources`)."""
    if source.kind == "savedmodel":
        return savedmodel_step(source.path, batch_size, image_size, seed)
    if source.kind == "onnx":
        return onnx_step(source.path, batch_size, image_size, seed, onnx_threads)
    if source.kind == "tflite":
        return tflite_step(source.path, batch_size, image_size, seed, tflite_threads)
    raise ValueError(f"{source.label!r} is not an exported artifact (kind {source.kind!r}).")
