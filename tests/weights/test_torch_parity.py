"""Converted models give the logits of torch.nn references with random weights and statistics."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from srm_keras.weights import export_torch_state_dict, load_torch_state_dict  # noqa: E402
from tests.weights import torch_models  # noqa: E402
from tests.weights.helpers import images, outputs, randomize  # noqa: E402

TOLERANCE = 1e-4

# (depth, module, checkpoint style, input size, file format)
CASES = [
    (18, None, "torchvision", 64, ".pth"),
    (50, None, "torchvision", 64, ".safetensors"),
    (50, "se", "timm", 64, ".safetensors"),
    (50, "srm", "srm_reference", 64, ".pth"),
    (18, "se", "srm_reference", 64, ".safetensors"),
    (18, "ge", "srm_reference", 64, ".safetensors"),
    (20, "srm", "srm_reference", 32, ".safetensors"),
    (20, "ge", "srm_reference", 32, ".pth"),
]


def _reference(depth, module, style, size, seed):
    cifar = depth == 20
    net = torch_models.ResNet(
        depth,
        module,
        style,
        classes=10 if cifar else 1000,
        input_size=size,
        shortcut="A" if cifar else "B",
    )
    return torch_models.randomize(net, seed=seed)


def _assert_same_logits(actual, expected):
    # The logits must be far above the tolerance for the comparison to mean something.
    assert np.abs(expected).max() > 1000 * TOLERANCE
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("depth,module,style,size,suffix", CASES)
def test_pytorch_checkpoint_gives_the_same_logits(
    cached_model, tmp_path, depth, module, style, size, suffix
):
    reference = _reference(depth, module, style, size, seed=depth)
    path = tmp_path / f"checkpoint{suffix}"
    if suffix == ".pth":
        torch.save(reference.state_dict(), path)
    else:
        safetensors_torch.save_file(reference.state_dict(), str(path))
    model = cached_model(depth, module, size)
    report = load_torch_state_dict(model, path)  # layout detected from the names
    assert report.layout == style and report.ok
    x = images(size)
    _assert_same_logits(outputs(model, x), torch_models.logits(reference, x))


@pytest.mark.parametrize("depth,module,style,size,suffix", CASES)
def test_exported_weights_give_pytorch_the_same_logits(
    cached_model, depth, module, style, size, suffix
):
    model = randomize(cached_model(depth, module, size), seed=3)
    state = export_torch_state_dict(model, layout=style)
    reference = _reference(depth, module, style, size, seed=0)
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = images(size, seed=1)
    _assert_same_logits(torch_models.logits(reference.eval(), x), outputs(model, x))


def test_bfloat16_checkpoint_is_widened(cached_model, tmp_path):
    reference = _reference(20, None, "torchvision", 32, seed=5)
    state = {
        k: (v.to(torch.bfloat16) if v.is_floating_point() else v)
        for k, v in reference.state_dict().items()
    }
    torch.save(state, tmp_path / "half.pt")
    model = cached_model(20, None, 32)
    load_torch_state_dict(model, tmp_path / "half.pt")
    kernel = np.asarray(model.get_layer("stem_conv").kernel.value)
    expected = state["conv1.weight"].float().numpy().transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(kernel, expected)


def test_training_checkpoint_is_unwrapped(cached_model, tmp_path):
    reference = _reference(20, "srm", "srm_reference", 32, seed=6)
    wrapped = {f"module.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"epoch": 90, "arch": "srm_resnet20", "state_dict": wrapped}, tmp_path / "ckpt.pth")
    model = cached_model(20, "srm", 32)
    assert load_torch_state_dict(model, tmp_path / "ckpt.pth").ok
    x = images(32)
    _assert_same_logits(outputs(model, x), torch_models.logits(reference, x))
