"""``weights=`` of the model constructors accepts PyTorch checkpoints."""

import numpy as np
import pytest

import srm_keras
from srm_keras.weights import save_torch_state_dict
from tests.weights.helpers import images, outputs, randomize


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_constructor_loads_a_pytorch_checkpoint(tmp_path, suffix):
    if suffix == ".pth":
        pytest.importorskip("torch")
    source = randomize(srm_keras.SEResNet20(input_shape=(16, 16, 3)), seed=7)
    path = save_torch_state_dict(source, tmp_path / f"se_resnet20{suffix}")
    model = srm_keras.SEResNet20(weights=path, input_shape=(16, 16, 3))
    x = images(16)
    np.testing.assert_array_equal(outputs(model, x), outputs(source, x))


def test_constructor_reports_a_mismatched_checkpoint(tmp_path):
    path = save_torch_state_dict(
        srm_keras.ResNet20(input_shape=(16, 16, 3)), tmp_path / "r.safetensors"
    )
    with pytest.raises(ValueError, match="may be a plain ResNet"):
        srm_keras.SRMResNet20(weights=path, input_shape=(16, 16, 3))


def test_decode_predictions_is_exported():
    assert srm_keras.decode_predictions is srm_keras.weights.decode_predictions
