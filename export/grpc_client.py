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

With no server at ``--server`` it prints one line to stderr and exits with status 1; it checks
that before importing TensorFlow, whose start-up messages would bury that line.
"""

from __future__ import annotations

import argparse
import queue
import sys
import time

import numpy as np

TIMEOUT_S = 30.0
START_SERVER = "start one with docker run ... tensorflow/serving (see export/README.md)"


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


def unreachable(server: str, timeout: float = TIMEOUT_S) -> str | None:
    """Why no gRPC connection to ``server`` opens within ``timeout`` seconds; None once it does.

    Refused connections and unresolvable names fail at once, without waiting for ``timeout``.
    """
    import grpc

    failed = (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)
    states = queue.Queue()
    watch = states.put  # one bound method, so that unsubscribe finds it
    with grpc.insecure_channel(server) as channel:
        channel.subscribe(watch, try_to_connect=True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                state = states.get(timeout=max(0.0, deadline - time.monotonic()))
                if state is grpc.ChannelConnectivity.READY:
                    return None
                if state in failed:
                    return "cannot connect: refused, or the name does not resolve"
        except queue.Empty:
            return f"no connection within {timeout:g} s"
        finally:
            channel.unsubscribe(watch)


def predict(server: str, request, timeout: float = TIMEOUT_S) -> dict:
    """Send ``request`` to ``server`` (host:port) and return the outputs as NumPy arrays."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout)
    return {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}


def _no_server(server: str, problem: str) -> int:
    print(f"no server at {server} ({problem}): {START_SERVER}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--server", default="localhost:8500")
    parser.add_argument("--model", default="srm_resnet20", help="name in models.config")
    parser.add_argument("--pixels", action="store_true", help="send float pixels, not files")
    parser.add_argument("--size", type=int, default=32, help="model input size for --pixels")
    args = parser.parse_args(argv)

    build_request = pixels_request if args.pixels else bytes_request
    if args.pixels:
        inputs = np.stack([load_pixels(path, args.size) for path in args.images])
    else:
        inputs = []
        for path in args.images:
            with open(path, "rb") as handle:
                inputs.append(handle.read())
    import grpc  # only here, so that the request builders work without grpcio

    problem = unreachable(args.server)
    if problem is not None:
        return _no_server(args.server, problem)
    request = build_request(args.model, inputs)  # imports TensorFlow
    try:
        outputs = predict(args.server, request)
    except grpc.RpcError as error:
        if error.code() is not grpc.StatusCode.UNAVAILABLE:  # the server answered
            raise
        return _no_server(args.server, f"unavailable: {error.details()}")
    for path, classes, scores in zip(args.images, outputs["classes"], outputs["scores"]):
        best = ", ".join(f"{c}: {s:.3f}" for c, s in zip(classes, scores))
        print(f"{path}: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
