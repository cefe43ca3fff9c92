"""SE and GE against the equations of docs/design.md §2–3, written out in NumPy."""

import keras
import numpy as np
import pytest

from srm_keras.layers import GatherExcitation, SqueezeExcitation


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _bn(v, bn):
    return (v - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon) * (
        bn.gamma.numpy()
    ) + bn.beta.numpy()


def _randomise(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        value = rng.normal(size=weight.shape) * 0.3
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value.astype("float32"))


X = np.random.default_rng(7).normal(size=(2, 6, 6, 32)).astype("float32")


def test_se_matches_reference_and_counts():
    layer = SqueezeExcitation()
    layer.build(X.shape)
    _randomise(layer)
    hidden = np.maximum(
        X.mean(axis=(1, 2)) @ layer.squeeze_kernel.numpy() + layer.squeeze_bias.numpy(), 0
    )
    gate = _sigmoid(hidden @ layer.excite_kernel.numpy() + layer.excite_bias.numpy())
    np.testing.assert_allclose(layer(X).numpy(), X * gate[:, None, None, :], rtol=1e-5, atol=1e-6)
    c, h = 32, 32 // 16
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 2 * c * h + h + c


def test_se_hidden_width_at_least_one():
    layer = SqueezeExcitation(reduction=16)
    layer.build((None, 4, 4, 8))
    assert layer.squeeze_kernel.shape == (8, 1)


def test_ge_global_is_a_full_size_depthwise_convolution():
    layer = GatherExcitation()
    layer.build(X.shape)
    _randomise(layer)
    conv = keras.layers.DepthwiseConv2D(6, padding="valid")
    conv.build(X.shape)
    conv.set_weights([layer.gather_kernel.numpy(), layer.gather_bias.numpy()])
    context = conv(X).numpy()[:, 0, 0, :]
    gate = _sigmoid(_bn(context, layer.gather_bns[0]))
    np.testing.assert_allclose(layer(X).numpy(), X * gate[:, None, None, :], rtol=1e-4, atol=1e-5)
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 32 * 36 + 3 * 32


def test_ge_minus_is_parameter_free_average_gate():
    layer = GatherExcitation(parametric=False)
    y = layer(X).numpy()
    assert not layer.weights
    np.testing.assert_allclose(y, X * _sigmoid(X.mean(axis=(1, 2)))[:, None, None, :], rtol=1e-5)


@pytest.mark.parametrize("size", [6, 13, 32])
def test_ge_extent_works_at_any_size(size):
    layer = GatherExcitation(extent=8)
    x = np.random.default_rng(size).normal(size=(2, size, size, 4)).astype("float32")
    assert layer(x, training=True).shape == x.shape
    assert len(layer.gather_convs) == 3  # log2(8)


def test_ge_extent_reference_for_extent_two():
    layer = GatherExcitation(extent=2)
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 3)).astype("float32")
    layer.build(x.shape)
    _randomise(layer)
    kernel = layer.gather_convs[0].kernel.numpy()[..., 0]  # (3, 3, C)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    context = np.stack(
        [
            np.stack(
                [
                    (padded[0, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] * kernel).sum(axis=(0, 1))
                    for j in range(2)
                ]
            )
            for i in range(2)
        ]
    )
    context = _bn(context, layer.gather_bns[0])
    gate = _sigmoid(np.repeat(np.repeat(context, 2, axis=0), 2, axis=1))
    np.testing.assert_allclose(layer(x).numpy()[0], x[0] * gate, rtol=1e-4, atol=1e-5)


def test_ge_plus_adds_excite_bottleneck():
    layer = GatherExcitation(reduction=16)
    layer.build(X.shape)
    params = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    assert params == 32 * 36 + 3 * 32 + (2 * 32 * 2 + 2 + 32)


def test_ge_global_needs_static_size():
    with pytest.raises(ValueError, match="static height and width.*ge_extent8"):
        GatherExcitation().build((None, None, None, 16))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"extent": 3}, "power of two"),
        ({"extent": 8, "reduction": 16}, "reduction"),
        ({"parametric": False, "reduction": 4}, "reduction"),
        ({"reduction": 0}, "positive"),
    ],
)
def test_ge_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatherExcitation(**kwargs)
