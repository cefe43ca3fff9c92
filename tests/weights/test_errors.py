"""Strict loading: missing, extra and mis-shaped tensors give one clear error; skips are logged."""

import logging
import sys
import warnings

import numpy as np
import pytest

from srm_keras.weights import (
    HeadMismatchWarning,
    export_torch_state_dict,
    load_torch_state_dict,
    read_state_dict,
    save_torch_state_dict,
)
from tests.weights.helpers import randomize


@pytest.fixture
def model(cached_model):
    return cached_model(20, "srm", 16, tag="errors")


@pytest.fixture
def state(cached_model):
    return export_torch_state_dict(randomize(cached_model(20, "srm", 16, tag="source"), seed=4))


def _weights(model):
    return [np.array(v.value) for v in model.weights]


def test_missing_tensor(model, state):
    del state["layer2.1.rclb.cfc"]
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(model, state)
    message = str(error.value)
    assert "1 problems" in message
    assert (
        "Missing from the checkpoint (1):\n  layer2.1.rclb.cfc (for stage2_block2_srm/cfc)"
        in message
    )


def test_extra_tensor(model, state):
    state["layer4.0.conv1.weight"] = np.zeros((8, 8, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"not in the model \(1\):\n  layer4\.0\.conv1\.weight"):
        load_torch_state_dict(model, state)


def test_wrong_shape(model, state):
    state["layer1.0.conv1.weight"] = state["layer1.0.conv1.weight"][:, :, :1, :1]
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(model, state)
    assert (
        "Shape mismatches (1):\n  layer1.0.conv1.weight: checkpoint (16, 16, 1, 1), "
        "model expects (16, 16, 3, 3) (for stage1_block1_conv1/kernel)"
    ) in str(error.value)


def test_all_problems_in_one_error_and_nothing_assigned(model, state):
    load_torch_state_dict(model, state)
    before = _weights(model)
    broken = {k: (v + 1 if v.dtype == np.float32 else v) for k, v in state.items()}
    del broken["conv1.weight"]
    broken["extra.weight"] = np.ones(3, np.float32)
    broken["fc.bias"] = np.ones(11, np.float32)
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(model, broken)
    message = str(error.value)
    assert "3 problems" in message
    assert "  conv1.weight (for stem_conv/kernel)" in message
    assert "  extra.weight" in message
    assert "  fc.bias: checkpoint (11,), model expects (10,)" in message
    for old, new in zip(before, _weights(model), strict=True):
        np.testing.assert_array_equal(old, new)


def test_non_strict_loads_what_matches(model, state, caplog):
    del state["conv1.weight"]
    state["extra.weight"] = np.ones(3, np.float32)
    with caplog.at_level(logging.WARNING, logger="srm_keras.weights.convert"):
        report = load_torch_state_dict(model, state, strict=False)
    assert report.missing == ["conv1.weight (for stem_conv/kernel)"]
    assert report.unexpected == ["extra.weight"]
    assert not report.ok and "layer3.2.rclb.cfc" in report.loaded
    np.testing.assert_array_equal(
        np.asarray(model.get_layer("stage3_block3_srm").cfc.value), state["layer3.2.rclb.cfc"]
    )
    assert "missing from the checkpoint: conv1.weight" in caplog.text


@pytest.mark.parametrize("kwargs", [{"classes": 7}, {"include_top": False}])
def test_classifier_skipped_with_a_log_message(cached_model, state, caplog, kwargs):
    # A new head on purpose (replace_head=True, or no head at all): logged, no warning.
    model = cached_model(20, "srm", 16, **kwargs)
    with caplog.at_level(logging.INFO, logger="srm_keras.weights.convert"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", HeadMismatchWarning)
            report = load_torch_state_dict(model, state, replace_head=True)
    assert report.ok and sorted(report.skipped) == ["fc.bias", "fc.weight"]
    if "classes" in kwargs:
        assert "New classifier, as asked: fc.weight: checkpoint (10, 64), model (7, 64)" in (
            caplog.text
        )
        assert report.head.checkpoint_classes == 10 and report.head.model_classes == 7
    else:
        assert "Classifier not loaded" in caplog.text and "include_top=False" in caplog.text
        assert report.head is None
    assert "fc.weight" not in export_torch_state_dict(
        cached_model(20, "srm", 16, include_top=False)
    )


def test_unknown_layout(model, state):
    with pytest.raises(
        ValueError, match="Unknown layout 'keras'.*torchvision, timm, srm_reference"
    ):
        load_torch_state_dict(model, state, layout="keras")


def test_ge_at_another_input_size_hints_at_the_size(cached_model):
    state = export_torch_state_dict(cached_model(20, "ge", 16))
    with pytest.raises(
        ValueError, match=r"(?s)rclb\.conv\.0\.weight: checkpoint \(16, 1, 16, 16\).*input size"
    ):
        load_torch_state_dict(cached_model(20, "ge", 32), state)


def test_plain_checkpoint_into_a_module_model_hints_at_the_module(cached_model, model):
    state = export_torch_state_dict(cached_model(20, None, 16))
    with pytest.raises(ValueError, match="(?s)layer1.0.rclb.cfc.*may be a plain ResNet"):
        load_torch_state_dict(model, state)


def test_safetensors_without_torch(model, state, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    path = save_torch_state_dict(model, tmp_path / "srm.safetensors")
    assert sorted(read_state_dict(path)) == sorted(state)
    assert load_torch_state_dict(model, path).ok
    with pytest.raises(ValueError, match="PyTorch is needed to write"):
        save_torch_state_dict(model, tmp_path / "srm.pth")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["srm.safetensors"]  # no partial files
    (tmp_path / "other.pth").write_bytes(b"not read")
    with pytest.raises(ValueError, match="PyTorch is needed to read.*use a .safetensors file"):
        load_torch_state_dict(model, tmp_path / "other.pth")


def test_bad_sources(model, tmp_path):
    with pytest.raises(ValueError, match="Checkpoint file not found"):
        load_torch_state_dict(model, tmp_path / "absent.safetensors")
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="Unsupported checkpoint file"):
        load_torch_state_dict(model, tmp_path / "weights.h5")
    with pytest.raises(ValueError, match="not a state dict.*top-level keys: epoch, optimizer"):
        load_torch_state_dict(model, {"epoch": 3, "optimizer": {"lr": 0.1}})
    with pytest.raises(ValueError, match="source must be a checkpoint path"):
        load_torch_state_dict(model, 42)


def test_nested_mapping_with_data_parallel_prefix(model, state):
    wrapped = {"epoch": 90, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    assert load_torch_state_dict(model, wrapped).ok
    np.testing.assert_array_equal(
        np.asarray(model.get_layer("stage1_block1_srm").cfc.value), state["layer1.0.rclb.cfc"]
    )


@pytest.mark.parametrize("key", ["srm_mean", "srm_mlp"])
def test_srm_ablation_variants_have_no_release_layout(key):
    import srm_keras
    from srm_keras.weights import export_torch_state_dict

    model = srm_keras.create_model(f"{key}_resnet20", input_shape=(8, 8, 3), classes=3)
    with pytest.raises(ValueError, match="SRM ablation variant"):
        export_torch_state_dict(model, layout="srm_reference")
