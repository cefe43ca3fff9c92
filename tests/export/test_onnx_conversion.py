"""srm_keras.export.onnx_model.to_onnx converts without tf2onnx's per-pass graph copies, and
still converts, the default way, when one of tf2onnx's passes raises."""

from __future__ import annotations

import copy
import os

import keras
import numpy as np
import onnxruntime
import pytest
import tf2onnx

from srm_keras.export import onnx_model
from srm_keras.export.frozen import freeze
from srm_keras.export.prepare import serving_model


@pytest.fixture(scope="module")
def frozen():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Softmax(name="predictions")(keras.layers.Dense(10, name="logits")(x))
    return freeze(serving_model(keras.Model(inputs, outputs)))


def _recording(monkeypatch, fail_first: bool) -> list:
    """Patch tf2onnx's conversion to record, per call, the variable and how many copies of the
    graph tf2onnx made (and to raise at the first call)."""
    seen, convert, deepcopy = [], tf2onnx.convert.from_graph_def, copy.deepcopy
    copies = [0]

    def counting(value, *args, **kwargs):
        copies[0] += isinstance(value, tf2onnx.graph.Graph)
        return deepcopy(value, *args, **kwargs)

    def recording(*args, **kwargs):
        variable, copies[0] = os.environ.get(onnx_model.CATCH_ERRORS), 0
        try:
            if fail_first and not seen:
                raise RuntimeError("an optimiser pass failed")
            return convert(*args, **kwargs)
        finally:
            seen.append((variable, copies[0]))

    monkeypatch.setattr(tf2onnx.convert, "from_graph_def", recording)
    monkeypatch.setattr(copy, "deepcopy", counting)  # the module tf2onnx's optimiser calls
    monkeypatch.delenv(onnx_model.CATCH_ERRORS, raising=False)
    return seen


def _answers(model) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString())
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    return session.run(None, {"images": images})


def test_one_conversion_without_the_copies_and_the_environment_left_as_it_was(monkeypatch, frozen):
    seen = _recording(monkeypatch, fail_first=False)
    model = onnx_model.to_onnx(frozen)
    assert seen == [("FALSE", 0)]  # tf2onnx copied the graph before none of its passes
    assert onnx_model.CATCH_ERRORS not in os.environ
    assert [o.name for o in model.graph.output] == ["logits", "probabilities"]


def test_a_pass_that_raises_gets_the_default_conversion(monkeypatch, frozen):
    seen = _recording(monkeypatch, fail_first=True)
    model = onnx_model.to_onnx(frozen)
    # The second call is tf2onnx's default: a copy before each pass, so that one can be undone.
    assert [variable for variable, _ in seen] == ["FALSE", None] and seen[1][1] > 10, seen
    assert onnx_model.CATCH_ERRORS not in os.environ
    monkeypatch.undo()
    # The same function as a conversion that never failed, to the bit (same passes, same order).
    for got, expected in zip(_answers(model), _answers(onnx_model.to_onnx(frozen)), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_callers_setting_is_left_to_tf2onnx(monkeypatch, frozen):
    seen = _recording(monkeypatch, fail_first=False)
    monkeypatch.setenv(onnx_model.CATCH_ERRORS, "TRUE")
    onnx_model.to_onnx(frozen)
    assert [variable for variable, _ in seen] == ["TRUE"]
    assert os.environ[onnx_model.CATCH_ERRORS] == "TRUE"
