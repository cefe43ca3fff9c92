"""SRM's ablation variants (pooling, integration) against docs/design.md §1, written out in
NumPy; their parameter counts; the default unchanged, and files saved before the variants."""

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import srm_keras
from srm_keras import layers
from srm_keras.export.folding import fold_model
from srm_keras.layers import FoldedStyleRecalibration, StyleRecalibration, fold_module, is_foldable
from srm_keras.layers.srm import srm_parameters
from srm_keras.training import apply_weight_decay, exempt_variables

DATA = Path(__file__).parent / "data"
# Saved by the package as of commit f9696e5, before StyleRecalibration had pooling,
# integration and reduction: an SRM and an SRM(ddof=0, epsilon=1e-3, momentum=0.99) on 5x3x8
# maps, with two images and that code's outputs in inference and training mode (README.md).
OLD_FILE = DATA / "srm_before_variants"

VARIANTS = {
    "srm": (("mean", "std"), "cfc"),
    "srm_mean": (("mean",), "cfc"),
    "srm_std": (("std",), "cfc"),
    "srm_mlp": (("mean", "std"), "mlp"),
}
# Beyond the registry: every other pooling, with both integrations.
POOLINGS = [("max",), ("mean", "max"), ("std", "max"), ("mean", "std", "max")]


def _reference(layer, x):
    """Inference-mode StyleRecalibration in float64, from the layer's own weights."""
    x = x.astype("float64")
    n = x.shape[1] * x.shape[2]
    mean = x.mean(axis=(1, 2))
    variance = ((x - mean[:, None, None, :]) ** 2).sum(axis=(1, 2)) / max(n - layer.ddof, 1)
    pooled = {"mean": mean, "std": np.sqrt(variance + layer.epsilon), "max": x.max(axis=(1, 2))}
    stats = np.stack([pooled[name] for name in layer.pooling], axis=-1)  # (N, C, P)
    weights = {w.path.split("/", 1)[1]: keras.ops.convert_to_numpy(w) for w in layer.weights}
    weights = {k: v.astype("float64") for k, v in weights.items()}
    if layer.integration == "cfc":
        z = (stats * weights["cfc"]).sum(axis=-1)
    else:
        flat = stats.reshape(len(x), -1)  # channel by channel: row c * P + j
        hidden = np.maximum(flat @ weights["squeeze_kernel"] + weights["squeeze_bias"], 0)
        z = hidden @ weights["excite_kernel"]
    bn = (z - weights["bn/moving_mean"]) / np.sqrt(weights["bn/moving_variance"] + 1e-5)
    gate = 1 / (1 + np.exp(-(bn * weights["bn/gamma"] + weights["bn/beta"])))
    return x * gate[:, None, None, :]


def _randomise(layer, rng):
    for weight in layer.weights:
        value = rng.normal(0.0, 0.5, size=weight.shape)
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value.astype(weight.dtype))


def _layer(pooling, integration, channels=6, **kwargs):
    layer = StyleRecalibration(pooling=pooling, integration=integration, name="srm", **kwargs)
    layer.build((None, None, None, channels))
    return layer


# -- the registry and the options --------------------------------------------------------------


def test_registry_keys_build_the_studied_variants():
    assert set(VARIANTS) <= set(layers.names())
    for key, (pooling, integration) in VARIANTS.items():
        layer = layers.get(key)()
        assert (layer.pooling, layer.integration, layer.reduction) == (pooling, integration, 16)
        assert layers.short_name(key) == key
    # A fresh default is the paper's module.
    assert (StyleRecalibration().pooling, StyleRecalibration().integration) == (
        ("mean", "std"),
        "cfc",
    )


