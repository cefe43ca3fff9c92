"""The same checks for every registered recalibration module."""

import keras
import numpy as np
import pytest

from srm_keras import layers

SHAPE = (4, 6, 6, 16)


def _inputs(seed=0):
    return np.random.default_rng(seed).normal(size=SHAPE).astype("float32")


def _tiny_model(key, dtype=None):
    inputs = keras.Input(shape=SHAPE[1:])
    x = layers.get(key)(name=f"recal_{key}", dtype=dtype)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(params=layers.names())
def key(request):
    return request.param


def test_output_shape_and_dtype(key):
    outputs = layers.get(key)()(_inputs(), training=True)
    assert tuple(outputs.shape) == SHAPE
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))


def test_config_round_trip(key):
    layer = layers.get(key)(name="module")
    layer(_inputs())
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(_inputs())
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]


def test_keras_save_load_safe_mode(key, tmp_path):
    model = _tiny_model(key)
    # Move the BN statistics and weights away from their initial values.
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(_inputs(), np.array([0, 1, 2, 1]), epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(_inputs(1), verbose=0), model.predict(_inputs(1), verbose=0), atol=1e-6
    )


def test_one_fit_step_changes_weights(key):
    model = _tiny_model(key)
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    module = model.get_layer(f"recal_{key}")
    before = [keras.ops.convert_to_numpy(w).copy() for w in module.trainable_weights]
    history = model.fit(_inputs(), np.array([0, 1, 2, 1]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [keras.ops.convert_to_numpy(w) for w in module.trainable_weights]
    if before:  # the parameter-free GE-θ⁻ has nothing to train
        assert any(not np.array_equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_step(key, policy):
    keras.mixed_precision.set_global_policy(policy)
    model = _tiny_model(key)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    # Large activations: squares of values this size overflow float16.
    history = model.fit(300 * _inputs(), np.array([0, 1, 2, 1]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.get_layer(f"recal_{key}").compute_dtype == policy.split("_")[1]


def test_one_by_one_map_is_finite_with_finite_gradients(key):
    import tensorflow as tf

    layer = layers.get(key)()
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 1, 1, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * y)
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    assert np.all(np.isfinite(y.numpy()))
    for grad in grads:
        assert grad is not None and np.all(np.isfinite(tf.convert_to_tensor(grad).numpy()))
