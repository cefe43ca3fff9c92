"""The recalibration layers' fast forms against the straightforward formulas, values and
gradients, on random inputs, 1x1 maps, dynamic sizes and mixed precision.

The straightforward formulas are written here with the definitions of docs/design.md §1 and
§3: SRM pools over the two spatial axes with a centred second pass, GE-θ gathers with a valid
depthwise convolution whose kernel covers the map.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from srm_keras.layers import GatherExcitation, SqueezeExcitation, StyleRecalibration
from srm_keras.layers.srm import per_sample_pooling

TOLERANCE = 1e-5
SHAPES = [(3, 7, 5, 16), (2, 1, 1, 8), (4, 14, 14, 32)]


def _inputs(shape, seed=0, scale=3.0, offset=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale + offset).astype("float32")


def _randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        value = rng.normal(size=weight.shape)
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value.astype(weight.dtype))


def srm_statistics_reference(x, ddof):
    """Mean and std over the two spatial axes, the deviation's mean differentiated too."""
    x = ops.cast(x, "float32")
    spatial = ops.cast(ops.shape(x)[1] * ops.shape(x)[2], "float32")
    mean = ops.mean(x, axis=(1, 2), keepdims=True)
    variance = ops.sum(ops.square(x - mean), axis=(1, 2)) / ops.maximum(spatial - ddof, 1.0)
    return ops.squeeze(mean, axis=(1, 2)), ops.sqrt(variance + 1e-5)


def srm_reference(layer, x, training):
    mean, std = srm_statistics_reference(x, layer.ddof)
    z = mean * layer.cfc[:, 0] + std * layer.cfc[:, 1]
    gate = ops.sigmoid(layer.bn(z, training=training))
    return x * ops.cast(gate[:, None, None, :], x.dtype)


def ge_reference(layer, x, training):
    """GE-θ (global): depthwise convolution with a map-sized kernel, BN, sigmoid, product."""
    kernel = ops.cast(layer.gather_kernel, x.dtype)
    context = ops.depthwise_conv(x, kernel, strides=1, padding="valid")[:, 0, 0, :]
    context = layer.gather_bns[0](context + layer.gather_bias, training=training)
    return x * ops.cast(ops.sigmoid(context)[:, None, None, :], x.dtype)


def se_reference(layer, x):
    """SE: the mean over both spatial axes, the bottleneck, and the gate broadcast in 4D."""
    squeezed = ops.mean(x, axis=(1, 2))
    kernels = [ops.cast(w, x.dtype) for w in layer.trainable_weights]
    hidden = ops.relu(ops.matmul(squeezed, kernels[0]) + kernels[1])
    gate = ops.sigmoid(ops.matmul(hidden, kernels[2]) + kernels[3])
    return x * gate[:, None, None, :]


def ge_minus_reference(layer, x, training):
    del layer, training
    return x * ops.sigmoid(ops.mean(x, axis=(1, 2)))[:, None, None, :]


def _value_and_input_gradient(function, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
        # A non-uniform weighting, so the gradient is not a sum that cancels by symmetry.
        loss = ops.sum(ops.cast(y, "float32") * ops.cast(ops.sin(x), "float32"))
    return y.numpy(), tape.gradient(loss, x).numpy()


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE)


def _assert_same_values_and_gradients(layer, reference, x, training):
    """The layer and ``reference(layer, x, training)``, values and input gradients."""
    # BN updates its moving statistics in training mode: run both forms on one state each.
    state = [w.numpy().copy() for w in layer.weights]
    fast = _value_and_input_gradient(lambda t: layer(t, training=training), x)
    for weight, value in zip(layer.weights, state):
        weight.assign(value)
    expected = _value_and_input_gradient(lambda t: reference(layer, t, training), x)
    for actual, wanted in zip(fast, expected):
        _assert_close(actual, wanted)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ddof", [0, 1])
def test_srm_statistics_match_the_two_axis_formula(shape, ddof):
    x = _inputs(shape)
    layer = StyleRecalibration(ddof=ddof)
    for actual, expected in zip(layer.style_pool(x), srm_statistics_reference(x, ddof)):
        _assert_close(ops.convert_to_numpy(actual), ops.convert_to_numpy(expected))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [False, True])
