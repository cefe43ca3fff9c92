"""benchmarks/blank_weights.py: exported files carried without their weights, then filled again.

The filled file must be the exported one byte for byte outside the weights, and each weight
must have the exported one's scale, or timings made with it elsewhere would not describe the
export.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "blank_weights.py"


@pytest.fixture(scope="module")
def blank_weights():
    spec = importlib.util.spec_from_file_location("blank_weights", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _onnx_file(path: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    weights = [
        rng.normal(0.3, 0.05, (16, 3, 3, 3)).astype("float32"),  # a convolution's kernel
        rng.normal(-1.0, 2.0, (16,)).astype("float32"),  # under MIN_ELEMENTS: kept as is
        np.ones((16, 16, 1, 1), "float32"),  # constant: nothing to redraw, kept as is
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
            helper.make_node("Conv", ["y", "ones"], ["z"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 16, 8, 8])],
        [numpy_helper.from_array(w, name) for w, name in zip(weights, ["w", "b", "ones"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return weights


def test_onnx_weights_round_trip(blank_weights, tmp_path):
    exported = tmp_path / "tiny.onnx"
    kernel, bias, ones = _onnx_file(exported)
    blank_weights.blank([exported], tmp_path / "blanked")
    manifest = json.loads((tmp_path / "blanked" / blank_weights.MANIFEST).read_text())
    (entry,) = manifest["tiny.onnx"]["weights"]  # the kernel only
    assert entry["count"] == kernel.size
    assert entry["mean"] == pytest.approx(float(kernel.mean()), rel=1e-6)
    assert entry["std"] == pytest.approx(float(kernel.std()), rel=1e-6)

    original = exported.read_bytes()
    blanked = gzip.decompress((tmp_path / "blanked" / "tiny.onnx.gz").read_bytes())
    start, end = entry["offset"], entry["offset"] + 4 * entry["count"]
    assert original[start:end] == kernel.tobytes()  # the recorded range is the kernel's
    assert blanked[start:end] == bytes(end - start)

    blank_weights.fill(tmp_path / "blanked", tmp_path / "filled")
    filled = (tmp_path / "filled" / "tiny.onnx").read_bytes()
    assert filled[:start] == original[:start] and filled[end:] == original[end:]
    redrawn = np.frombuffer(filled[start:end], "<f4")
    assert not np.array_equal(redrawn, kernel.ravel())
    # 432 draws: the sample mean is within 4 standard errors (0.05 / sqrt(432) = 0.0024) of
    # 0.3, and the sample deviation within 15% of 0.05 (its standard error is about 3.4%).
    assert abs(float(redrawn.mean()) - 0.3) < 4 * 0.05 / np.sqrt(kernel.size)
    assert abs(float(redrawn.std()) / 0.05 - 1) < 0.15

    loaded = {
        t.name: numpy_helper.to_array(t)
        for t in onnx.load(str(tmp_path / "filled" / "tiny.onnx")).graph.initializer
    }
    np.testing.assert_array_equal(loaded["b"], bias)
    np.testing.assert_array_equal(loaded["ones"], ones)


def test_tflite_weights_round_trip(blank_weights, tmp_path):
    import tensorflow as tf

    kernel = np.random.default_rng(1).normal(0.0, 0.1, (3, 3, 3, 16)).astype("float32")

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def convolve(images):
        return tf.nn.conv2d(images, tf.constant(kernel), strides=1, padding="SAME")

    converter = tf.lite.TFLiteConverter.from_concrete_functions([convolve.get_concrete_function()])
    exported = tmp_path / "tiny.tflite"
    exported.write_bytes(converter.convert())

    blank_weights.blank([exported], tmp_path / "blanked")
    (entry,) = json.loads((tmp_path / "blanked" / blank_weights.MANIFEST).read_text())[
        "tiny.tflite"
    ]["weights"]
    assert entry["count"] == kernel.size  # the converter may reorder the kernel, not resize it
    blank_weights.fill(tmp_path / "blanked", tmp_path / "filled")

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tmp_path / "filled" / "tiny.tflite"))
    interpreter.allocate_tensors()
    (given,) = interpreter.get_input_details()
    interpreter.set_tensor(given["index"], np.ones((1, 8, 8, 3), "float32"))
    interpreter.invoke()
    (output,) = interpreter.get_output_details()
    assert np.isfinite(interpreter.get_tensor(output["index"])).all()


def test_a_weight_not_stored_as_is_is_refused(blank_weights, tmp_path, monkeypatch):
    exported = tmp_path / "tiny.onnx"
    _onnx_file(exported)
    monkeypatch.setattr(
        blank_weights, "_onnx_weights", lambda path: [np.full(300, 7.0, "float32") + np.arange(300)]
    )
    with pytest.raises(ValueError, match="is not stored as is"):
        blank_weights.blank([exported], tmp_path / "blanked")
