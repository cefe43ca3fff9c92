"""The serving model: raw pixels in, logits and probabilities out, always float32."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from srm_keras.export import find_model_file, load_model, serving_model
from srm_keras.export.prepare import as_float32
from srm_keras.preprocessing import preprocess_input
from tests.export.conftest import SIZE, perturbed_resnet20


def _pixels(count=4, size=SIZE, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


def test_serving_model_normalises_inside_and_names_outputs(srm_model):
    serving = serving_model(srm_model)
    assert serving.inputs[0].name == "images"
    images = _pixels()
    outputs = serving(images)
    assert set(outputs) == {"logits", "probabilities"}
    expected = srm_model(preprocess_input(images))
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    logits = keras.Model(srm_model.inputs, srm_model.get_layer("logits").output)
    np.testing.assert_allclose(outputs["logits"], logits(preprocess_input(images)), atol=1e-5)


def test_logits_only_model_gets_a_softmax():
    from srm_keras.models import resnet

    model = resnet(20, "se", input_shape=(SIZE, SIZE, 3), classes=3, classifier_activation=None)
    outputs = serving_model(model)(_pixels())
    np.testing.assert_allclose(
        outputs["probabilities"], keras.ops.softmax(outputs["logits"]), atol=1e-6
    )


def test_mixed_precision_model_is_rebuilt_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    mixed = perturbed_resnet20("srm", seed=3)
    keras.mixed_precision.set_global_policy("float32")
    reference = perturbed_resnet20("srm", seed=3)
    reference.set_weights(mixed.get_weights())

    rebuilt = as_float32(mixed)
    assert rebuilt is not mixed
    assert {layer.compute_dtype for layer in rebuilt._flatten_layers()} == {"float32"}
    images = _pixels()
    got = serving_model(mixed)(images)["probabilities"]
    np.testing.assert_allclose(got, serving_model(reference)(images)["probabilities"], atol=1e-6)


def test_float32_model_is_used_as_is(srm_model):
    assert as_float32(srm_model) is srm_model


def test_image_size_is_required_without_a_fixed_input():
    from srm_keras.models import resnet

    model = resnet(20, "srm", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="image_size"):
        serving_model(model)
    assert serving_model(model, image_size=12).input_shape == (None, 12, 12, 3)
    with pytest.raises(ValueError, match="built for 8x8"):
        serving_model(perturbed_resnet20(None), image_size=16)


def test_model_without_logits_layer_is_refused():
    inputs = keras.Input((SIZE, SIZE, 3))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="'logits'"):
        serving_model(keras.Model(inputs, outputs))


def test_find_model_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        find_model_file(tmp_path / "missing")
    with pytest.raises(ValueError, match="no .keras file"):
        find_model_file(tmp_path)
    (tmp_path / "a.keras").write_bytes(b"")
    (tmp_path / "b.keras").write_bytes(b"")
    with pytest.raises(ValueError, match="several"):
        find_model_file(tmp_path)
    (tmp_path / "best.keras").write_bytes(b"")
    assert find_model_file(tmp_path).name == "best.keras"
    (tmp_path / "model.keras").write_bytes(b"")
    assert find_model_file(tmp_path).name == "model.keras"
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="not a .keras file"):
        find_model_file(tmp_path / "weights.h5")


def test_load_model_round_trip(tmp_path, srm_model):
    srm_model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path)
    images = _pixels()
    np.testing.assert_allclose(
        serving_model(loaded)(images)["probabilities"],
        serving_model(srm_model)(images)["probabilities"],
        atol=1e-6,
    )
