"""SRM against the equations of docs/design.md §1, written out in NumPy."""

import keras
import numpy as np
import pytest

from srm_keras.layers import StyleRecalibration


def _reference(x, cfc, gamma, beta, mean, var, ddof=1, eps=1e-5, bn_eps=1e-5):
    """Inference-mode SRM in float64."""
    x = x.astype("float64")
    n = x.shape[1] * x.shape[2]
    mu = x.mean(axis=(1, 2))
    v = ((x - mu[:, None, None, :]) ** 2).sum(axis=(1, 2)) / max(n - ddof, 1)
    sigma = np.sqrt(v + eps)
    z = mu * cfc[:, 0] + sigma * cfc[:, 1]
    g = 1 / (1 + np.exp(-((z - mean) / np.sqrt(var + bn_eps) * gamma + beta)))
    return x * g[:, None, None, :]


def _layer_reference(layer, x, ddof=1):
    """``_reference`` with the weights of a built StyleRecalibration."""
    bn = layer.bn
    weights = (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
    return _reference(x, layer.cfc.numpy(), *(w.numpy() for w in weights), ddof=ddof)


def _randomise(layer, rng):
    for weight in layer.weights:
        value = rng.normal(size=weight.shape)
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value.astype("float32"))


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("shape", [(2, 5, 7, 6), (3, 1, 1, 4)])
def test_matches_numpy_reference(ddof, shape):
    rng = np.random.default_rng(ddof)
    x = rng.normal(size=shape).astype("float32") * 3 + 1
    layer = StyleRecalibration(ddof=ddof)
    layer.build(shape)
    _randomise(layer, rng)
    expected = _layer_reference(layer, x, ddof=ddof)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_float64_policy_computes_everything_in_float64():
    # Under float32 and mixed policies the statistics are float32; a float64 layer must not lower
    # them, or float64 reference runs would carry float32 rounding (docs/numerics.md).
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 5, 6)) * 3 + 1
    layer = StyleRecalibration(dtype="float64")
    layer.build(x.shape)
    _randomise(layer, rng)
    assert layer.cfc.dtype == "float64" and layer.bn.compute_dtype == "float64"
    expected = _layer_reference(layer, x)
    output = layer(x, training=False).numpy()
    assert output.dtype == np.float64
    # Float64 rounding over a few dozen operations: 1e-12 leaves three orders of room, and a
    # float32 step anywhere would miss it by five.
    np.testing.assert_allclose(output, expected, rtol=1e-12, atol=1e-12)


def test_gates_are_one_half_at_initialisation():
    x = np.random.default_rng(0).normal(size=(4, 5, 5, 8)).astype("float32")
    for training in (True, False):
        y = StyleRecalibration()(x, training=training).numpy()
        np.testing.assert_allclose(y, 0.5 * x, rtol=1e-6)


def test_parameters_and_initial_values():
    layer = StyleRecalibration()
    layer.build((None, 7, 7, 32))
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 4 * 32
    assert sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights) == 2 * 32
    assert not np.any(layer.cfc.numpy())
    assert layer.bn.epsilon == 1e-5 and layer.bn.momentum == 0.9
    assert StyleRecalibration.weight_decay_exempt


def test_unbiased_is_default_and_differs_from_population():
    x = np.random.default_rng(1).normal(size=(2, 3, 3, 4)).astype("float32")
    biased, unbiased = StyleRecalibration(ddof=0), StyleRecalibration()
    _, std0 = biased.style_pool(x)
    _, std1 = unbiased.style_pool(x)
    expected0 = np.sqrt(x.var(axis=(1, 2)) + 1e-5)
    expected1 = np.sqrt(x.var(axis=(1, 2), ddof=1) + 1e-5)
    np.testing.assert_allclose(std0.numpy(), expected0, rtol=1e-5)
    np.testing.assert_allclose(std1.numpy(), expected1, rtol=1e-5)


def test_pools_in_float32_under_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = StyleRecalibration()
    x = keras.ops.cast(np.full((1, 4, 4, 2), 400.0) + np.arange(16).reshape(1, 4, 4, 1), "float16")
    mean, std = layer.style_pool(x)
    assert mean.dtype == "float32" and std.dtype == "float32"
    y = layer(x, training=True)
    assert y.dtype == "float16"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))


@pytest.mark.parametrize("bad", [{"ddof": 2}, {"epsilon": 0.0}])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        StyleRecalibration(**bad)


def test_rejects_non_4d_input():
    with pytest.raises(ValueError, match="4D channels-last"):
        StyleRecalibration().build((None, 8))
