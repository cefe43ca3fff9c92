"""MS-SAR against the equations of docs/mssar.md, written out in NumPy."""

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from srm_keras.layers import (
    MultiScaleSpatialRecalibration,
    SqueezeExcitation,
    mssar_macs,
    mssar_parameters,
    upsample_nearest,
)

U = 2.0**-24  # unit roundoff of float32


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _randomise(layer, seed=0, scale=0.5):
    """Non-zero values for every weight (positive variances), so that every path matters."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        value = rng.normal(size=weight.shape) * scale
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value.astype(weight.dtype))


def _cells(size, scale):
    """The rows (or columns) each "same" pooling cell covers: ceil(size / scale) cells, the
    missing ones split between the start (the smaller half) and the end."""
    count = math.ceil(size / scale)
    start = (count * scale - size) // 2
    return [
        range(max(i * scale - start, 0), min((i + 1) * scale - start, size)) for i in range(count)
    ]


def _conv_same(z, kernel, depthwise):
    """A stride-1 "same" convolution of z (N, P, Q, h) with an odd k x k kernel."""
    k = kernel.shape[0]
    pad = k // 2
    padded = np.pad(z, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros(z.shape[:3] + (kernel.shape[2] if depthwise else kernel.shape[3],))
    for a in range(k):
        for b in range(k):
            window = padded[:, a : a + z.shape[1], b : b + z.shape[2], :]
            out += window * kernel[a, b, :, 0] if depthwise else window @ kernel[a, b]
    return out


def _reference(layer, x):
    """The layer's output in float64 NumPy, batch normalisation in inference mode."""
    x = x.astype("float64")
    n, height, width, channels = x.shape
    w = {weight.path.split("/", 1)[1]: weight.numpy().astype("float64") for weight in layer.weights}
    gates = []
    for scale in layer.scales:
        name = "global" if scale == "global" else f"scale{scale}"
        if scale == "global":
            rows, cols = [range(height)], [range(width)]
        else:
            rows, cols = _cells(height, scale), _cells(width, scale)
        pool = np.max if layer.pooling == "max" else np.mean
        pooled = np.stack(
            [
                np.stack([pool(x[:, list(r)][:, :, list(c)], axis=(1, 2)) for c in cols], axis=1)
                for r in rows
            ],
            axis=1,
        )  # (N, P, Q, C)
        z = pooled @ w["squeeze_kernel"]
        if layer.batch_norm:
            z = (z - w[f"{name}_bn/moving_mean"]) / np.sqrt(
                w[f"{name}_bn/moving_variance"] + layer.bn_epsilon
            ) * w[f"{name}_bn/gamma"] + w[f"{name}_bn/beta"]
        else:
            z = z + w["squeeze_bias"]
        z = np.maximum(z, 0)
        if scale != "global":
            z = _conv_same(z, w[f"{name}_kernel"], layer.depthwise)
        logits = z @ w["excite_kernel"]
        # Back onto the map: each position takes the value of the cell that pooled it.
        row_cell = [i for i, r in enumerate(rows) for _ in r]
        col_cell = [j for j, c in enumerate(cols) for _ in c]
        gates.append(logits[:, row_cell][:, :, col_cell])
    if layer.fusion == "sum":
        gate = _sigmoid(sum(gates) + w["excite_bias"])
    else:
        gate = np.mean([_sigmoid(g + w["excite_bias"]) for g in gates], axis=0)
    return x * gate


def _x(shape, seed=7):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


