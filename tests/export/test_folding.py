"""Batch-norm folding of the recalibration modules."""

from __future__ import annotations

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


def _bottleneck_end(recalibration, *, kernel=1, strides=1, activation=None, bn=True, seed=0):
    """input -> conv (1x1 by default) -> BN -> module -> + shortcut: a bottleneck's last steps,
    every weight random so that a wrong mean would show in the output."""
    inputs = keras.Input((6, 6, 8))
    x = keras.layers.Conv2D(
        32, kernel, strides=strides, activation=activation, padding="same", name="conv3"
    )(inputs)
    if bn:
        x = keras.layers.BatchNormalization(name="bn3")(x)
    x = layers.get(recalibration)(name="module")(x)
    shortcut = keras.layers.Conv2D(32, 1, strides=strides, name="shortcut")(inputs)
    model = keras.Model(inputs, keras.layers.ReLU()(keras.layers.Add()([x, shortcut])))
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        low = 0.5 if variable.path.endswith(("moving_variance", "gamma")) else -1.0
        variable.assign(rng.uniform(low, 1.5, variable.shape).astype("float32"))
    return model


def _early_means(model) -> int:
    return sum(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers)


@pytest.mark.parametrize("recalibration", ["se", "srm", "srm_std", "mssar"])
@pytest.mark.parametrize("bn", [True, False])
def test_means_taken_before_a_pointwise_convolution(tmp_path, recalibration, bn):
    model = _bottleneck_end(recalibration, bn=bn)
    folded, names = fold_model(model)
    late, _ = fold_model(model, early_mean=False)
    assert names == ["module"] and _early_means(folded) == 1 and _early_means(late) == 0
    images = np.random.default_rng(1).normal(size=(4, 6, 6, 8)).astype("float32")
    expected = model(images)
    # The same means in another order of float32 sums: 36 positions, so a relative error of
    # about 36 * 6e-8 = 2e-6 in each mean; a gate moves by at most a quarter of that (sigmoid's
    # slope) times the weights (< 1.5 here), and multiplies maps of up to ~20: < 1e-4 absolute.
    # Measured: 5e-6 at most. A mean taken from the wrong map is off by 0.01 to 5.
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
    ],
)
def test_means_stay_after_a_map_they_do_not_commute_with(options):
    model = _bottleneck_end("se", **options)
    folded, _ = fold_model(model)
    assert _early_means(folded) == 0
    images = np.random.default_rng(1).normal(size=(4, 6, 6, 8)).astype("float32")
    np.testing.assert_allclose(folded(images), model(images), rtol=1e-5, atol=1e-4)


def test_every_bottleneck_of_a_resnet50_takes_its_means_early():
    model = perturbed_resnet50("se")
    folded, names = fold_model(model)
    assert len(names) == 16 and _early_means(folded) == 16 + 1  # and the classifier's pooling
    images = preprocess_input(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)))
    np.testing.assert_allclose(folded(images), model(images), atol=1e-5)
