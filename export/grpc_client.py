#!/usr/bin/env python3
"""Classify images with a model served by TF Serving, over gRPC (port 8500).

    python grpc_client.py cat.jpg dog.png                       # files, as a string tensor
    python grpc_client.py --pixels --size 32 cat.jpg            # float pixels

Needs grpcio, tensorflow and the tensorflow-serving-api protos (``pip install --no-deps
tensorflow-serving-api`` where tensorflow-cpu is installed). Two request shapes, as PredictRequest
protos:

* ``serving_bytes``: ``image_bytes``, a string tensor of shape (batch,) holding the encoded
  JPEG/PNG files; the model decodes, resizes and normalises them.
* ``serving_default``: ``images``, a float32 tensor (batch, height, width, 3) of RGB pixels in
  0-255 at the model's input size; the model normalises them.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def bytes_request(model: str, files: list[bytes]):
    """A PredictRequest for ``serving_bytes``."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_bytes"
    request.inputs["image_bytes"].CopyFrom(
        tf.make_tensor_proto(np.array(files, dtype=object), dtype=tf.string)
    )
    return request


def pixels_request(model: str, images: np.ndarray):
    """A PredictRequest for ``serving_default``; ``images`` is (batch, height, width, 3)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    request.inputs["images"].CopyFrom(
        tf.make_tensor_proto(np.asarray(images, dtype=np.float32), dtype=tf.float32)
    )
    return request


def load_pixels(path: str, size: int) -> np.ndarray:
    """An image file as float32 RGB 0-255 pixels of ``size`` x ``size``."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB").resize((size, size), Image.BILINEAR)
        return np.asarray(image, dtype=np.float32)


def predict(server: str, request, timeout: float = 30.0) -> dict:
    """Send ``request`` to ``server`` (host:port) and return the outputs as NumPy arrays."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout)
    return {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--server", default="localhost:8500")
    parser.add_argument("--model", default="srm_resnet20", help="name in models.config")
    parser.add_argument("--pixels", action="store_true", help="send float pixels, not files")
    parser.add_argument("--size", type=int, default=32, help="model input size for --pixels")
    args = parser.parse_args(argv)

    if args.pixels:
        images = np.stack([load_pixels(path, args.size) for path in args.images])
        request = pixels_request(args.model, images)
    else:
        files = []
        for path in args.images:
            with open(path, "rb") as handle:
                files.append(handle.read())
        request = bytes_request(args.model, files)
    outputs = predict(args.server, request)
    for path, classes, scores in zip(args.images, outputs["classes"], outputs["scores"]):
        best = ", ".join(f"{c}: {s:.3f}" for c, s in zip(classes, scores))
        print(f"{path}: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