CONFIGS = [
    {},
    {"depthwise": False, "fusion": "average"},
    {"scales": (1, 3), "kernel_size": 5, "batch_norm": False},
    {"scales": (2, "global"), "pooling": "max", "kernel_size": 1},
]


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: ",".join(map(str, c.values())) or "default"
)
@pytest.mark.parametrize("size", [(6, 6), (7, 5), (9, 13), (1, 1), (3, 2)])
def test_matches_reference_at_any_size(config, size):
    x = _x((2, *size, 32))
    layer = MultiScaleSpatialRecalibration(reduction=4, **config)
    layer.build(x.shape)
    _randomise(layer)
    # Float32 against float64: sums of at most a few hundred terms of size ~1, through
    # sigmoids (slope <= 1/4); 1e-5 is far above that rounding and far below any misplaced
    # cell or weight (which moves outputs by ~1e-1).
    np.testing.assert_allclose(layer(x).numpy(), _reference(layer, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", CONFIGS[:2])
@pytest.mark.parametrize("training", [False, True])
def test_gates_are_one_half_at_initialisation(config, training):
    x = _x((3, 9, 7, 32))
    y = MultiScaleSpatialRecalibration(**config)(x, training=training).numpy()
    # Zero expansion kernel and bias: sigmoid(0) = 0.5 exactly, and x * 0.5 is exact.
    np.testing.assert_array_equal(y, 0.5 * x)


@pytest.mark.parametrize("config", CONFIGS)
def test_gate_varies_over_space(config):
    x = _x((2, 8, 8, 32))
    layer = MultiScaleSpatialRecalibration(reduction=4, **config)
    layer.build(x.shape)
    _randomise(layer)
    gate = layer(x).numpy() / x  # (N, H, W, C)
    spread = gate.std(axis=(1, 2))  # over the positions, per sample and channel
    assert np.all(np.isfinite(gate))
    assert np.median(spread) > 0.01, "a gate constant over space recalibrates channels only"


def _se_rounding_bound(x, layer):
    """A first-order bound on how far a float32 SE computation is from the exact value.

    Each float32 sum of n terms is within gamma_n = n*u/(1 - n*u) times the sum of the terms'
    magnitudes of its exact value (u = 2^-24); errors propagate through the next product by the
    magnitudes of its weights, the ReLU does not grow them, the sigmoid's slope is at most 1/4,
    and the final product and sigmoid add one rounding each.
    """
    n, height, width, channels = x.shape
    hidden = layer.squeeze_kernel.shape[1]

    def gamma(k):
        return k * U / (1 - k * U)

    ax = np.abs(x.astype("float64"))
    wr, br = np.abs(layer.squeeze_kernel.numpy()), np.abs(layer.squeeze_bias.numpy())
    we, be = np.abs(layer.excite_kernel.numpy()), np.abs(layer.excite_bias.numpy())
    pooled = ax.mean(axis=(1, 2))
    err_pooled = gamma(height * width + 1) * pooled
    magnitude_h = pooled @ wr + br
    err_h = gamma(channels + 1) * magnitude_h + err_pooled @ wr
    err_logits = gamma(hidden + 1) * (magnitude_h @ we + be) + err_h @ we
    err_gate = err_logits / 4 + U
    return ax * (err_gate[:, None, None, :] + U)


def test_one_global_scale_without_batch_norm_is_squeeze_excitation():
    x = _x((4, 7, 5, 64), seed=3)
    mssar = MultiScaleSpatialRecalibration(scales=("global",), batch_norm=False)
    se = SqueezeExcitation()
    mssar.build(x.shape)
    se.build(x.shape)
    _randomise(se, seed=5)
    for name in ("squeeze_kernel", "squeeze_bias", "excite_kernel", "excite_bias"):
        getattr(mssar, name).assign(getattr(se, name))
    assert (
        mssar.count_params()
        == se.count_params()
        == mssar_parameters(64, scales=("global",), batch_norm=False)
    )
    assert mssar.macs(x.shape) == se.macs(x.shape)
    # Both compute the same float32 operations; each result is within the bound of the exact
    # value, so they are within twice the bound of each other (derivation in the helper).
    difference = np.abs(mssar(x).numpy().astype("float64") - se(x).numpy())
    assert np.all(difference <= 2 * _se_rounding_bound(x, se))


HAND_PARAMETERS = [
    # C = 64, r = 16: h = 4. Reduction 64*4, expansion 4*64 and bias 64 = 576, plus:
    ({}, 576 + 3 * 8 + 2 * 36),  # 3 BNs of 2h, 2 depthwise 3x3 kernels of 9h
    ({"depthwise": False}, 576 + 3 * 8 + 2 * 144),  # full 3x3 kernels of 9h^2
    ({"scales": ("global",), "batch_norm": False}, 576 + 4),  # SE: 2*C*h + h + C
    ({"scales": (1, 2, 4, 8), "kernel_size": 5}, 576 + 4 * 8 + 4 * 100),
]


@pytest.mark.parametrize("config,expected", HAND_PARAMETERS)
def test_parameter_formula(config, expected):
    layer = MultiScaleSpatialRecalibration(**config)
    layer.build((None, None, None, 64))
    trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
    assert mssar_parameters(64, **config) == trainable == expected
    non_trainable = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    assert non_trainable == (2 * 4 * len(layer.scales) if layer.batch_norm else 0)


def test_mac_formula_by_hand():
    # 8x8x64 (4096 elements), h = 4, default scales (2, 4, global), 3x3 depthwise kernels.
    # Per cell: reduction 64*4 + expansion 4*64 + kernel 9*4 = 548.
    scale2 = 4096 + 16 * 548  # pooling, 4x4 cells
    scale4 = 4096 + 4 * 548  # pooling, 2x2 cells
    global_ = 4096 + 512  # pooling, one cell without a kernel
    fuse_and_multiply = 2 * 4096 + 4096
    assert mssar_macs((1, 8, 8, 64)) == scale2 + scale4 + global_ + fuse_and_multiply == 36048
    # 7x5: ceil(7/2)*ceil(5/2) = 12 cells at scale 2, 2*2 at scale 4; scale 1 pools nothing.
    elements = 7 * 5 * 64
    assert mssar_macs((1, 7, 5, 64)) == 3 * elements + 16 * 548 + 512 + 3 * elements
    assert mssar_macs((1, 7, 5, 64), scales=(1,)) == 35 * 548 + elements
    layer = MultiScaleSpatialRecalibration()
    assert layer.macs((None, 8, 8, 64)) == 36048


def test_mac_overhead_is_a_small_fraction_of_a_block():
    # A basic block's two 3x3 convolutions at 8x8x64 cost 2 * 64*64*9*64 MACs.
    block = 2 * 8 * 8 * 9 * 64 * 64
    assert mssar_macs((1, 8, 8, 64)) / block < 0.01
    assert mssar_parameters(64) / (2 * 9 * 64 * 64) < 0.01


def test_upsample_puts_each_cell_back_where_it_pooled():
    for height, width, scale in [(7, 5, 2), (5, 5, 4), (1, 1, 3), (8, 6, 2), (9, 13, 4)]:
        rows, cols = _cells(height, scale), _cells(width, scale)
        cells = np.arange(len(rows) * len(cols), dtype="float32").reshape(
            1, len(rows), len(cols), 1
        )
        expected = np.zeros((1, height, width, 1), "float32")
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                expected[0, r.start : r.stop, c.start : c.stop, 0] = cells[0, i, j, 0]
        pooled = keras.ops.average_pool(
            np.ones((1, height, width, 1), "float32"), scale, scale, padding="same"
        )
        assert pooled.shape[1:3] == cells.shape[1:3]
        upsampled = upsample_nearest(cells, scale, height, width)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(upsampled), expected)


def test_dynamic_sizes_agree_with_static_ones():
    layer = MultiScaleSpatialRecalibration(reduction=4)
    layer.build((None, None, None, 16))
    _randomise(layer)
    dynamic = tf.function(
        lambda t: layer(t), input_signature=[tf.TensorSpec((None, None, None, 16))]
    )
    for size in [(1, 1), (3, 2), (7, 5), (8, 8), (17, 11)]:
        x = _x((2, *size, 16))
        np.testing.assert_allclose(dynamic(x).numpy(), layer(x).numpy(), rtol=1e-6, atol=1e-6)
    inputs = keras.Input((None, None, 16))
    model = keras.Model(inputs, MultiScaleSpatialRecalibration()(inputs))
    assert model(_x((1, 5, 9, 16))).shape == (1, 5, 9, 16)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 5)])