def test_srm_values_and_gradients_match_the_reference(shape, training):
    x = _inputs(shape)
    layer = StyleRecalibration()
    layer.build(shape)
    _randomise(layer)
    _assert_same_values_and_gradients(layer, srm_reference, x, training)


def test_srm_weight_gradients_match_the_reference():
    x = tf.constant(_inputs((4, 6, 6, 8)))
    layer = StyleRecalibration()
    layer.build(x.shape)
    _randomise(layer)
    gradients = []
    for function in (lambda: layer(x, training=True), lambda: srm_reference(layer, x, True)):
        with tf.GradientTape() as tape:
            loss = ops.sum(function() * ops.cos(x))
        gradients.append([g.numpy() for g in tape.gradient(loss, layer.trainable_weights)])
    for actual, expected in zip(*gradients):
        _assert_close(actual, expected)


def test_srm_gradient_is_exact_for_large_offsets():
    """The held-constant mean must not change the gradient even when the mean dominates."""
    x = _inputs((2, 5, 5, 4), scale=0.5, offset=40.0)
    layer = StyleRecalibration()
    layer.build(x.shape)
    _randomise(layer)
    fast = _value_and_input_gradient(lambda t: layer(t, training=False), x)
    reference = _value_and_input_gradient(lambda t: srm_reference(layer, t, False), x)
    np.testing.assert_allclose(fast[1], reference[1], rtol=TOLERANCE, atol=1e-4)


def test_srm_dynamic_spatial_size():
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, StyleRecalibration(name="srm")(inputs))
    layer = model.get_layer("srm")
    _randomise(layer)
    for shape in [(2, 3, 5, 8), (1, 1, 1, 8)]:
        x = _inputs(shape)
        _assert_close(model(x, training=False).numpy(), srm_reference(layer, x, False).numpy())


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_srm_mixed_precision_matches_the_reference(policy):
    keras.mixed_precision.set_global_policy(policy)
    layer = StyleRecalibration()
    layer.build((3, 6, 6, 16))
    _randomise(layer)
    # Magnitudes whose squares overflow float16.
    x = ops.cast(_inputs((3, 6, 6, 16), scale=300.0, offset=100.0), layer.compute_dtype)
    for actual, expected in zip(layer.style_pool(x), srm_statistics_reference(x, 1)):
        assert actual.dtype == "float32"
        _assert_close(ops.convert_to_numpy(actual), ops.convert_to_numpy(expected))
    output = layer(x, training=False)
    assert output.dtype == layer.compute_dtype
    _assert_close(
        ops.convert_to_numpy(ops.cast(output, "float32")),
        ops.convert_to_numpy(ops.cast(srm_reference(layer, x, False), "float32")),
    )


def _traced_loops(compiled, x):
    """The while loops in ``compiled``'s trace for ``x`` (the per-sample pooling is one)."""
    graph = compiled.get_concrete_function(tf.TensorSpec(x.shape, x.dtype)).graph
    return [op.type for op in graph.get_operations() if "While" in op.type]


