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
from tests.export.conftest import SIZE, perturbed_resnet20


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
