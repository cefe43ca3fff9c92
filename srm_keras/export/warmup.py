"""TF Serving warm-up requests: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays these PredictionLog records when it loads a version, so the first real
request does not pay for graph initialisation. One record goes to each signature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from srm_keras.export.signatures import (
    BYTES_INPUT,
    BYTES_SIGNATURE,
    PIXELS_INPUT,
    PIXELS_SIGNATURE,
)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
INSTALL_HINT = (
    "the tensorflow-serving-api protos are needed; install them without pulling the full "
    "tensorflow wheel: pip install --no-deps tensorflow-serving-api"
)


def _serving_apis():
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return predict_pb2, prediction_log_pb2


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of one (height, width, 3) RGB image in 0-255."""
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return tf.io.encode_png(pixels).numpy()


def predict_request(model_name: str, signature: str, inputs: dict):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for ``inputs`` (name -> array)."""
    predict_pb2, _ = _serving_apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def write_warmup(version_dir: Path, model_name: str, image: np.ndarray) -> Path:
    """Write one warm-up request per signature, built from ``image`` (height, width, 3)."""
    _, prediction_log_pb2 = _serving_apis()
    pixels = np.asarray(image, dtype=np.float32)[None]
    requests = [
        predict_request(model_name, PIXELS_SIGNATURE, {PIXELS_INPUT: pixels}),
        predict_request(
            model_name, BYTES_SIGNATURE, {BYTES_INPUT: np.array([encode_png(image)], dtype=object)}
        ),
    ]
    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup(path: str | Path) -> list:
    """Parse a warm-up file back into PredictionLog messages."""
    _, prediction_log_pb2 = _serving_apis()
    logs = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs
