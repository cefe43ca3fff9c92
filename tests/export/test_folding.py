"""Batch-norm folding of the recalibration modules."""

from __future__ import annotations

import collections

import keras
import numpy as np
import pytest

from srm_keras import layers
from srm_keras.export import folding
from srm_keras.export.folding import fold_model
from srm_keras.layers import (
    FoldedGatherExcitation,
    FoldedStyleRecalibration,
    InferenceSqueezeExcitation,
)
from srm_keras.preprocessing import preprocess_input
from tests.export.conftest import SIZE, perturbed_resnet20, perturbed_resnet50


@pytest.mark.parametrize(
    "recalibration, folded_class",
    [
        ("srm", FoldedStyleRecalibration),
        ("ge", FoldedGatherExcitation),
        ("ge_plus", FoldedGatherExcitation),
        ("se", InferenceSqueezeExcitation),
    ],
)
def test_folding_keeps_the_function(tmp_path, recalibration, folded_class):
    model = perturbed_resnet20(recalibration, seed=4)
    folded, names = fold_model(model)
    assert len(names) == 9
    assert all(isinstance(folded.get_layer(name), folded_class) for name in names)
    assert not any(
        isinstance(sub, keras.layers.BatchNormalization)
        for name in names
        for sub in folded.get_layer(name)._flatten_layers()
    )
    images = preprocess_input(np.random.default_rng(0).uniform(0, 255, (8, SIZE, SIZE, 3)))
    np.testing.assert_allclose(folded(images), model(images), atol=1e-5)
    folded.save(tmp_path / "folded.keras")
    loaded = keras.models.load_model(tmp_path / "folded.keras")
    np.testing.assert_allclose(loaded(images), model(images), atol=1e-5)


@pytest.mark.parametrize("recalibration", [None, "ge_extent8"])
def test_nothing_to_fold(recalibration):
    model = perturbed_resnet20(recalibration)
    assert fold_model(model) == (model, [])


def test_unnamed_input():
    # clone_model renames an unnamed input layer; it holds no weights to copy.
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    model = keras.Model(inputs, layers.StyleRecalibration(name="srm")(x))
    folded, names = fold_model(model)
    assert names == ["srm"]
    images = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(folded(images), model(images), atol=1e-6)


def test_classes_still_importable_from_folding():
    # They were defined here before moving to srm_keras.layers.folded.
    assert folding.FoldedStyleRecalibration is layers.FoldedStyleRecalibration
    assert folding.FoldedGatherExcitation is layers.FoldedGatherExcitation


def _bottleneck_tail(
    x, recalibration, *, kernel=1, strides=1, activation=None, bn=True, bn_axis=-1
):
    """conv (1x1 by default) -> BN -> module -> + shortcut: a bottleneck's last steps."""
    y = keras.layers.Conv2D(
        32, kernel, strides=strides, activation=activation, padding="same", name="conv3"
    )(x)
    if bn:
        y = keras.layers.BatchNormalization(axis=bn_axis, name="bn3")(y)
    y = layers.get(recalibration)(name="module")(y)
    shortcut = keras.layers.Conv2D(32, 1, strides=strides, name="shortcut")(x)
    return keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))


def _randomised(model, seed=0):
    """Every weight random, so that a wrong mean would show in the output."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        low = 0.5 if variable.path.endswith(("moving_variance", "gamma")) else -1.0
        variable.assign(rng.uniform(low, 1.5, variable.shape).astype("float32"))
    return model


def _bottleneck_end(recalibration, *, seed=0, **options):
    inputs = keras.Input((6, 6, 8))
    return _randomised(
        keras.Model(inputs, _bottleneck_tail(inputs, recalibration, **options)), seed
    )


def _early_means(model) -> int:
    return sum(layer.name.endswith("_early_mean") for layer in model.layers)


@pytest.mark.parametrize("recalibration", ["se", "srm", "srm_std", "mssar"])
@pytest.mark.parametrize("bn", [True, False])
def test_means_taken_before_a_pointwise_convolution(tmp_path, recalibration, bn):
    model = _bottleneck_end(recalibration, bn=bn)
    folded, names = fold_model(model)
    late, _ = fold_model(model, early_mean=False)
    assert names == ["module"] and _early_means(folded) == 1 and _early_means(late) == 0
    images = np.random.default_rng(1).normal(size=(4, 6, 6, 8)).astype("float32")
    expected = model(images)
    # The same means from float32 sums in another order: 36 positions, a relative difference
    # of a few 1e-7 in each mean (sums of 36 terms, each rounding by 6e-8). Through the gate's
    # dense layers (sums over 32 channels of weights < 1.5) and sigmoid, onto maps of up to ~20,
    # that is of order 1e-5 at most: rtol 1e-5 and atol 1e-4 leave a margin over the measured
    # 5e-6. A mean taken from the wrong map is off by 0.01 to 5 (the test then fails).
    np.testing.assert_allclose(folded(images), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(late(images), expected, rtol=1e-5, atol=1e-4)
    folded.save(tmp_path / "folded.keras")
    loaded = keras.models.load_model(tmp_path / "folded.keras")
    assert _early_means(loaded) == 1
    np.testing.assert_allclose(loaded(images), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "options",
    [
        {"kernel": 3},  # zero padding at the borders: the mean does not commute
        {"strides": 2},  # the convolution samples positions: another mean
        {"activation": "relu"},  # not affine
        {"bn_axis": 1},  # a normalisation over rows: not one affine map per channel
    ],
)
def test_means_stay_after_a_map_they_do_not_commute_with(options):
    model = _bottleneck_end("se", **options)
    folded, _ = fold_model(model)
    assert _early_means(folded) == 0
    images = np.random.default_rng(1).normal(size=(4, 6, 6, 8)).astype("float32")
    np.testing.assert_allclose(folded(images), model(images), rtol=1e-5, atol=1e-4)


def test_means_stay_after_a_convolution_that_narrows_the_map():
    # Its input has more channels than its output: the mean would read more bytes, not fewer.
    inputs = keras.Input((6, 6, 64))
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(16, 1)(inputs))
    model = keras.Model(inputs, layers.get("se")(name="module")(x))
    folded, names = fold_model(model)
    assert names == ["module"] and _early_means(folded) == 0


def test_a_sequential_model_folds_with_its_means_where_they_are():
    # clone_model takes no call_function for Sequential models: they fold as before.
    model = keras.Sequential(
        [
            keras.Input((6, 6, 8)),
            keras.layers.Conv2D(32, 1),
            keras.layers.BatchNormalization(),
            layers.get("se")(name="module"),
        ]
    )
    folded, names = fold_model(model)
    assert names == ["module"] and _early_means(folded) == 0
    images = np.random.default_rng(1).normal(size=(4, 6, 6, 8)).astype("float32")
    np.testing.assert_allclose(folded(images), model(images), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("recalibration", ["se", "srm"])
def test_early_means_convert_cleanly_and_share_the_weights(tmp_path, recalibration):
    import onnxruntime
    from ai_edge_litert.tools import flatbuffer_utils

    from srm_keras.export.frozen import freeze
    from srm_keras.export.onnx_model import operator_counts, to_onnx
    from srm_keras.export.parity import FLOAT32_MAX_ABS_DIFF
    from srm_keras.export.prepare import serving_model
    from srm_keras.export.runners import tflite_runner
    from srm_keras.export.tflite import convert_tflite
    from srm_keras.export.tflite import operator_counts as tflite_counts
    from tests.export.graphs import check_clean

    inputs = keras.Input((8, 8, 3))
    x = _bottleneck_tail(keras.layers.Conv2D(8, 3, padding="same")(inputs), recalibration)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Softmax(name="predictions")(keras.layers.Dense(10, name="logits")(x))
    model = _randomised(keras.Model(inputs, outputs))

    def converted(early_mean):
        folded, _ = fold_model(model, early_mean=early_mean)
        assert _early_means(folded) == int(early_mean)
        serving = serving_model(folded)
        frozen = freeze(serving)
        proto = to_onnx(frozen, name="block")
        folder = tmp_path / f"early_{early_mean}"
        path, _ = convert_tflite(frozen, ["tflite_float32"], folder, basename="block")[
            "tflite_float32"
        ]
        counts = {
            "onnx": operator_counts(proto),
            "tflite_float32": tflite_counts(path.read_bytes()),
        }
        check_clean({"artifacts": [{"format": f, "operators": c} for f, c in counts.items()]})
        return serving, proto, path, counts

    serving, proto, path, counts = converted(early_mean=True)
    _, _, _, late = converted(early_mean=False)
    # The early mean adds the block's last convolution on the pooled vector and nothing else:
    # in TFLite with its BN folded in, in ONNX with the BN as a product and a sum (ONNX
    # Runtime fuses them into the convolution when it loads the file). The pooling replaces the
    # module's own.
    added = {
        fmt: {op: counts[fmt].get(op, 0) - late[fmt].get(op, 0) for op in counts[fmt]}
        for fmt in counts
    }
    assert {op: n for op, n in added["tflite_float32"].items() if n} == {"CONV_2D": 1}
    assert {op: n for op, n in added["onnx"].items() if n} == {"Conv": 1, "Mul": 1, "Add": 1}
    assert all(set(counts[fmt]) == set(late[fmt]) for fmt in counts)  # no operator type gone
    content = path.read_bytes()
    images = np.random.default_rng(2).uniform(0, 255, (4, 8, 8, 3)).astype("float32")
    expected = np.asarray(serving(images)["probabilities"])
    session = onnxruntime.InferenceSession(proto.SerializeToString())
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": images})))
    assert np.abs(got["probabilities"] - expected).max() <= FLOAT32_MAX_ABS_DIFF
    got = tflite_runner(path)(images)
    assert np.abs(got["probabilities"] - expected).max() <= FLOAT32_MAX_ABS_DIFF
    # The block's last convolution runs twice (on the map, on the means) from one buffer; the
    # shortcut's convolution has the same shape and its own.
    flat = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = flat.subgraphs[0]
    filters = [
        graph.tensors[op.inputs[1]].buffer
        for op in graph.operators
        if flatbuffer_utils.opcode_to_name(flat, op.opcodeIndex) == "CONV_2D"
        and list(graph.tensors[op.inputs[1]].shape) == [32, 1, 1, 8]
    ]
    assert sorted(collections.Counter(filters).values()) == [1, 2]


def test_every_bottleneck_of_a_resnet50_takes_its_means_early():
    model = perturbed_resnet50("se")
    folded, names = fold_model(model)
    assert len(names) == 16 and _early_means(folded) == 16
    images = preprocess_input(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)))
    np.testing.assert_allclose(folded(images), model(images), atol=1e-5)