def test_pooling_is_kept_in_one_order():
    assert StyleRecalibration(pooling=["max", "std", "mean"]).pooling == ("mean", "std", "max")
    assert StyleRecalibration(pooling="std").pooling == ("std",)
    assert StyleRecalibration(pooling=("std", "mean")).get_config()["pooling"] == ["mean", "std"]


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"pooling": []}, "non-empty subset"),
        ({"pooling": ["median"]}, "non-empty subset"),
        ({"pooling": ["mean", "mean"]}, "without repetitions"),
        ({"pooling": 3}, "non-empty subset"),
        ({"integration": "se"}, "integration must be 'cfc'"),
        ({"integration": "mlp", "reduction": 0}, "reduction must be a positive integer"),
        ({"integration": "mlp", "reduction": 2.0}, "reduction must be a positive integer"),
        ({"reduction": 8}, "integration='mlp'"),
    ],
)
def test_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        StyleRecalibration(**bad)


# -- the equations --------------------------------------------------------------------------------


@pytest.mark.parametrize("integration", ["cfc", "mlp"])
@pytest.mark.parametrize("pooling", [("mean",), ("std",), ("mean", "std"), *POOLINGS])
@pytest.mark.parametrize("ddof, shape", [(1, (3, 5, 7, 40)), (0, (2, 1, 1, 40))])
def test_matches_numpy_reference(integration, pooling, ddof, shape):
    rng = np.random.default_rng(len(pooling))
    x = rng.normal(size=shape).astype("float32") * 2 + 0.5
    layer = _layer(pooling, integration, channels=shape[-1], ddof=ddof)
    _randomise(layer, rng)
    np.testing.assert_allclose(
        layer(x, training=False).numpy(), _reference(layer, x), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_gates_are_one_half_at_initialisation(key):
    # The CFC and the MLP's second kernel start at zero (docs/design.md §1).
    x = np.random.default_rng(0).normal(size=(4, 5, 5, 32)).astype("float32")
    for training in (True, False):
        y = layers.get(key)()(x, training=training).numpy()
        np.testing.assert_allclose(y, 0.5 * x, rtol=1e-6)


def test_mean_of_srm_mean_is_the_mean_of_srm():
    # The same pooling code: srm_mean's statistic is bit for bit the default's mean.
    x = np.random.default_rng(2).normal(size=(2, 4, 6, 5)).astype("float32")
    (mean,) = StyleRecalibration(pooling=["mean"]).pool_statistics(x)
    mean2, std2 = StyleRecalibration().pool_statistics(x)
    (std,) = StyleRecalibration(pooling=["std"]).pool_statistics(x)
    np.testing.assert_array_equal(mean.numpy(), mean2.numpy())
    np.testing.assert_array_equal(std.numpy(), std2.numpy())


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_float32_statistics_and_weights_under_mixed_float16(key):
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = layers.get(key)()
    base = np.full((2, 4, 4, 3), 400.0) + np.arange(16).reshape(1, 4, 4, 1)
    x = keras.ops.cast(base, "float16")  # squares overflow float16
    y = layer(x, training=True)
    assert y.dtype == "float16" and np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    assert all(s.dtype == "float32" for s in layer.pool_statistics(x))
    assert {w.dtype for w in layer.weights} == {"float32"}


@pytest.mark.parametrize("integration", ["cfc", "mlp"])
def test_float64_policy_computes_in_float64(integration):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, 5, 20)) * 3 + 1
    layer = StyleRecalibration(
        pooling=["mean", "std", "max"], integration=integration, dtype="float64"
    )
    layer.build(x.shape)
    _randomise(layer, rng)
    output = layer(x, training=False).numpy()
    assert output.dtype == np.float64
    np.testing.assert_allclose(output, _reference(layer, x), rtol=1e-12, atol=1e-12)


# -- parameters and MACs ----------------------------------------------------------------------


