"""Coupled L2 weight decay: every weight but the SRM parameters, as wd/2 * ||w||^2 in the loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import srm_keras
from srm_keras.layers import StyleRecalibration
from srm_keras.training import apply_weight_decay, decayed_variables, exempt_variables


def tiny(name: str) -> keras.Model:
    return srm_keras.create_model(name, input_shape=(16, 16, 3), classes=4)


def srm_layer_variables(model: keras.Model) -> set[int]:
    found = set()
    for layer in model.layers:
        if isinstance(layer, StyleRecalibration):
            found |= {id(v) for v in layer.trainable_variables}
    return found


def test_decay_covers_every_weight_except_the_srm_parameters():
    model = tiny("srm_resnet20")
    decayed = apply_weight_decay(model, 1e-4)
    srm = srm_layer_variables(model)
    assert len(srm) == 9 * 3  # nine blocks, each: CFC (C, 2), BN gamma, BN beta
    decayed_ids = {id(v) for v in decayed}
    assert decayed_ids.isdisjoint(srm)
    assert decayed_ids | srm == {id(v) for v in model.trainable_variables}
    assert {id(v) for v in exempt_variables(model)} == srm
    # Kernels, BN gammas and betas, and the classifier's bias are all among them.
    kinds = {v.path.rsplit("/", 1)[-1] for v in decayed}
    assert {"kernel", "gamma", "beta", "bias"} <= kinds
    logits = model.get_layer("logits")
    assert {id(logits.kernel), id(logits.bias)} <= decayed_ids
    for variable in model.trainable_variables:
        has_l2 = variable.regularizer is not None
        assert has_l2 == (id(variable) in decayed_ids), variable.path


def test_the_l2_term_is_half_wd_times_the_squared_norm():
    model = tiny("srm_resnet20")
    # Give the (zero-initialised) SRM weights values, so that leaving them out is visible.
    for layer in model.layers:
        if isinstance(layer, StyleRecalibration):
            for variable in layer.trainable_variables:
                variable.assign(np.full(variable.shape, 3.0, "float32"))
    wd = 1e-4
    apply_weight_decay(model, wd)
    expected = wd / 2 * sum(float(np.sum(np.square(v.numpy()))) for v in decayed_variables(model))
    got = float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))
    assert got == pytest.approx(expected, rel=1e-5)
    everything = (
        wd / 2 * sum(float(np.sum(np.square(v.numpy()))) for v in model.trainable_variables)
    )
    assert got < everything  # the SRM parameters are not in it


def test_its_gradient_is_pytorchs_coupled_decay():
    # d/dw (wd/2 * ||w||^2) = wd * w: PyTorch SGD's `grad += weight_decay * w`.
    model = tiny("resnet20")
    wd = 1e-4
    variables = apply_weight_decay(model, wd)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        total = tf.add_n(model.losses)
    grads = tape.gradient(total, [v.value for v in variables])
    for variable, grad in zip(variables, grads):
        np.testing.assert_allclose(grad.numpy(), wd * variable.numpy(), rtol=1e-5, atol=1e-12)


def test_modules_without_the_exemption_are_decayed():
    model = tiny("se_resnet20")
    decayed = apply_weight_decay(model, 1e-4)
    assert len(decayed) == len(model.trainable_variables)
    assert exempt_variables(model) == []


def test_zero_decay_adds_nothing_and_negative_is_refused():
    model = tiny("srm_resnet20")
    apply_weight_decay(model, 1e-4)
    assert apply_weight_decay(model, 0.0) == []
    assert model.losses == []
    with pytest.raises(ValueError, match="weight_decay"):
        apply_weight_decay(model, -1.0)
