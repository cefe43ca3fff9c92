"""Checkpoint dtypes: floating tensors load (cast); other dtypes and NaN/inf are refused."""

import logging

import keras
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

from srm_keras.weights import export_torch_state_dict, load_torch_state_dict
from tests.weights.helpers import images, outputs, randomize

KERNEL = "layer1.0.conv1.weight"  # (16, 16, 3, 3): 2304 values
REFUSED = "Wrong dtypes or non-finite values"


@pytest.fixture
def model(cached_model):
    return cached_model(20, "srm", 16, tag="dtypes")


@pytest.fixture
def state(cached_model):
    return export_torch_state_dict(randomize(cached_model(20, "srm", 16, tag="source"), seed=5))


def _save(state, tmp_path) -> str:
    path = str(tmp_path / "checkpoint.safetensors")
    save_file(state, path)
    return path


def _refusal(model, source) -> str:
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(model, source)
    return str(error.value)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_integer_and_bool_tensors_are_refused(model, state, tmp_path, dtype):
    # Values a cast would have turned into plausible-looking floats.
    state[KERNEL] = (state[KERNEL] > 0) if dtype == "bool" else (state[KERNEL] * 50).astype(dtype)
    message = _refusal(model, _save(state, tmp_path))
    assert "1 problems" in message
    assert (
        f"{REFUSED} (1):\n  {KERNEL}: dtype {dtype}, not float16, bfloat16, float32 or float64 "
        "(for stage1_block1_conv1/kernel)"
    ) in message


def test_complex64_pth_tensor_is_refused(model, state, tmp_path):
    torch = pytest.importorskip("torch")
    state[KERNEL] = state[KERNEL].astype(np.complex64)
    path = tmp_path / "checkpoint.pth"
    torch.save({name: torch.from_numpy(value) for name, value in state.items()}, path)
    message = _refusal(model, path)
    assert f"  {KERNEL}: dtype complex64, not float16" in message


def test_nan_tensor_is_refused(model, state, tmp_path):
    state[KERNEL][0, 0, :2, 0] = np.nan
    message = _refusal(model, _save(state, tmp_path))
    assert f"{REFUSED} (1):\n  {KERNEL}: 2 NaN in 2304 values (for stage1_block1_conv1/kernel)" in (
        message
    )
    assert "training run that diverged" in message


def test_inf_tensor_is_refused(model, state, tmp_path):
    state["layer2.1.rclb.cfc"][0, 0] = np.inf
    state["layer2.1.rclb.cfc"][1, 1] = -np.inf
    message = _refusal(model, _save(state, tmp_path))
    assert f"{REFUSED} (1):\n  layer2.1.rclb.cfc: 2 inf in 64 values" in message


def test_dtype_and_shape_problems_in_one_error_and_nothing_assigned(model, state):
    load_torch_state_dict(model, state)
    before = [np.array(v.value) for v in model.weights]
    broken = {k: (v + 1 if v.dtype == np.float32 else v) for k, v in state.items()}
    broken["conv1.weight"] = broken["conv1.weight"][:, :1]
    broken[KERNEL] = broken[KERNEL].astype(np.int32)
    broken["layer3.0.bn1.running_var"][3] = np.nan
    message = _refusal(model, broken)
    assert "3 problems" in message
    assert "Shape mismatches (1):\n  conv1.weight: checkpoint (16, 1, 3, 3)" in message
    assert f"{REFUSED} (2):\n  {KERNEL}: dtype int32" in message
    assert "  layer3.0.bn1.running_var: 1 NaN in 64 values" in message
    for old, variable in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, np.array(variable.value))