def _hand_count(channels, pooling, integration, reduction=16):
    """docs/design.md §1's formulas, written out again."""
    p = len(pooling)
    if integration == "cfc":
        return p * channels + 2 * channels
    h = max(channels // reduction, 1)
    return p * channels * h + h + h * channels + 2 * channels


@pytest.mark.parametrize("channels", [8, 16, 64, 256])
@pytest.mark.parametrize("integration", ["cfc", "mlp"])
@pytest.mark.parametrize("pooling", [("mean",), ("std",), ("mean", "std"), *POOLINGS])
def test_parameter_formula(channels, integration, pooling):
    layer = _layer(pooling, integration, channels=channels)
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    expected = _hand_count(channels, pooling, integration)
    assert trainable == srm_parameters(channels, pooling, integration) == expected
    # count_params also counts the BN's moving mean and variance.
    assert layer.count_params() == expected + 2 * channels


def test_parameter_formulas_of_the_registry_keys():
    # Per module, C channels, h = max(C // 16, 1): 4C, 3C, 3C, 3Ch + h + 2C.
    c, h = 256, 16
    counts = {key: srm_parameters(c, *VARIANTS[key]) for key in VARIANTS}
    assert counts == {
        "srm": 4 * c,
        "srm_mean": 3 * c,
        "srm_std": 3 * c,
        "srm_mlp": 3 * c * h + h + 2 * c,
    }
    assert (
        srm_parameters(256, ["mean", "std"], "mlp", reduction=8)
        == 256 * 2 * 32 + 32 + 32 * 256 + 512
    )


# Measured with srm_keras.count_params (trainable, 1000 and 10 classes) and pinned in
# docs/design.md §1: the plain networks' counts plus the per-module formula summed over the
# blocks (ResNet-50: C = 256 x3, 512 x4, 1024 x6, 2048 x3; ResNet-56: 16, 32, 64 x9 each).
MODEL_COUNTS = {
    "srm_resnet50": 25_617_448,
    "srm_mean_resnet50": 25_602_344,
    "srm_std_resnet50": 25_602_344,
    "srm_mlp_resnet50": 29_360_600,
    "srm_resnet56": 857_050,
    "srm_mean_resnet56": 856_042,
    "srm_std_resnet56": 856_042,
    "srm_mlp_resnet56": 864_169,
}
PLAIN = {
    "50": (25_557_032, {256: 3, 512: 4, 1024: 6, 2048: 3}),
    "56": (853_018, {16: 9, 32: 9, 64: 9}),
}


@pytest.mark.parametrize("name", sorted(MODEL_COUNTS))
def test_model_parameter_counts(name):
    key, depth = name.rsplit("_resnet", 1)
    plain, blocks = PLAIN[depth]
    by_formula = plain + sum(n * _hand_count(c, *VARIANTS[key]) for c, n in blocks.items())
    assert srm_keras.count_params(srm_keras.create_model(name)) == MODEL_COUNTS[name] == by_formula


def test_macs():
    shape = (None, 7, 5, 64)
    elements = 7 * 5 * 64
    assert StyleRecalibration().macs(shape) == 4 * elements + 2 * 64
    assert layers.get("srm_std")().macs(shape) == 4 * elements + 64
    assert layers.get("srm_mean")().macs(shape) == 2 * elements + 64
    assert StyleRecalibration(pooling="max").macs(shape) == 2 * elements + 64
    assert layers.get("srm_mlp")().macs(shape) == 4 * elements + 2 * 64 * 4 + 4 * 64


# -- weight decay -------------------------------------------------------------------------------


def test_every_variant_keeps_the_weight_decay_exemption():
    # docs/design.md §1: the variants change one part of the module, not the recipe.
    inputs = keras.Input((4, 4, 32))
    x = keras.layers.Conv2D(32, 1, name="conv")(inputs)
    modules = [layers.get(key)(name=key) for key in sorted(VARIANTS)]
    for module in modules:
        x = module(x)
    model = keras.Model(inputs, x)
    decayed = apply_weight_decay(model, 1e-4)
    assert [v.path for v in decayed] == ["conv/kernel", "conv/bias"]
    module_variables = [v for m in modules for v in m.trainable_variables]
    assert {id(v) for v in exempt_variables(model)} == {id(v) for v in module_variables}
    assert all(v.regularizer is None for v in module_variables)


# -- the default is unchanged; old files load -------------------------------------------------


def test_default_weights_and_config():
    layer = StyleRecalibration(name="srm")
    layer.build((None, 5, 5, 8))
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("srm/cfc", (8, 2)),
        ("srm/bn/gamma", (8,)),
        ("srm/bn/beta", (8,)),
        ("srm/bn/moving_mean", (8,)),
        ("srm/bn/moving_variance", (8,)),
    ]
    config = layer.get_config()
    assert (config["pooling"], config["integration"], config["reduction"]) == (
        ["mean", "std"],
        "cfc",
        16,
    )
    old = {k: v for k, v in config.items() if k not in ("pooling", "integration", "reduction")}
    assert StyleRecalibration.from_config(old).get_config() == config
    assert json.loads(json.dumps(config)) == config


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_config_round_trip_rebuilds_the_variant(key):
    layer = layers.get(key)(name="module")
    layer.build((None, 4, 4, 32))
    config = json.loads(json.dumps(layer.get_config()))
    clone = StyleRecalibration.from_config(config)
    assert (clone.pooling, clone.integration) == VARIANTS[key]
    clone.build((None, 4, 4, 32))
    assert [(w.path, w.shape) for w in clone.weights] == [(w.path, w.shape) for w in layer.weights]