def _xla_value_and_input_gradient(function, x):
    """``function``'s value and input gradient, both computed in one XLA-compiled trace."""

    def value_and_gradient(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = function(t)
            loss = ops.sum(ops.cast(y, "float32") * ops.cast(ops.sin(t), "float32"))
        return y, tape.gradient(loss, t)

    compiled = tf.function(value_and_gradient, jit_compile=True)
    values = [ops.convert_to_numpy(ops.cast(t, "float32")) for t in compiled(x)]
    return values, _traced_loops(compiled, x)


@pytest.mark.parametrize("shape", SHAPES)
def test_srm_per_sample_pooling_under_xla_matches_the_reference(shape):
    """XLA-compiled inference pools one sample at a time; values and gradients unchanged."""
    layer = StyleRecalibration()
    layer.build(shape)
    _randomise(layer)
    x = tf.constant(_inputs(shape))
    fast, loops = _xla_value_and_input_gradient(lambda t: layer(t, training=False), x)
    assert loops, "XLA inference should trace the per-sample loop"
    expected = _value_and_input_gradient(lambda t: srm_reference(layer, t, False), x)
    for actual, wanted in zip(fast, expected):
        _assert_close(actual, wanted)


@pytest.mark.parametrize("shape", [(3, 6, 6, 16), (2, 1, 1, 8)])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_srm_per_sample_statistics_under_xla_and_mixed_precision(shape, policy):
    """The statistics the per-sample form changes, in float32, from float16/bfloat16 maps whose
    squares overflow float16. (The float16 product after them rounds differently under XLA
    than eagerly, in either form.)"""
    keras.mixed_precision.set_global_policy(policy)
    layer = StyleRecalibration()
    x = tf.constant(ops.cast(_inputs(shape, scale=300.0, offset=100.0), layer.compute_dtype))
    pool = tf.function(lambda t: layer.style_pool(t, training=False), jit_compile=True)
    assert _traced_loops(pool, x), "XLA inference should trace the per-sample loop"
    for actual, expected in zip(pool(x), srm_statistics_reference(x, 1)):
        assert actual.dtype == "float32"
        _assert_close(actual.numpy(), ops.convert_to_numpy(expected))


def _decision_in_trace(jit_compile, training):
    decision = []

    def trace():
        decision.append(per_sample_pooling(training))
        return tf.constant(0)

    tf.function(trace, jit_compile=jit_compile)()
    return decision[0]


def test_srm_pools_per_sample_only_in_xla_inference():
    decisions = {
        "eager": per_sample_pooling(False),
        "xla": _decision_in_trace(True, False),
        "graph": _decision_in_trace(False, False),
        "xla training": _decision_in_trace(True, True),
    }
    assert decisions == {"eager": False, "xla": True, "graph": False, "xla training": False}


@pytest.mark.parametrize("shape", SHAPES)
def test_se_values_and_gradients_match_the_reference(shape):
    x = _inputs(shape)
    layer = SqueezeExcitation(reduction=4)
    layer.build(shape)
    _randomise(layer)
    fast = _value_and_input_gradient(layer, x)
    reference = _value_and_input_gradient(lambda t: se_reference(layer, t), x)
    for actual, expected in zip(fast, reference):
        _assert_close(actual, expected)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_se_mixed_precision_matches_the_reference(policy):
    keras.mixed_precision.set_global_policy(policy)
    layer = SqueezeExcitation(reduction=4)
    layer.build((2, 5, 5, 16))
    _randomise(layer)
    x = ops.cast(_inputs((2, 5, 5, 16)), layer.compute_dtype)
    actual = layer(x)
    assert actual.dtype == layer.compute_dtype
    _assert_close(
        ops.convert_to_numpy(ops.cast(actual, "float32")),
        ops.convert_to_numpy(ops.cast(se_reference(layer, x), "float32")),
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [False, True])
def test_ge_values_and_gradients_match_the_depthwise_convolution(shape, training):
    x = _inputs(shape)
    layer = GatherExcitation()
    layer.build(shape)
    _randomise(layer)
    _assert_same_values_and_gradients(layer, ge_reference, x, training)


@pytest.mark.parametrize("shape", SHAPES)
def test_ge_minus_matches_the_two_axis_mean(shape):
    x = _inputs(shape)
    layer = GatherExcitation(parametric=False)
    fast = _value_and_input_gradient(lambda t: layer(t), x)
    reference = _value_and_input_gradient(lambda t: ge_minus_reference(layer, t, False), x)
    for actual, expected in zip(fast, reference):
        _assert_close(actual, expected)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("shape", [(2, 5, 5, 8), (2, 1, 1, 8)])
def test_ge_mixed_precision_matches_the_two_axis_weighted_sum(policy, shape):
    """Under mixed precision the gather runs in the compute dtype, in both forms; the
    straightforward form sums the weighted map over both spatial axes."""
    keras.mixed_precision.set_global_policy(policy)
    layer = GatherExcitation()
    layer.build(shape)
    _randomise(layer)
    x = ops.cast(_inputs(shape), layer.compute_dtype)
    kernel = ops.cast(layer.gather_kernel[..., 0], x.dtype)
    context = ops.sum(x * kernel, axis=(1, 2)) + ops.cast(layer.gather_bias, x.dtype)
    gate = ops.sigmoid(layer.gather_bns[0](context, training=False))
    expected = x * ops.cast(gate[:, None, None, :], x.dtype)
    actual = layer(x, training=False)
    assert actual.dtype == layer.compute_dtype
    _assert_close(
        ops.convert_to_numpy(ops.cast(actual, "float32")),
        ops.convert_to_numpy(ops.cast(expected, "float32")),
    )
