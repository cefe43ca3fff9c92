"""benchmarks/blank_weights.py: exported files carried without their weights, then filled again.

The filled file must be the exported one byte for byte outside the weights, and each weight
must have the exported one's scale, or timings made with it elsewhere would not describe the
export.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


@pytest.fixture(scope="module")
def blank_weights(load_script):
    return load_script("blank_weights")


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


def _round_trip(blank_weights, exported: Path, root: Path) -> tuple[list[dict], bytes]:
    """Blank and fill ``exported``; check that every byte outside the recorded weights is the
    exported file's and that each weight is redrawn at its recorded scale."""
    blank_weights.blank([exported], root / "blanked")
    manifest = json.loads((root / "blanked" / blank_weights.MANIFEST).read_text())
    entries = manifest[exported.name]["weights"]
    blank_weights.fill(root / "blanked", root / "filled")
    original = exported.read_bytes()
    blanked = gzip.decompress((root / "blanked" / f"{exported.name}.gz").read_bytes())
    filled = (root / "filled" / exported.name).read_bytes()
    assert len(filled) == len(original)
    outside = np.ones(len(original), bool)
    for entry in entries:
        start, end = entry["offset"], entry["offset"] + 4 * entry["count"]
        outside[start:end] = False
        assert blanked[start:end] == bytes(end - start)
        redrawn = np.frombuffer(filled[start:end], "<f4")
        # The sample mean lies within 4 standard errors (std / sqrt(count)) of the recorded
        # mean; for the 432 draws here the sample deviation's standard error is about 3.4%,
        # so 15% is over 4 of them.
        assert abs(redrawn.mean() - entry["mean"]) < 4 * entry["std"] / np.sqrt(entry["count"])
        assert abs(redrawn.std() / entry["std"] - 1) < 0.15
    kept_filled = np.frombuffer(filled, np.uint8)[outside]
    assert np.array_equal(kept_filled, np.frombuffer(original, np.uint8)[outside])
    return entries, original


def test_onnx_weights_round_trip(blank_weights, tmp_path):
    exported = tmp_path / "tiny.onnx"
    kernel, bias, ones = _onnx_file(exported)
    # The kernel alone: the bias is under MIN_ELEMENTS, the ones are constant.
    (entry,), original = _round_trip(blank_weights, exported, tmp_path)
    assert entry["count"] == kernel.size
    assert entry["mean"] == pytest.approx(float(kernel.mean()), rel=1e-6)
    assert entry["std"] == pytest.approx(float(kernel.std()), rel=1e-6)
    start = entry["offset"]
    assert original[start : start + 4 * kernel.size] == kernel.tobytes()  # the kernel's bytes

    model = onnx.load(str(tmp_path / "filled" / "tiny.onnx"))
    loaded = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
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
    (entry,), _ = _round_trip(blank_weights, exported, tmp_path)
    assert entry["count"] == kernel.size  # the converter may reorder the kernel, not resize it
    assert entry["std"] == pytest.approx(float(kernel.std()), rel=1e-6)

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