def test_non_strict_leaves_refused_tensors_out(model, state, caplog):
    load_torch_state_dict(model, state)
    kernel = np.array(model.get_layer("stage1_block1_conv1").kernel.value)
    state[KERNEL] = np.full_like(state[KERNEL], np.nan)
    with caplog.at_level(logging.WARNING, logger="srm_keras.weights.convert"):
        report = load_torch_state_dict(model, state, strict=False)
    assert not report.ok and KERNEL not in report.loaded
    assert report.refused == [f"{KERNEL}: 2304 NaN in 2304 values (for stage1_block1_conv1/kernel)"]
    assert "1 tensors refused (dtype or non-finite values)" in caplog.text
    np.testing.assert_array_equal(model.get_layer("stage1_block1_conv1").kernel.value, kernel)


def test_skipped_integer_tensors_are_not_refused(cached_model, state, tmp_path):
    # num_batches_tracked is int64 in every torchvision checkpoint; a skipped classifier is unused.
    assert state["layer1.0.bn1.num_batches_tracked"].dtype == np.int64
    state["fc.weight"] = state["fc.weight"].astype(np.int32)
    model = cached_model(20, "srm", 16, classes=7)
    report = load_torch_state_dict(model, _save(state, tmp_path), replace_head=True)
    assert report.ok and "fc.weight" in report.skipped


@pytest.fixture(scope="module")
def float32_reference(cached_model):
    """(state, images, float32 logits, first-order sensitivity of each logit to rounding)."""
    model = randomize(cached_model(20, "srm", 16, tag="dtypes"), seed=6)
    state = export_torch_state_dict(model)
    x = images(16)
    return state, x, outputs(model, x), _rounding_sensitivity(model, x)


def _rounding_sensitivity(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """``S_k = sum_i |w_i * d logit_k / d w_i|`` over every weight, statistics included.

    Rounding each weight with relative error at most ``u`` (w_i -> w_i (1 + e_i), |e_i| <= u)
    changes logit k by at most ``u * S_k`` to first order. The layouts only transpose, so a
    checkpoint tensor's rounding is the rounding of its variable's elements.
    """
    variables = [v.value for v in model.weights]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(variables)
        logits = tf.reshape(model(x, training=False), [-1])
        entries = [logits[i] for i in range(logits.shape[0])]
    sensitivity = []
    for entry in entries:
        gradients = tape.gradient(entry, variables)
        sensitivity.append(
            sum(float(tf.reduce_sum(tf.abs(g * w))) for g, w in zip(gradients, variables))
        )
    return np.reshape(sensitivity, (len(x), -1))  # (N, classes)


def _floats_as(state, dtype):
    """The state with its weights in ``dtype`` (``num_batches_tracked`` stays int64)."""
    return {k: (v if v.dtype == np.int64 else v.astype(dtype)) for k, v in state.items()}


# dtype -> unit roundoff of a float32 value stored in it (round to nearest).
ROUNDOFF = {
    "float16": 2.0**-11,  # 11 significant bits
    "bfloat16": 2.0**-8,  # 8 significant bits
    "float64": 0.0,  # holds every float32 exactly, and the cast back to float32 is exact
}


@pytest.mark.parametrize("dtype", list(ROUNDOFF))
def test_floating_checkpoints_load_like_float32(model, float32_reference, tmp_path, dtype):
    state, x, expected, sensitivity = float32_reference
    stored = _floats_as(state, ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)
    assert load_torch_state_dict(model, _save(stored, tmp_path)).ok
    actual = outputs(model, x)
    # The cast is the only change: the logits are those of the rounded values given as float32.
    load_torch_state_dict(model, _floats_as(stored, np.float32))
    np.testing.assert_array_equal(actual, outputs(model, x))
    # First-order bound u * S_k, doubled: the second-order terms are smaller by about u times the
    # depth (20 * 2^-8 < 10% for bfloat16), and float32 evaluation rounds each product with
    # relative error 2^-24, which the same sum bounds at least 2^13 times more tightly.
    bound = 2 * ROUNDOFF[dtype] * sensitivity
    assert np.all(np.abs(actual - expected) <= bound), np.max(np.abs(actual - expected) / bound)
    if ROUNDOFF[dtype]:
        assert np.any(actual != expected)  # the checkpoint really was rounded