@pytest.mark.parametrize("config", CONFIGS)
def test_gradients_are_finite(size, config):
    layer = MultiScaleSpatialRecalibration(reduction=4, **config)
    layer.build((None, *size, 16))
    _randomise(layer)
    x = tf.constant(_x((3, *size, 16)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.square(layer(x, training=True)))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    for grad in grads:
        assert grad is not None and np.all(np.isfinite(tf.convert_to_tensor(grad).numpy()))


def test_save_load_safe_mode_with_every_option(tmp_path):
    config = dict(
        scales=[1, 3, "global"],
        kernel_size=5,
        reduction=4,
        depthwise=False,
        batch_norm=True,
        pooling="max",
        fusion="average",
        kernel_initializer=keras.initializers.HeNormal(seed=1),
        gate_initializer="glorot_uniform",
        momentum=0.8,
        bn_epsilon=1e-3,
    )
    inputs = keras.Input((7, 5, 16))
    outputs = MultiScaleSpatialRecalibration(name="mssar", **config)(inputs)
    model = keras.Model(inputs, outputs)
    _randomise(model.get_layer("mssar"))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    layer = loaded.get_layer("mssar")
    assert isinstance(layer, MultiScaleSpatialRecalibration)
    assert layer.get_config() == model.get_layer("mssar").get_config()
    assert layer.scales == (1, 3, "global") and layer.fusion == "average"
    x = _x((2, 7, 5, 16))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_gate_in_float32(policy):
    x = 300 * _x((2, 9, 7, 32))  # large activations: float16 sums of these lose digits
    reference = MultiScaleSpatialRecalibration(reduction=4)
    reference.build(x.shape)
    _randomise(reference, scale=0.05)
    keras.mixed_precision.set_global_policy(policy)
    layer = MultiScaleSpatialRecalibration(reduction=4)
    layer.build(x.shape)
    assert layer.statistics_dtype == "float32"
    assert all(w.dtype == "float32" for w in layer.weights)
    for mine, theirs in zip(layer.weights, reference.weights):
        mine.assign(theirs)
    y = layer(x)
    compute = policy.split("_")[1]
    assert keras.backend.standardize_dtype(y.dtype) == compute
    # The input is rounded to float16/bfloat16 once and the output once; the gate in between is
    # float32. Relative error: two roundings of 2^-11 (float16) or 2^-8 (bfloat16), plus the
    # gate's response to the rounded input (slope <= 1/4 times weights ~0.05 in a few sums).
    rtol = 4 * (2.0**-11 if compute == "float16" else 2.0**-8)
    np.testing.assert_allclose(
        np.asarray(y, "float32"), reference(x).numpy(), rtol=rtol, atol=rtol * 300
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scales": ()}, "scales must be"),
        ({"scales": (2, 2)}, "distinct"),
        ({"scales": (0,)}, "positive"),
        ({"scales": ("local",)}, "global"),
        ({"kernel_size": 2}, "odd"),
        ({"reduction": 0}, "reduction"),
        ({"pooling": "median"}, "pooling"),
        ({"fusion": "max"}, "fusion"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiScaleSpatialRecalibration(**kwargs)


def test_wrong_rank_raises():
    with pytest.raises(ValueError, match="4D channels-last"):
        MultiScaleSpatialRecalibration().build((None, 8, 16))


JAX_SCRIPT = """
import sys
import numpy as np, keras
from srm_keras.layers import MultiScaleSpatialRecalibration
assert keras.backend.backend() == "jax"
data = np.load(sys.argv[1])
layer = MultiScaleSpatialRecalibration(reduction=4)
layer.build(data["x"].shape)
for weight in layer.weights:
    weight.assign(data[weight.path.split("/", 1)[1]])
np.testing.assert_allclose(np.asarray(layer(data["x"])), data["y"], rtol=1e-5, atol=1e-5)
inputs = keras.Input(data["x"].shape[1:])
x = keras.layers.GlobalAveragePooling2D()(MultiScaleSpatialRecalibration(reduction=4)(inputs))
model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
model.compile("sgd", "sparse_categorical_crossentropy")
loss = model.fit(data["x"], np.array([0, 1, 2]), epochs=1, verbose=0).history["loss"][0]
assert np.isfinite(loss)
print("ok")
"""


def test_jax_backend_computes_the_same_and_trains(tmp_path):
    pytest.importorskip("jax")
    x = _x((3, 7, 5, 16))
    layer = MultiScaleSpatialRecalibration(reduction=4)
    layer.build(x.shape)
    _randomise(layer)
    weights = {w.path.split("/", 1)[1]: w.numpy() for w in layer.weights}
    np.savez(tmp_path / "data.npz", x=x, y=layer(x).numpy(), **weights)
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(tmp_path / "data.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
