"""Gate statistics: shapes and values for every registered module, SRM and SE against a direct
NumPy computation, spatial gates, and the reader registry's refusals."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from srm_keras import layers
from srm_keras.analysis import (
    gate_reader,
    gate_statistics,
    recalibration_modules,
    register_gate_reader,
    statistics_table,
)
from srm_keras.analysis.readers import _READERS

from .conftest import SIZE, perturbed

SPATIAL = {"ge_extent8", "mssar"}  # gates with a value per position


def _tiny(recalibration, seed=0, channels=32):
    """Input (8, 8, channels) -> one module with random weights: the model of a layer check."""
    inputs = keras.Input((SIZE, SIZE, channels))
    module = layers.get(recalibration)(name=f"block_{recalibration}")
    model = keras.Model(inputs, module(inputs))
    rng = np.random.default_rng(seed)
    for variable in module.weights:
        if variable.path.endswith("moving_variance"):
            variable.assign(rng.uniform(0.5, 2.0, variable.shape).astype(variable.dtype))
        else:
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype(variable.dtype))
    return model


@pytest.mark.parametrize("key", layers.names())
def test_every_registered_module_gives_per_channel_statistics(key):
    model = _tiny(key)
    images = np.random.default_rng(1).normal(size=(20, SIZE, SIZE, 32)).astype("float32")
    (stats,) = gate_statistics(model, images, batch_size=8)
    assert (stats.name, stats.block, stats.channels) == (f"block_{key}", "block", 32)
    assert stats.mean.shape == stats.std.shape == (32,)
    assert stats.spatial == (key in SPATIAL)
    assert stats.count == (20 * SIZE * SIZE if key in SPATIAL else 20)
    assert np.all((stats.mean > 0) & (stats.mean < 1)) and np.all(stats.std >= 0)
    assert stats.std.max() > 1e-4  # random weights: the gates do vary over the data


@pytest.mark.parametrize("key", layers.names())
def test_statistics_equal_those_of_the_gate_tensor_itself(key):
    """The probe's batched moments (Chan's merge over batches of 8, 8 and 4) equal NumPy's mean
    and std of the whole gate tensor, as the reader computes it eagerly."""
    model = _tiny(key, seed=2)
    module = model.layers[-1]
    images = np.random.default_rng(3).normal(size=(20, SIZE, SIZE, 32)).astype("float32")
    (stats,) = gate_statistics(model, images, batch_size=8)
    gate = keras.ops.convert_to_numpy(gate_reader(module)(module, images)).astype(np.float64)
    values = gate.reshape(-1, 32)  # (images x positions, C)
    np.testing.assert_allclose(stats.mean, values.mean(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(stats.std, values.std(axis=0), rtol=1e-4, atol=1e-6)
    # x * gate is the module's output: the gate is the one the layer applies.
    expected = keras.ops.convert_to_numpy(model(images))
    product = images * (gate if gate.ndim == 4 else gate[:, None, None, :])
    np.testing.assert_allclose(product, expected, rtol=1e-5, atol=1e-5)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _module_inputs(model, modules, images):
    probe = keras.Model(model.inputs, [m.input for m in modules])
    return [np.asarray(x, dtype=np.float64) for x in probe.predict_on_batch(images)]


def _bn(layer, z):
    w = {
        v.path.rsplit("/", 1)[-1]: keras.ops.convert_to_numpy(v).astype(np.float64)
        for v in layer.weights
    }
    return (
        w["gamma"] * (z - w["moving_mean"]) / np.sqrt(w["moving_variance"] + layer.epsilon)
        + w["beta"]
    )


def test_srm_resnet20_matches_a_direct_computation(digits):
    images, _ = digits
    model = perturbed("srm", seed=4)
    statistics = gate_statistics(model, images, batch_size=48)
    modules = recalibration_modules(model)
    assert [s.name for s in statistics] == [m.name for m in modules]
    assert [s.block for s in statistics] == [
        f"stage{s}_block{b}" for s in (1, 2, 3) for b in (1, 2, 3)
    ]
    assert [s.channels for s in statistics] == [16] * 3 + [32] * 3 + [64] * 3
    for stats, module, x in zip(statistics, modules, _module_inputs(model, modules, images)):
        flat = x.reshape(len(x), -1, x.shape[-1])
        mean = flat.mean(axis=1)
        std = np.sqrt(flat.var(axis=1, ddof=1) + module.epsilon)  # ddof=1: the release's
        cfc = keras.ops.convert_to_numpy(module.cfc).astype(np.float64)
        gate = _sigmoid(_bn(module.bn, mean * cfc[:, 0] + std * cfc[:, 1]))  # (N, C)
        assert stats.count == len(images) and not stats.spatial
        np.testing.assert_allclose(stats.mean, gate.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.std, gate.std(axis=0), rtol=1e-3, atol=1e-6)


def test_se_resnet20_matches_a_direct_computation(digits):
    images, _ = digits
    model = perturbed("se", seed=5)
    statistics = gate_statistics(model, images)
    modules = recalibration_modules(model)
    for stats, module, x in zip(statistics, modules, _module_inputs(model, modules, images)):
        w = {
            v.path.rsplit("/", 1)[-1]: keras.ops.convert_to_numpy(v).astype(np.float64)
            for v in module.weights
        }
        squeezed = x.mean(axis=(1, 2))
        hidden = np.maximum(squeezed @ w["squeeze_kernel"] + w["squeeze_bias"], 0)
        gate = _sigmoid(hidden @ w["excite_kernel"] + w["excite_bias"])
        np.testing.assert_allclose(stats.mean, gate.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.std, gate.std(axis=0), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("key", ["ge", "mssar"])
def test_ge_and_mssar_resnet20s_have_one_entry_per_block(key, digits):
    images, _ = digits
    statistics = gate_statistics(perturbed(key, seed=6), images[:32])
    assert [s.block for s in statistics] == [
        f"stage{s}_block{b}" for s in (1, 2, 3) for b in (1, 2, 3)
    ]
    assert all(s.spatial == (key == "mssar") for s in statistics)
    # MS-SAR at 8, 4 and 2 pixels: the positions count.
    sides = [8] * 3 + [4] * 3 + [2] * 3
    expected = [32 * side * side if key == "mssar" else 32 for side in sides]
    assert [s.count for s in statistics] == expected


def test_batches_of_a_dataset_give_the_same_statistics_as_an_array(digits):
    images, labels = digits
    model = perturbed("srm", seed=7)
    whole = gate_statistics(model, images, batch_size=128)
    batches = [(images[i : i + 50], labels[i : i + 50]) for i in range(0, len(images), 50)]
    split = gate_statistics(model, batches)
    for a, b in zip(whole, split):
        assert a.count == b.count == len(images)
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
        np.testing.assert_allclose(a.std, b.std, rtol=1e-5, atol=1e-9)
    assert gate_statistics(model, batches, steps=1)[0].count == 50


def test_table_and_dict_forms(digits):
    images, _ = digits
    statistics = gate_statistics(perturbed("srm", seed=8), images[:16])
    table = statistics_table(statistics)
    assert list(table) == ["name", "block", "module", "channel", "mean", "std"]
    assert {len(column) for column in table.values()} == {3 * (16 + 32 + 64)}
    assert table["channel"][:3] == [0, 1, 2] and table["module"][0] == "StyleRecalibration"
    fields = statistics[0].as_dict()
    assert fields["channels"] == 16 and len(fields["mean"]) == 16
    assert isinstance(fields["std"], list)


def test_a_plain_network_has_no_gates(digits):
    from srm_keras.models import resnet

    with pytest.raises(ValueError, match="no recalibration module"):
        gate_statistics(resnet(20, None, input_shape=(SIZE, SIZE, 3)), digits[0])


class _OwnCall(layers.StyleRecalibration):
    """A subclass computing something else: its gate is not SRM's."""

    def call(self, inputs, training=None):
        return inputs * 0.25


