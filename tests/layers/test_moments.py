"""SRM's moments: the one-pass TensorFlow form against the centred form, and where each runs."""

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.layers import StyleRecalibration, moments

TOLERANCE = 1e-5


def _inputs(shape, scale=3.0, offset=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant((rng.normal(size=shape) * scale + offset).astype("float32"))


def _op_types(function, x) -> set[str]:
    graph = tf.function(function).get_concrete_function(x).graph
    types = {op.type for op in graph.get_operations()}
    for function_def in graph.as_graph_def().library.function:  # the tf.cond branches
        types |= {node.op for node in function_def.node_def}
    return types


def _value_and_gradient(function, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        mean, variance = function(x)
        loss = tf.reduce_sum(mean * tf.cos(mean)) + tf.reduce_sum(tf.sqrt(variance + 1e-5))
    return mean.numpy(), variance.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize(
    "shape, scale, offset",
    [
        ((3, 35, 16), 3.0, 1.0),  # well conditioned: the one-pass branch
        ((2, 25, 8), 0.5, 40.0),  # the mean dominates: the centred fall-back
        ((2, 1, 8), 3.0, 1.0),  # 1x1 maps: a zero variance, never negative
    ],
)
def test_one_pass_matches_the_centred_form(ddof, shape, scale, offset):
    x = _inputs(shape, scale, offset)
    fast = _value_and_gradient(lambda t: moments.moments(t, ddof), x)
    reference = _value_and_gradient(lambda t: moments.centred_moments(t, ddof), x)
    for actual, expected in zip(fast, reference):
        np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE)
    assert (fast[1] >= 0).all()


def test_ill_conditioned_batches_fall_back_to_the_centred_form():
    # The mean dominates the spread: the one-pass formula alone would be off by far more
    # than float32 rounding, so an exact answer shows the fall-back ran.
    x = _inputs((2, 30, 4), scale=0.01, offset=5.0)
    one_pass = (tf.reduce_sum(x**2, axis=1) - 30.0 * tf.reduce_mean(x, axis=1) ** 2) / 29.0
    _, exact = moments.centred_moments(x, 1)
    assert np.abs(one_pass - exact).max() > 1e-3 * np.abs(exact).max()
    _, chosen = moments.moments(x, 1)
    np.testing.assert_allclose(chosen, exact, rtol=1e-5)


def test_zero_maps_have_a_finite_gradient():
    x = tf.zeros((2, 9, 4))
    mean, variance, gradient = _value_and_gradient(lambda t: moments.moments(t, 1), x)
    assert (variance == 0).all() and np.isfinite(gradient).all()


def test_graph_uses_one_pass_outside_xla_and_export():
    x = _inputs((2, 16, 4))
    assert "EuclideanNorm" in _op_types(lambda t: moments.moments(t, 1), x)
    with moments.portable():
        assert "EuclideanNorm" not in _op_types(lambda t: moments.moments(t, 1), x)
    assert moments.one_pass_available()  # restored on exit


def test_xla_compiles_the_centred_form():
    x = _inputs((2, 6, 6, 8))
    layer = StyleRecalibration()
    layer.build(x.shape)
    compiled = tf.function(lambda t: layer(t, training=False), jit_compile=True)
    np.testing.assert_allclose(compiled(x), layer(x, training=False), rtol=1e-5, atol=1e-6)
    seen = []

    def probe():
        seen.append(moments.one_pass_available())
        return tf.constant(0.0)

    tf.function(probe, jit_compile=True)()
    tf.function(probe)()
    assert seen == [False, True]