def test_file_saved_before_the_variants_loads():
    config = json.loads(zipfile.ZipFile(OLD_FILE.with_suffix(".keras")).read("config.json"))
    saved = [layer["config"] for layer in config["config"]["layers"][1:]]
    assert [c["name"] for c in saved] == ["srm", "srm_ddof0"]
    assert not any({"pooling", "integration", "reduction"} & set(c) for c in saved)
    old = np.load(OLD_FILE.with_suffix(".npz"))
    model = keras.models.load_model(OLD_FILE.with_suffix(".keras"), safe_mode=True)
    modules = model.layers[1:]
    assert [(m.pooling, m.integration, m.ddof, m.momentum) for m in modules] == [
        (("mean", "std"), "cfc", 1, 0.9),
        (("mean", "std"), "cfc", 0, 0.99),
    ]
    # Recomputed here, perhaps on another CPU whose kernels sum in another order: sums of at
    # most 15 terms of size < 4 move by ~1e-5 at most, a wrong weight or option by 1e-2.
    np.testing.assert_allclose(model(old["images"], training=False), old["outputs"], atol=1e-4)
    np.testing.assert_allclose(
        model(old["images"], training=True), old["training_outputs"], atol=1e-4
    )


# -- folding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", [("mean",), ("std",), *POOLINGS])
@pytest.mark.parametrize("size", [(1, 1), (3, 5)])
def test_cfc_variants_fold(pooling, size):
    module = _layer(pooling, "cfc")
    _randomise(module, np.random.default_rng(3))
    assert is_foldable(module)
    folded = fold_module(module)
    assert isinstance(folded, FoldedStyleRecalibration) and folded.pooling == pooling
    assert folded.kernel.shape == (1, len(pooling), 6, 1)
    assert FoldedStyleRecalibration.from_config(folded.get_config()).pooling == pooling
    x = np.random.default_rng(4).normal(size=(3, *size, 6)).astype("float32")
    # Gates within 1e-6 (float32 rounding of a few terms of order one); a folding mistake
    # moves them by 1e-2.
    np.testing.assert_allclose(folded(x), module(x, training=False), atol=1e-6 * np.abs(x).max())


def test_mlp_is_not_folded():
    module = layers.get("srm_mlp")(name="srm")
    module.build((None, 4, 4, 32))
    assert not is_foldable(module)
    with pytest.raises(ValueError, match="CFC integration.*integration='mlp'"):
        fold_module(module)
    inputs = keras.Input((4, 4, 32))
    model = keras.Model(inputs, module(inputs))
    assert fold_model(model) == (model, [])


def test_folding_a_mixed_model_folds_only_the_cfc_modules():
    inputs = keras.Input((4, 4, 16))
    x = inputs
    modules = [layers.get(key)(name=key) for key in ("srm_mean", "srm_mlp", "srm_std")]
    for module in modules:
        x = module(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(6)
    for module in modules:
        _randomise(module, rng)
    folded, names = fold_model(model)
    assert names == ["srm_mean", "srm_std"]
    assert type(folded.get_layer("srm_mlp")) is StyleRecalibration
    images = rng.normal(size=(2, 4, 4, 16)).astype("float32")
    np.testing.assert_allclose(folded(images), model(images, training=False), atol=1e-5)
