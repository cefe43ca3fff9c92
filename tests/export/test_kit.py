"""The deployment kit in export/: TF Serving config and the REST and gRPC request builders.

No TF Serving runs here: each request a client builds is decoded the way TF Serving decodes
it and fed to the exported SavedModel's signature, which must give the model's answer.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.export.warmup import encode_png
from tests.export.conftest import SIZE

KIT = Path(__file__).resolve().parents[2] / "export"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"kit_{name}", KIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served(srm_export):
    output, _ = srm_export
    return tf.saved_model.load(str(output / "savedmodel" / "srm_resnet20" / "1"))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(3).integers(0, 256, (2, SIZE, SIZE, 3)).astype("float32")


def _decode_rest(value):
    """TF Serving's JSON decoding: {"b64": ...} objects become bytes."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode_rest(item) for item in value]
    return value


def test_models_config_parses():
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(
        (KIT / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    (entry,) = config.model_config_list.config
    assert entry.base_path == f"/models/{entry.name}" and entry.model_platform == "tensorflow"


def test_rest_requests_reach_the_signatures(served, images):
    rest = _load("rest_client")
    expected = served.signatures["serving_default"](images=tf.constant(images))["probabilities"]
    for body in (rest.pixels_request(images), rest.bytes_request([encode_png(i) for i in images])):
        body = json.loads(json.dumps(body))  # exactly what goes over the wire
        signature = served.signatures[body["signature_name"]]
        inputs = {name: tf.constant(_decode_rest(value)) for name, value in body["inputs"].items()}
        if "images" in inputs:
            inputs["images"] = tf.cast(inputs["images"], tf.float32)
        np.testing.assert_allclose(signature(**inputs)["probabilities"], expected, atol=1e-5)


def test_rest_client_prints_the_request(tmp_path, capsys, images):
    path = tmp_path / "digit.png"
    path.write_bytes(encode_png(images[0]))
    assert _load("rest_client").main([str(path), "--print-request"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["signature_name"] == "serving_bytes"
    assert base64.b64decode(body["inputs"]["image_bytes"][0]["b64"]) == path.read_bytes()


def test_grpc_requests_reach_the_signatures(served, images):
    grpc_client = _load("grpc_client")
    expected = served.signatures["serving_default"](images=tf.constant(images))["probabilities"]
    requests = [
        grpc_client.pixels_request("srm_resnet20", images),
        grpc_client.bytes_request("srm_resnet20", [encode_png(i) for i in images]),
    ]
    for request in requests:
        request = type(request).FromString(request.SerializeToString())
        assert request.model_spec.name == "srm_resnet20"
        signature = served.signatures[request.model_spec.signature_name]
        inputs = {name: tf.constant(tf.make_ndarray(t)) for name, t in request.inputs.items()}
        np.testing.assert_allclose(signature(**inputs)["probabilities"], expected, atol=1e-5)


def test_readme_serves_the_export_folder():
    readme = (KIT / "README.md").read_text()
    for needle in ("tensorflow/serving", "--model_config_file", "serving_bytes", "8501", "8500"):
        assert needle in readme