class _WithGate(keras.layers.Layer):
    """A module of one's own that says what its gate is."""

    def gate(self, inputs, training=None):
        return keras.ops.sigmoid(keras.ops.mean(inputs, axis=(1, 2)))

    def call(self, inputs):
        return inputs * self.gate(inputs)[:, None, None, :]


def _constant(x, value):
    """A gate of ``value`` for every image and channel of ``x``: (N, C)."""
    return keras.ops.zeros_like(keras.ops.mean(x, axis=(1, 2))) + value


def _single(layer):
    inputs = keras.Input((SIZE, SIZE, 4))
    return keras.Model(inputs, layer(inputs))


def test_a_subclass_with_its_own_call_is_refused_until_it_has_a_reader():
    model = _single(_OwnCall(name="odd"))
    with pytest.raises(ValueError, match="register_gate_reader"):
        recalibration_modules(model)
    register_gate_reader(_OwnCall, lambda layer, x: _constant(x, 0.25))
    try:
        (stats,) = gate_statistics(model, np.ones((3, SIZE, SIZE, 4), "float32"))
        np.testing.assert_array_equal(stats.mean, 0.25)
    finally:
        del _READERS[_OwnCall]


def test_a_reader_that_does_not_reproduce_its_module_is_caught():
    register_gate_reader(_OwnCall, lambda layer, x: _constant(x, 0.5))
    try:
        with pytest.raises(ValueError, match="does not reproduce the module's output"):
            gate_statistics(_single(_OwnCall(name="odd")), np.ones((3, SIZE, SIZE, 4), "float32"))
    finally:
        del _READERS[_OwnCall]


def test_a_gate_method_is_used_and_an_unknown_layer_is_named():
    images = np.random.default_rng(0).normal(size=(5, SIZE, SIZE, 4)).astype("float32")
    (stats,) = gate_statistics(_single(_WithGate(name="mine")), images)
    np.testing.assert_allclose(stats.mean, _sigmoid(images.mean(axis=(1, 2))).mean(0), rtol=1e-5)
    with pytest.raises(ValueError, match="cannot read the gate of 'relu'.*register_gate_reader"):
        gate_reader(keras.layers.ReLU(name="relu"))


def test_empty_data_and_bad_arguments():
    model = _tiny("srm")
    with pytest.raises(ValueError, match="empty"):
        gate_statistics(model, [])
    with pytest.raises(ValueError, match="batch_size"):
        gate_statistics(model, np.ones((2, SIZE, SIZE, 32), "float32"), batch_size=0)
