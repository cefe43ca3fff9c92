"""The folded inference forms of SRM and GE: contract, equality with the modules, saving.

They are not in the recalibration registry (they are built from trained modules, not trained),
so the registry harness (test_harness.py) does not cover them; this file does.
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from srm_keras import layers
from srm_keras.layers import (
    FoldedGatherExcitation,
    FoldedMultiScaleSpatialRecalibration,
    FoldedStyleRecalibration,
    GatherExcitation,
    InferenceSqueezeExcitation,
    StyleRecalibration,
    fold_module,
    is_foldable,
)

DATA = Path(__file__).parent / "data"
# Saved by the package as of commit 921a544, when the folded layers were defined in
# srm_keras/export/folding.py (SRM with ddof=0, epsilon=1e-3 -> GE -> GE-θ⁺ with reduction 4,
# on 5x3x8 maps), with two images and the outputs that code computed for them.
OLD_FILE = DATA / "folded_from_export_folding"

U = 2.0**-24  # float32 unit roundoff: one rounding moves a value by at most U times itself

# Outputs of one saved model, recomputed elsewhere (another process or CPU, whose kernels may sum
# in another order). The saved models' logits are sums of at most 15 terms whose magnitudes add
# up to less than 10, so a reordering moves a logit by at most 2 * 15 * U * 10 ~ 2e-5, a gate by
# a quarter of that (the sigmoid's slope is at most 1/4), and an output (|x| < 4, three modules
# in a row) by under 1e-4. Loading the wrong class, or a weight into the wrong slot, moves the
# outputs by 0.1 or more (the gates lie between 0.1 and 0.9).
REORDER_ATOL = 1e-4


def _randomise(module, rng, spatial=1):
    """Trained-looking weights and batch-normalisation statistics, gates away from 0 and 1."""
    for weight in module.weights:
        name, shape = weight.path, tuple(weight.shape)
        if name.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("gather_kernel"):  # a sum over the map: keep it of order one
            value = rng.normal(0.0, 1.0 / np.sqrt(spatial), shape)
        else:  # moving_mean, beta, cfc, biases, bottleneck kernels
            value = rng.normal(0.0, 0.5, shape)
        weight.assign(value.astype("float32"))


def _bn64(bn):
    """(s, t, |s * moving_mean| + |beta|) of BN(z) = s * z + t, in float64."""
    gamma, beta, mean, variance = (
        keras.ops.convert_to_numpy(w).astype("float64")
        for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
    )
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return scale, beta - scale * mean, np.abs(scale * mean) + np.abs(beta)


def _output_bound(x, logit_error):
    """Largest |folded - module| per element, given a bound on the logits' difference.

    The sigmoid's slope is at most 1/4, and each side's sigmoid is within a few units in the
    last place of the exact one (gate < 1, so 4 U each side covers it); each side's product
    with x rounds once more (U |x| each).
    """
    gate_error = logit_error / 4 + 8 * U
    return np.abs(x.astype("float64")) * (gate_error + 2 * U)[:, None, None, :]


def _srm_bound(module, x):
    """Bound on |FoldedStyleRecalibration - StyleRecalibration(training=False)| per element.

    The statistics: the module reduces an (N, H*W, C) reshape, the folded layer both spatial
    axes of the map (docs/design.md §14), so each may sum the n = H W positions in its own
    order. A sum of n terms in any order is within (n - 1) U of the exact one times the sum of
    their magnitudes, and the division by n adds one rounding: each side's mean is within
    e = (n + 1) U mean|x| of the exact one. Centred on a mean off by e, the sum of squares
    gains n e^2 (the cross term vanishes at the exact mean), and its own n + 2 roundings
    (subtraction, square, the sum) cost (n + 2) U times itself: the two sides' variances
    differ by at most 2 ((n + 3) U var + n e^2 / d), with d = max(n - ddof, 1), and their
    square roots by that over 2 sqrt(var + epsilon) (or less: both variances are at least
    var minus the difference).

    From there the module computes BN(w0 mean + w1 std) with Keras' BN (rsqrt, products,
    sums) and the folded layer (s w0) mean + (s w1) std + t with s, t rounded in NumPy. Each
    side is a chain of at most 8 roundings per term (TensorFlow's rsqrt is within 2 ulps,
    counted twice), so each logit is within 8 U of the exact one times the sum of its terms'
    magnitudes, and the two sides within 16 U of each other; 32 U leaves room for the
    convolution's own accumulation order. The statistics' differences pass through s w0 and
    s w1.
    """
    x64 = x.astype("float64")
    spatial = x.shape[1] * x.shape[2]
    divisor = max(spatial - module.ddof, 1)
    mean = x64.mean(axis=(1, 2))
    squares = ((x64 - mean[:, None, None, :]) ** 2).sum(axis=(1, 2))
    variance = squares / divisor
    std = np.sqrt(variance + module.epsilon)
    mean_error = (spatial + 1) * U * np.abs(x64).mean(axis=(1, 2))
    variance_gap = 2 * ((spatial + 3) * U * variance + spatial * mean_error**2 / divisor)
    std_gap = variance_gap / (2 * np.sqrt(np.maximum(variance - variance_gap, 0) + module.epsilon))
    cfc = keras.ops.convert_to_numpy(module.cfc).astype("float64")
    scale, _, shift_magnitude = _bn64(module.bn)
    magnitude = np.abs(scale * cfc[:, 0] * mean) + np.abs(scale * cfc[:, 1] * std)
    statistics_gap = (
        np.abs(scale * cfc[:, 0]) * 2 * mean_error + np.abs(scale * cfc[:, 1]) * std_gap
    )
    return _output_bound(x, 32 * U * (magnitude + shift_magnitude) + statistics_gap)


def _ge_bound(module, x):
    """Bound on |FoldedGatherExcitation - GatherExcitation(training=False)| per element.

    The logit is a sum over the H W positions plus bias and BN terms; either side may sum the
    positions in any order, which costs at most (H W) U times the sum of the terms' magnitudes,
    and the folding's and BN's roundings at most 16 U more (as for SRM): so 2 (H W + 16) U
    between the two sides. With the GE-θ⁺ bottleneck, the difference goes through each matrix
    product as |W| times itself (ReLU is 1-Lipschitz), and each product over n terms adds its
    own rounding, (n + 1) U times its terms' magnitudes, on each side.
    """
    x64 = x.astype("float64")
    kernel = keras.ops.convert_to_numpy(module.gather_kernel)[..., 0].astype("float64")
    bias = keras.ops.convert_to_numpy(module.gather_bias).astype("float64")
    scale, shift, shift_magnitude = _bn64(module.gather_bns[0])
    terms = np.abs(scale * kernel * x64).sum(axis=(1, 2)) + np.abs(scale * bias) + shift_magnitude
    error = 2 * (x.shape[1] * x.shape[2] + 16) * U * terms
    if module.reduction is not None:
        w1, b1, w2, b2 = (
            keras.ops.convert_to_numpy(w).astype("float64")
            for w in (
                module.squeeze_kernel,
                module.squeeze_bias,
                module.excite_kernel,
                module.excite_bias,
            )
        )
        context = np.maximum(scale * ((kernel * x64).sum(axis=(1, 2)) + bias) + shift, 0)
        hidden = np.maximum(context @ w1 + b1, 0)
        error = error @ np.abs(w1) + 2 * (w1.shape[0] + 1) * U * (context @ np.abs(w1) + abs(b1))
        error = error @ np.abs(w2) + 2 * (w2.shape[0] + 1) * U * (hidden @ np.abs(w2) + abs(b2))
    return _output_bound(x, error)


def _se_bound(module, x):
    """Bound on |InferenceSqueezeExcitation - SqueezeExcitation| per element.

    The same weights and arithmetic, but the module pools an (N, H*W, C) reshape and the
    inference form both spatial axes, so each sums the n = H W positions in its own order: each
    side's mean is within (n + 1) U mean|x| of the exact one. That difference goes through each
    matrix product as |W| times itself (ReLU is 1-Lipschitz), and each product over k terms adds
    its own rounding, (k + 1) U times its terms' magnitudes, on each side (a 1x1 convolution and
    a matrix product may also sum in different orders).
    """
    x64 = x.astype("float64")
    spatial = x.shape[1] * x.shape[2]
    w1, b1, w2, b2 = (keras.ops.convert_to_numpy(w).astype("float64") for w in module.weights)
    squeezed = x64.mean(axis=(1, 2))
    hidden = np.maximum(squeezed @ w1 + b1, 0)
    error = 2 * (spatial + 1) * U * np.abs(x64).mean(axis=(1, 2))
    error = error @ np.abs(w1) + 2 * (w1.shape[0] + 1) * U * (
        np.abs(squeezed) @ np.abs(w1) + abs(b1)
    )
    error = error @ np.abs(w2) + 2 * (w2.shape[0] + 1) * U * (hidden @ np.abs(w2) + abs(b2))
    return _output_bound(x, error)


def _trained_srm(channels=6, seed=0, **kwargs):
    module = StyleRecalibration(name="srm", **kwargs)
    module.build((None, None, None, channels))
    _randomise(module, np.random.default_rng(seed))
    return module


def _trained_ge(size, channels=6, seed=0, **kwargs):
    module = GatherExcitation(name="ge", **kwargs)
    module.build((None, *size, channels))
    _randomise(module, np.random.default_rng(seed), spatial=size[0] * size[1])
    return module


def _images(size, channels=6, seed=1):
    return np.random.default_rng(seed).normal(size=(3, *size, channels)).astype("float32")


def _assert_within(actual, expected, bound, x):
    actual = keras.ops.convert_to_numpy(actual)
    assert np.all(np.isfinite(actual))
    # The bound allows gate differences below 1e-3; a folding mistake (a BN term left out, a
    # kernel unscaled) moves the gates by 0.01 or more with these statistics.
    assert np.all(bound <= 1e-3 * np.abs(x))
    excess = np.abs(actual - keras.ops.convert_to_numpy(expected)) - bound
    assert excess.max() <= 0, f"exceeds the float32 bound by {excess.max():.3g}"


SIZES = [(1, 1), (1, 7), (3, 5), (8, 8)]


# -- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer_class, options, shape",
    [
        (FoldedStyleRecalibration, {"ddof": 0, "epsilon": 1e-3}, (None, None, None, 6)),
        (FoldedGatherExcitation, {}, (None, 3, 5, 6)),
        (FoldedGatherExcitation, {"reduction": 4, "gather": "depthwise"}, (None, 3, 5, 6)),
        (InferenceSqueezeExcitation, {"reduction": 2}, (None, None, None, 6)),
        (FoldedMultiScaleSpatialRecalibration, {"scales": [2, "global"]}, (None, None, None, 6)),
    ],
    ids=["srm", "ge", "ge_plus", "se", "mssar"],
)
def test_config_round_trip(layer_class, options, shape):
    layer = layer_class(name="folded", **options)
    layer.build(shape)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build(shape)
    assert [(w.path, w.shape) for w in clone.weights] == [(w.path, w.shape) for w in layer.weights]
    assert json.loads(json.dumps(config)) == config


def test_from_module_keeps_name_options_and_policy():
    folded = FoldedStyleRecalibration.from_module(_trained_srm(ddof=0, epsilon=1e-3))
    assert (folded.name, folded.ddof, folded.epsilon) == ("srm", 0, 1e-3)
    assert folded.built and folded.dtype_policy.name == "float32"
    folded = FoldedGatherExcitation.from_module(_trained_ge((3, 5), reduction=2))
    assert (folded.name, folded.reduction, folded.built) == ("ge", 2, True)


def test_is_foldable_per_registry_name():
    foldable = {name for name in layers.names() if is_foldable(layers.get(name)())}
    # SRM's pooling variants fold like SRM; its MLP integration does not (docs/design.md §1).
    # SE has nothing to fold; its inference form is what exported graphs need (§14).
    assert foldable == {"srm", "srm_mean", "srm_std", "se", "ge", "ge_plus", "mssar"}


def test_takes_mean_names_the_forms_that_pool_the_mean():
    srm_max = FoldedStyleRecalibration(pooling=("max",))
    assert layers.takes_mean(InferenceSqueezeExcitation())
    assert layers.takes_mean(FoldedStyleRecalibration())  # mean and std
    assert layers.takes_mean(FoldedStyleRecalibration(pooling=("std",)))  # centred on it
    assert not layers.takes_mean(srm_max)
    assert layers.takes_mean(FoldedMultiScaleSpatialRecalibration(scales=(1, "global")))
    assert not layers.takes_mean(FoldedMultiScaleSpatialRecalibration(scales=(1, 2)))
    assert not layers.takes_mean(
        FoldedMultiScaleSpatialRecalibration(scales=(1, "global"), pooling="max")
    )
    assert not layers.takes_mean(FoldedGatherExcitation())


def test_a_given_mean_replaces_the_pooled_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 5, 8)).astype("float32")
    mean = x.mean(axis=(1, 2), keepdims=True)
    se = InferenceSqueezeExcitation(reduction=2)
    se.build(x.shape)
    se.set_weights([rng.normal(size=w.shape).astype("float32") for w in se.get_weights()])
    # NumPy's and TensorFlow's float32 means of 25 values differ by a few ulps (1e-7 relative);
    # through normal weights and the sigmoid into outputs of size ~3: well under 1e-5.
    np.testing.assert_allclose(se(x, mean=mean), se(x), rtol=1e-5, atol=1e-5)
    # A different mean changes the gate: the argument is used, not ignored.
    assert np.abs(np.asarray(se(x, mean=mean + 1.0)) - np.asarray(se(x))).max() > 1e-3
    # A form that pools no mean refuses one rather than ignoring it.
    srm_max = FoldedStyleRecalibration(pooling=("max",), name="srm_max")
    with pytest.raises(ValueError, match="srm_max: this form pools no channel mean"):
        srm_max(x, mean=mean)


def test_folded_layers_are_not_registry_modules():
    # Inference-only: they belong to no name a model builder accepts.
    for name in layers.names():
        assert not isinstance(
            layers.get(name)(),
            (
                FoldedStyleRecalibration,
                FoldedGatherExcitation,
                InferenceSqueezeExcitation,
                FoldedMultiScaleSpatialRecalibration,
            ),
        )


def test_refusals_name_what_folds():
    with pytest.raises(ValueError, match="parametric global gather"):
        fold_module(_trained_ge((4, 4), extent=2))
    with pytest.raises(ValueError, match="is built from a SqueezeExcitation"):
        InferenceSqueezeExcitation.from_module(_trained_ge((4, 4)))
    with pytest.raises(ValueError, match="no weights to fold yet"):
        fold_module(layers.SqueezeExcitation())
    with pytest.raises(ValueError, match="folds a StyleRecalibration"):
        FoldedStyleRecalibration.from_module(_trained_ge((4, 4)))
    with pytest.raises(ValueError, match="no weights to fold yet"):
        fold_module(StyleRecalibration())
    with pytest.raises(ValueError, match="static height, width"):
        FoldedGatherExcitation().build((None, None, None, 6))
    with pytest.raises(ValueError, match="gather must be one of"):
        FoldedGatherExcitation(gather="conv")
    with pytest.raises(ValueError, match="ddof"):
        FoldedStyleRecalibration(ddof=2)


# -- equality with the modules at inference ---------------------------------------------------


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("size", SIZES)
def test_srm_equals_module_at_inference(ddof, size):
    module = _trained_srm(ddof=ddof)
    folded = fold_module(module)
    assert isinstance(folded, FoldedStyleRecalibration)
    x = _images(size)
    _assert_within(folded(x), module(x, training=False), _srm_bound(module, x), x)


@pytest.mark.parametrize("gather", ["sum", "depthwise"])
@pytest.mark.parametrize("reduction", [None, 2])
@pytest.mark.parametrize("size", SIZES)
def test_ge_equals_module_at_inference(reduction, size, gather):
    module = _trained_ge(size, reduction=reduction)
    folded = fold_module(module, gather)
    assert isinstance(folded, FoldedGatherExcitation) and folded.gather == gather
    x = _images(size)
    _assert_within(folded(x), module(x, training=False), _ge_bound(module, x), x)


@pytest.mark.parametrize("size", SIZES)
def test_se_equals_module_at_inference(size):
    module = layers.SqueezeExcitation(reduction=2, name="se")
    module.build((None, None, None, 6))
    _randomise(module, np.random.default_rng(3))
    form = fold_module(module)
    assert isinstance(form, InferenceSqueezeExcitation) and form.name == "se"
    x = _images(size)
    _assert_within(form(x), module(x), _se_bound(module, x), x)


# MS-SAR in float64: the folded form and the module then differ only by float64 roundings
# (u = 2^-53 ~ 1.1e-16 each). A gate logit here is a chain of at most five reductions (pooling,
# reduction, spatial kernel, expansion, fusion) over at most 64 terms each, with magnitudes
# below 100, so the two sides differ by less than 2 * 5 * 66 * u * 100 ~ 7e-12 per logit and
# by less than that per output (|x| < 6, the sigmoid's slope at most 1/4); 1e-10 bounds it.
# A folding mistake (a BN term dropped, a scale on the wrong side) moves the gates by 1e-2 or
# more with these statistics.
MSSAR_FLOAT64_ATOL = 1e-10


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"batch_norm": False, "fusion": "average"},
        {"scales": (1, 3, "global"), "pooling": "max", "depthwise": False, "kernel_size": 1},
    ],
    ids=["default", "no_bn_average", "max_full_kernel"],
)
@pytest.mark.parametrize("size", SIZES)
def test_mssar_equals_module_at_inference(size, options):
    module = layers.MultiScaleSpatialRecalibration(
        reduction=2, name="mssar", dtype="float64", **options
    )
    module.build((None, None, None, 6))
    _randomise(module, np.random.default_rng(4))
    form = fold_module(module)
    assert isinstance(form, FoldedMultiScaleSpatialRecalibration) and form.name == "mssar"
    x = _images(size).astype("float64")
    expected = keras.ops.convert_to_numpy(module(x, training=False))
    np.testing.assert_allclose(form(x), expected, rtol=0, atol=MSSAR_FLOAT64_ATOL)
    # The form takes the module's policy (float32 is what exports see; parity there is
    # tests/export/test_mssar_export.py).
    module32 = layers.MultiScaleSpatialRecalibration(reduction=2, name="mssar", **options)
    module32.build((None, None, None, 6))
    form32 = fold_module(module32)
    assert form32.compute_dtype == form32.statistics_dtype == "float32"


def test_srm_takes_any_spatial_size():
    # Built from channels alone; one folded layer serves every size, also in a model whose
    # input has no static height and width.
    module = _trained_srm(ddof=1)
    folded = fold_module(module)
    inputs = keras.Input((None, None, 6))
    model = keras.Model(inputs, folded(inputs))
    for size in [*SIZES, (2, 9)]:
        x = 100 * _images(size, seed=size[0] * size[1])
        expected = module(x, training=False)
        _assert_within(folded(x), expected, _srm_bound(module, x), x)
        _assert_within(model(x), expected, _srm_bound(module, x), x)


# -- saving ----------------------------------------------------------------------------------


def _folded_model():
    """A functional model of the three folded forms, as fold_model leaves them."""
    rng = np.random.default_rng(2)
    srm = _trained_srm(channels=8, ddof=0, epsilon=1e-3)
    ge = _trained_ge((5, 3), channels=8)
    ge_plus = GatherExcitation(reduction=4, name="ge_plus")
    ge_plus.build((None, 5, 3, 8))
    _randomise(ge_plus, rng, spatial=15)
    inputs = keras.Input((5, 3, 8), name="image")
    x = inputs
    for module in (srm, ge, ge_plus):
        x = fold_module(module)(x)
    return keras.Model(inputs, x)


def test_save_load_safe_mode(tmp_path):
    model = _folded_model()
    model.save(tmp_path / "folded.keras")
    loaded = keras.models.load_model(tmp_path / "folded.keras", safe_mode=True)
    assert [type(layer) for layer in loaded.layers[1:]] == [
        FoldedStyleRecalibration,
        FoldedGatherExcitation,
        FoldedGatherExcitation,
    ]
    x = _images((5, 3), channels=8)
    np.testing.assert_array_equal(loaded(x), model(x))  # same process, same kernels


_LOAD_IN_FRESH_PROCESS = """
import sys
import keras
import numpy as np
import srm_keras

