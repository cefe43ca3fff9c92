"""Pruning by gates: the copy at 0 and 1, the criteria's choices, the original left alone, the
curve's rows, and the refusals."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from srm_keras.analysis import (
    gate_statistics,
    prune_channels,
    pruned_count,
    pruning_curve,
    residual_blocks,
    select_channels,
)

from .conftest import SIZE, perturbed

BLOCKS = [f"stage{s}_block{b}" for s in (1, 2, 3) for b in (1, 2, 3)]
WIDTHS = [16] * 3 + [32] * 3 + [64] * 3


@pytest.fixture(scope="module")
def srm_model():
    return perturbed("srm", seed=11)


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_residual_blocks_of_the_zoo_resnet(srm_model):
    blocks = residual_blocks(srm_model)
    assert [b.name for b in blocks] == BLOCKS
    assert [b.channels for b in blocks] == WIDTHS
    first = blocks[0]
    assert (first.conv, first.batch_norm, first.module, first.add) == (
        "stage1_block1_conv2",
        "stage1_block1_bn2",
        "stage1_block1_srm",
        "stage1_block1_add",
    )


def test_bottleneck_blocks_with_option_b_shortcuts_are_found():
    from srm_keras.models import resnet

    model = resnet(50, "se", input_shape=(32, 32, 3), classes=10, shortcut="B")
    blocks = residual_blocks(model)
    assert len(blocks) == 16
    assert (blocks[0].conv, blocks[0].batch_norm, blocks[0].channels) == (
        "stage1_block1_conv3",
        "stage1_block1_bn3",
        256,
    )


def test_fraction_zero_is_an_exact_copy(srm_model, digits):
    images, _ = digits
    before = _weights(srm_model)
    pruned = prune_channels(srm_model, 0.0, data=images, criterion="gate")
    assert pruned is not srm_model
    np.testing.assert_array_equal(
        np.asarray(pruned.predict_on_batch(images)), np.asarray(srm_model.predict_on_batch(images))
    )
    for a, b in zip(before, _weights(pruned)):
        np.testing.assert_array_equal(a, b)


def _block_probe(model):
    outputs = []
    for block in residual_blocks(model):
        add = model.get_layer(block.add)
        outputs += [add.input[0], add.input[1], add.output]
    return keras.Model(model.inputs, outputs)


@pytest.mark.parametrize("criterion", ["gate", "bn_scale", "random"])
def test_fraction_one_passes_every_shortcut_through(srm_model, digits, criterion):
    images, _ = digits
    before = _weights(srm_model)
    pruned = prune_channels(srm_model, 1.0, data=images, criterion=criterion, seed=3)
    outputs = _block_probe(pruned).predict_on_batch(images)
    for i in range(0, len(outputs), 3):
        shortcut, branch, added = (np.asarray(o) for o in outputs[i : i + 3])
        assert not np.any(branch)  # exactly 0: silenced BN times a finite gate
        np.testing.assert_array_equal(added, shortcut)
        assert np.any(shortcut)
    # ... and the original keeps every weight.
    for a, b in zip(before, _weights(srm_model)):
        np.testing.assert_array_equal(a, b)


def test_pruned_channels_are_silent_and_the_others_untouched(srm_model, digits):
    images, _ = digits
    chosen = select_channels(srm_model, 0.25, criterion="random", seed=1)
    pruned = prune_channels(srm_model, 0.25, criterion="random", seed=1)
    for block in residual_blocks(srm_model):
        kept = np.setdiff1d(np.arange(block.channels), chosen[block.name])
        assert len(chosen[block.name]) == block.channels // 4
        for name in (block.conv, block.batch_norm):
            for old, new in zip(
                srm_model.get_layer(name).get_weights(), pruned.get_layer(name).get_weights()
            ):
                np.testing.assert_array_equal(old[..., kept], new[..., kept])
        new_bn = pruned.get_layer(block.batch_norm)
        assert not np.any(np.asarray(new_bn.gamma)[chosen[block.name]])
        assert not np.any(np.asarray(new_bn.beta)[chosen[block.name]])
        assert not np.any(np.asarray(pruned.get_layer(block.conv).kernel)[..., chosen[block.name]])
    outputs = _block_probe(pruned).predict_on_batch(images)
    for i, block in zip(range(0, len(outputs), 3), residual_blocks(pruned)):
        branch = np.asarray(outputs[i + 1])
        assert not np.any(branch[..., chosen[block.name]])


def test_random_is_seeded_and_nested(srm_model):
    a = select_channels(srm_model, 0.3, criterion="random", seed=5)
    b = select_channels(srm_model, 0.3, criterion="random", seed=5)
    c = select_channels(srm_model, 0.3, criterion="random", seed=6)
    larger = select_channels(srm_model, 0.6, criterion="random", seed=5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert all(set(a[k]) <= set(larger[k]) for k in a)
    assert (
        [len(a[k]) for k in BLOCKS]
        == [pruned_count(0.3, w) for w in WIDTHS]
        == [4] * 3 + [9] * 3 + [19] * 3
    )


def _known_gates(model, seed=0):
    """Give every SRM a gate of sigmoid(beta_c) whatever the input (CFC 0, BN mean 0, variance
    1 - epsilon, gamma 1): known, distinct per-channel means. Returns module -> gate means."""
    rng = np.random.default_rng(seed)
    means = {}
    for block in residual_blocks(model):
        module = model.get_layer(block.module)
        module.cfc.assign(np.zeros(module.cfc.shape, "float32"))
        bn = module.bn
        beta = rng.permutation(block.channels).astype("float32") / block.channels - 0.5
        bn.beta.assign(beta)
        bn.gamma.assign(np.ones_like(beta))
        bn.moving_mean.assign(np.zeros_like(beta))
        bn.moving_variance.assign(np.full_like(beta, 1 - bn.epsilon))
        means[block.module] = 1 / (1 + np.exp(-beta.astype(np.float64)))
    return means


def test_gate_prunes_the_channels_of_smallest_mean_gate(digits):
    images, _ = digits
    model = perturbed("srm", seed=12)
    means = _known_gates(model)
    statistics = gate_statistics(model, images)
    for stats in statistics:
        np.testing.assert_allclose(stats.mean, means[stats.name], rtol=1e-6)
        np.testing.assert_allclose(stats.std, 0, atol=1e-7)
    chosen = select_channels(model, 0.5, data=images, criterion="gate")
    for block in residual_blocks(model):
        expected = np.argsort(means[block.module])[: block.channels // 2]
        np.testing.assert_array_equal(chosen[block.name], np.sort(expected))
    # Precomputed statistics give the same choice without reading the data again.
    again = select_channels(model, 0.5, criterion="gate", statistics=statistics)
    assert all(np.array_equal(chosen[k], again[k]) for k in chosen)


def test_bn_scale_prunes_the_smallest_gammas():
    from srm_keras.models import resnet

    model = resnet(20, None, input_shape=(SIZE, SIZE, 3))
    rng = np.random.default_rng(0)
    gammas = {}
    for block in residual_blocks(model):
        gamma = rng.normal(size=block.channels).astype("float32")
        model.get_layer(block.batch_norm).gamma.assign(gamma)
        gammas[block.name] = np.abs(gamma)
    chosen = select_channels(model, 0.2, criterion="bn_scale")
    for block in residual_blocks(model):
        k = pruned_count(0.2, block.channels)
        expected = np.sort(np.argsort(gammas[block.name])[:k])
        np.testing.assert_array_equal(chosen[block.name], expected)


def test_refusals(srm_model, digits):
    from srm_keras.models import resnet

    plain = resnet(20, None, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="criterion 'gate'.*bn_scale"):
        prune_channels(plain, 0.1, data=digits[0], criterion="gate")
    with pytest.raises(ValueError, match="unknown criterion 'l1'"):
        prune_channels(srm_model, 0.1, criterion="l1")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prune_channels(srm_model, 1.5, criterion="random")
    with pytest.raises(ValueError, match="needs data="):
        prune_channels(srm_model, 0.1, criterion="gate")
    inputs = keras.Input((SIZE, SIZE, 3))
    concatenated = keras.layers.Concatenate()([inputs, keras.layers.Conv2D(4, 1)(inputs)])
    with pytest.raises(ValueError, match="DenseNets are out of scope"):
        prune_channels(keras.Model(inputs, concatenated), 0.1, criterion="random")


def test_pruned_count_is_the_floor():
    assert [pruned_count(f, 10) for f in (0, 0.1, 0.29, 0.3, 0.7, 1)] == [0, 1, 2, 3, 7, 10]
    assert pruned_count(0.29, 100) == 29  # 0.29 * 100 is 28.999999999999996 in binary


def test_pruning_curve_rows(srm_model, digits):
    from srm_keras.models import resnet

    images, labels = digits
    data = [(images[i : i + 64], labels[i : i + 64]) for i in range(0, len(images), 64)]
    plain = resnet(20, None, input_shape=(SIZE, SIZE, 3))
    rows = pruning_curve(
        {"srm": srm_model, "plain": plain}, [0, 0.5, 1], data, criteria=["gate", "random"]
    )
    keys = [(r["model"], r["criterion"], r["fraction"]) for r in rows]
    assert keys == [
        ("srm", "gate", 0.0),
        ("srm", "gate", 0.5),
        ("srm", "gate", 1.0),
        ("srm", "random", 0.0),
        ("srm", "random", 0.5),
        ("srm", "random", 1.0),
        ("plain", "random", 0.0),  # a plain network has no gates: 'gate' is skipped
        ("plain", "random", 0.5),
        ("plain", "random", 1.0),
    ]
    srm = [r for r in rows if r["model"] == "srm"]
    assert {r["channels"] for r in rows} == {336}
    assert [r["pruned_channels"] for r in srm[:3]] == [0, 3 * (8 + 16 + 32), 336]
    assert all(r["num_examples"] == len(images) for r in rows)
    # At 0 every criterion is the unpruned model; at 1 every criterion is the same network.
    assert srm[0]["accuracy"] == srm[3]["accuracy"]
    assert srm[2]["accuracy"] == srm[5]["accuracy"]
    expected = np.mean(np.argmax(srm_model.predict_on_batch(images), axis=-1) == labels)
    assert srm[0]["accuracy"] == pytest.approx(expected)


def test_a_densenet_has_gates_but_is_not_pruned(digits):
    import srm_keras

    model = srm_keras.create_model("srm_densenet40", input_shape=(SIZE, SIZE, 3))
    statistics = gate_statistics(model, digits[0][:16])
    assert len(statistics) == 36  # 3 dense blocks of 12 layers, a module on each one's new maps
    assert (statistics[0].block, statistics[-1].block) == ("block1_layer1", "block3_layer12")
    assert {s.channels for s in statistics} == {12}  # the growth rate
    with pytest.raises(ValueError, match="DenseNets are out of scope"):
        prune_channels(model, 0.1, criterion="random")
