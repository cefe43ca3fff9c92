"""Run an exported artifact on a batch of images, the way a deployment would.

Each runner takes float32 RGB 0-255 images (N, height, width, 3) and returns a dict with
``logits`` and ``probabilities`` as NumPy arrays. None of them needs srm_keras' layers: the
SavedModel runs through ``tf.saved_model.load``, TFLite through the LiteRT interpreter and ONNX
through onnxruntime.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Predict = Callable[[np.ndarray], dict[str, np.ndarray]]
OUTPUTS = ("logits", "probabilities")


def savedmodel_runner(path: str | Path) -> Predict:
    import tensorflow as tf

    from srm_keras.export.signatures import PIXELS_INPUT, PIXELS_SIGNATURE

    signature = tf.saved_model.load(str(path)).signatures[PIXELS_SIGNATURE]

    def predict(images):
        outputs = signature(**{PIXELS_INPUT: tf.constant(images, tf.float32)})
        return {name: outputs[name].numpy() for name in OUTPUTS}

    return predict


def tflite_runner(path: str | Path) -> Predict:
    """A LiteRT runner; its ``runtime`` attribute says which kernels run the model.

    The default XNNPACK delegate refuses some int8 graphs when it prepares them (seen with a
    fully quantised SE-ResNet-20); such a model is run with LiteRT's builtin kernels instead,
    which is what an application would fall back to as well, and ``runtime`` says so.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from srm_keras.export.signatures import PIXELS_INPUT, PIXELS_SIGNATURE

    def open_runner(resolver):
        interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
        runner = interpreter.get_signature_runner(PIXELS_SIGNATURE)
        shape = interpreter.get_input_details()[0]["shape"]
        runner(**{PIXELS_INPUT: np.zeros((1, *shape[1:]), np.float32)})
        return runner

    try:
        runner, runtime = open_runner(OpResolverType.AUTO), "xnnpack"
    except RuntimeError as error:
        if "XNNPACK" not in str(error):
            raise
        runner, runtime = open_runner(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES), "builtin"

    def predict(images):
        outputs = runner(**{PIXELS_INPUT: np.ascontiguousarray(images, np.float32)})
        return {name: np.array(outputs[name]) for name in OUTPUTS}

    predict.runtime = runtime
    return predict


def onnx_runner(path: str | Path) -> Predict:
    import onnxruntime

    from srm_keras.export.signatures import PIXELS_INPUT

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def predict(images):
        values = session.run(list(OUTPUTS), {PIXELS_INPUT: np.asarray(images, np.float32)})
        return dict(zip(OUTPUTS, values))

    return predict


def runner(format_name: str, path: str | Path) -> Predict:
    """The runner for an artifact of ``format_name`` (a format of the export report)."""
    if format_name == "savedmodel":
        return savedmodel_runner(path)
    if format_name.startswith("tflite_"):
        return tflite_runner(path)
    if format_name == "onnx":
        return onnx_runner(path)
    raise ValueError(f"No runner for format {format_name!r}.")


def run_batched(predict: Predict, images: np.ndarray, batch_size: int = 32) -> dict:
    """``predict`` over ``images`` in batches, concatenated."""
    parts = [predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return {name: np.concatenate([part[name] for part in parts]) for name in OUTPUTS}


def latency_ms(predict: Predict, image: np.ndarray, repeats: int = 20, warmup: int = 2) -> float:
    """Median wall time in milliseconds of ``predict`` on one image (batch of 1)."""
    batch = np.asarray(image, np.float32)[None]
    for _ in range(warmup):
        predict(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(batch)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)