outputs = {}
for i, path in enumerate(sys.argv[2:]):
    model = keras.models.load_model(path, safe_mode=True)
    modules = {type(layer).__module__ for layer in model.layers[1:]}
    assert modules == {"srm_keras.layers.folded"}, modules
    outputs[f"out{i}"] = keras.ops.convert_to_numpy(model(np.load(sys.argv[1])["images"]))
assert not [name for name in sys.modules if name.startswith("srm_keras.export")]
np.savez(sys.argv[1] + ".out.npz", **outputs)
"""


def test_loads_in_a_fresh_process_by_registered_name(tmp_path):
    """`import srm_keras` alone registers the folded layers, under the names files saved
    before the move use ("srm_keras>FoldedStyleRecalibration", ...): both a file saved now and
    one saved when the classes lived in srm_keras.export.folding load with safe_mode=True."""
    old = np.load(OLD_FILE.with_suffix(".npz"))
    config = json.loads(zipfile.ZipFile(OLD_FILE.with_suffix(".keras")).read("config.json"))
    assert {layer["module"] for layer in config["config"]["layers"][1:]} == {
        "srm_keras.export.folding"
    }
    model = _folded_model()
    model.save(tmp_path / "new.keras")
    images = tmp_path / "images.npz"
    np.savez(images, images=old["images"])
    subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_IN_FRESH_PROCESS,
            str(images),
            str(tmp_path / "new.keras"),
            str(OLD_FILE.with_suffix(".keras")),
        ],
        check=True,
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    outputs = np.load(str(images) + ".out.npz")
    np.testing.assert_allclose(outputs["out0"], model(old["images"]), atol=REORDER_ATOL)
    np.testing.assert_allclose(outputs["out1"], old["outputs"], atol=REORDER_ATOL)


def test_old_file_loads_in_process():
    old = np.load(OLD_FILE.with_suffix(".npz"))
    loaded = keras.models.load_model(OLD_FILE.with_suffix(".keras"), safe_mode=True)
    assert [layer.name for layer in loaded.layers[1:]] == ["srm", "ge", "ge_plus"]
    np.testing.assert_allclose(loaded(old["images"]), old["outputs"], atol=REORDER_ATOL)
