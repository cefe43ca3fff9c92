"""The deployment kit in export/: TF Serving config and the REST and gRPC request builders.

No TF Serving runs here: each request a client builds is decoded the way TF Serving decodes
it and fed to the exported SavedModel's signature, which must give the model's answer. Stand-in
servers check that the clients print an answer, and a port nobody listens on that they say so
in one line.
"""

from __future__ import annotations

import base64
import http.server
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import urllib.error
from concurrent import futures
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


@pytest.fixture
def digit(tmp_path, images):
    path = tmp_path / "digit.png"
    path.write_bytes(encode_png(images[0]))
    return path


def _free_port() -> int:
    """A local port that nobody listens on (the socket that held it is closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "client,server", [("rest_client", "http://127.0.0.1:{}"), ("grpc_client", "127.0.0.1:{}")]
)
def test_client_without_a_server_says_so_in_one_line(digit, client, server):
    if client == "grpc_client":
        pytest.importorskip("grpc")
    server = server.format(_free_port())
    result = subprocess.run(
        [sys.executable, str(KIT / f"{client}.py"), str(digit), "--server", server],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"no server at {server} (") and "export/README.md" in lines[0]
    assert result.stdout == ""


class _RestServer(http.server.BaseHTTPRequestHandler):
    """TF Serving's REST predict for the model srm_resnet20 only, with a fixed answer."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/models/srm_resnet20:predict":
            self.send_error(404, "Servable not found")
            return
        batch = len(body["inputs"]["image_bytes"])
        outputs = {"classes": [[3, 1]] * batch, "scores": [[0.75, 0.25]] * batch}
        answer = json.dumps({"outputs": outputs}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):  # quiet
        pass


def test_rest_client_prints_a_servers_answer_and_raises_its_errors(digit, capsys):
    rest = _load("rest_client")
    server = http.server.HTTPServer(("127.0.0.1", 0), _RestServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert rest.main([str(digit), "--server", url]) == 0
        assert capsys.readouterr().out == f"{digit}: 3: 0.750, 1: 0.250\n"
        # A server that answers with an error is not "no server": its error goes up as before.
        with pytest.raises(urllib.error.HTTPError, match="404"):
            rest.main([str(digit), "--server", url, "--model", "absent"])
    finally:
        server.shutdown()
        server.server_close()


def test_grpc_client_prints_a_servers_answer(digit, capsys):
    grpc = pytest.importorskip("grpc")
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            batch = request.inputs["image_bytes"].tensor_shape.dim[0].size
            response = predict_pb2.PredictResponse()
            for name, value in (("classes", [[3, 1]]), ("scores", [[0.75, 0.25]])):
                response.outputs[name].CopyFrom(tf.make_tensor_proto(np.array(value * batch)))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        assert _load("grpc_client").main([str(digit), "--server", f"127.0.0.1:{port}"]) == 0
    finally:
        server.stop(None)
    assert capsys.readouterr().out == f"{digit}: 3: 0.750, 1: 0.250\n"
