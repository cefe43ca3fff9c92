"""The LiteRT operator profiler: its one-operator models are the graph's operators, exactly."""

import sys

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.benchmark.litert_profile import (
    one_operator_models,
    operator_interpreter,
    profile,
    traced_tensors,
)
from srm_keras.export.tflite import operator_counts


def _gated_block() -> bytes:
    """A residual block with a squeeze-and-excitation gate, as float32 TFLite."""
    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(0, 0.1, (3, 3, 3, 8)), tf.float32)
    squeeze = tf.constant(rng.normal(0, 0.3, (8, 2)), tf.float32)
    excite = tf.constant(rng.normal(0, 0.3, (2, 8)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 12, 12, 3], tf.float32)])
    def block(images):
        x = images / 255.0
        y = tf.nn.conv2d(x, kernel, 1, "SAME")
        gate = tf.sigmoid(tf.nn.relu(tf.reduce_mean(y, axis=[1, 2]) @ squeeze) @ excite)
        return tf.nn.relu(y * gate[:, None, None, :] + tf.reduce_mean(x, axis=-1, keepdims=True))

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [block.get_concrete_function()], block
    )
    return converter.convert()


@pytest.fixture(scope="module")
def block():
    return _gated_block()


def test_each_operator_alone_computes_what_it_computes_in_the_graph(block):
    _, tensors = traced_tensors(block, batch_size=3, seed=1)
    cut = list(one_operator_models(block))
    counted: dict[str, int] = {}
    for _, kind, _ in cut:
        counted[kind] = counted.get(kind, 0) + 1
    assert counted == operator_counts(block)  # every operator once, none added
    for position, kind, single in cut:
        assert operator_counts(single) == {kind: 1}
        interpreter = operator_interpreter(single, tensors, threads=1)
        interpreter.invoke()
        for detail in interpreter.get_output_details():
            # Batch 3, as traced (the file says batch 1): the inputs were resized.
            assert detail["shape"][0] == 3 or len(detail["shape"]) < 2
            # The traced run keeps every tensor, and LiteRT may then run other kernels than
            # the one-operator model's (XNNPack's); both are float32 on the same inputs, so
            # they can differ only by summation order: relative ~1e-7 for the sums of 27 and
            # 8 terms here, on values below 10. An operator wired to the wrong tensors is off
            # by O(1).
            np.testing.assert_allclose(
                interpreter.get_tensor(detail["index"]),
                tensors[detail["index"]],
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"operator {position} ({kind})",
            )


def test_profile_reports_every_operator_and_the_whole_model(tmp_path, block):
    path = tmp_path / "block.tflite"
    path.write_bytes(block)
    result = profile([path], batch_size=2, runs=3, threads=1, progress=lambda _: None)
    model = result["models"]["block"]
    counts = {kind: entry["count"] for kind, entry in model["by_type"].items()}
    assert counts == operator_counts(block)
    assert [row["index"] for row in model["operators"]] == list(range(sum(counts.values())))
    assert model["whole_ms"] > 0 and result["empty_invoke_ms"] > 0
    assert model["operators_sum_ms"] == pytest.approx(
        sum(row["ms"] for row in model["operators"]),
        abs=1e-3,  # rounded to 4 decimals each
    )


def test_models_are_named_by_their_files_so_a_name_may_not_repeat(tmp_path, block):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "block.tflite").write_bytes(block)
    with pytest.raises(ValueError, match="repeat"):
        profile(
            [tmp_path / "a" / "block.tflite", tmp_path / "b" / "block.tflite"],
            batch_size=1,
            runs=1,
            progress=lambda _: None,
        )


def test_the_empty_invoke_is_one_add_built_without_tensorflow(monkeypatch):
    from srm_keras.benchmark.litert_profile import _empty_invoke

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing it would now fail
    interpreter = _empty_invoke(threads=1)
    interpreter.invoke()
    (output,) = interpreter.get_output_details()
    np.testing.assert_array_equal(interpreter.get_tensor(output["index"]), [2.0])  # 1 + 1
