"""Converted DenseNets give the logits of torchvision-structured torch.nn references, both ways,
with random weights and batch-norm statistics."""

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import srm_keras  # noqa: E402
from srm_keras.weights import export_torch_state_dict, load_torch_state_dict  # noqa: E402
from tests.weights import torch_models  # noqa: E402
from tests.weights.helpers import images, outputs, randomize  # noqa: E402
from tests.weights.torch_densenet import DenseNet  # noqa: E402

# (variant, module, checkpoint style, input size, file format)
CASES = [
    ("121", None, "torchvision", 64, ".pth"),
    ("40", None, "torchvision", 32, ".safetensors"),
    ("bc100", None, "torchvision", 32, ".pth"),
    ("bc100", "srm", "srm_reference", 32, ".safetensors"),
    # SE on k = 32 maps: its hidden width is 2 (k = 12 gives 12 // 16 = 0, which srm_keras
    # raises to 1 and the references do not).
    ("121", "se", "timm", 32, ".pth"),
    ("bc100", "ge", "srm_reference", 32, ".safetensors"),
]


def _tolerance(expected: np.ndarray, module) -> float:
    # Both sides compute in float32, with the same operations summed in other orders (Keras and
    # PyTorch convolution kernels, batch norm folded or not): each rounding is within one eps
    # relative to what it rounds, and the batch norms keep activations near 1 all the way, so
    # the logits differ by a few float32 ulps of their size (measured: at most 4 ulps, 3.6e-7,
    # through DenseNet-121). 64 ulps leaves room for other kernels; a wrong transpose or name
    # mapping changes the logits by their own size.
    tolerance = 64 * np.finfo(np.float32).eps * np.abs(expected).max()
    if module == "srm":
        # The SRM release takes the standard deviation without epsilon; srm_keras adds 1e-5
        # inside the square root (measured effect on these logits: 1.8e-6).
        tolerance += 2e-5
    return tolerance


def _assert_same_logits(actual, expected, module):
    assert np.abs(expected).max() > 0.1  # logits of the size the tolerance is relative to
    np.testing.assert_allclose(actual, expected, rtol=0, atol=_tolerance(expected, module))


def _reference(variant, module, style, size, seed):
    classes = 1000 if variant == "121" else 10
    net = DenseNet(variant, module, style, classes=classes, input_size=size)
    return torch_models.randomize(net, seed=seed)


def _model(variant, module, size):
    classes = 1000 if variant == "121" else 10
    return srm_keras.densenet(
        variant, module, input_shape=(size, size, 3), classes=classes, classifier_activation=None
    )


def _legacy(state):
    """Names as in torchvision's download files: ``denselayer1.norm.1.weight``."""
    return {
        re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v for k, v in state.items()
    }


@pytest.mark.parametrize("variant,module,style,size,suffix", CASES)
def test_pytorch_checkpoint_gives_the_same_logits(tmp_path, variant, module, style, size, suffix):
    reference = _reference(variant, module, style, size, seed=7)
    state = reference.state_dict()
    if variant == "121":
        state = _legacy(state)
        assert "features.denseblock1.denselayer1.norm.1.weight" in state
    path = tmp_path / f"checkpoint{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        safetensors_torch.save_file(state, str(path))
    model = _model(variant, module, size)
    report = load_torch_state_dict(model, path)  # layout detected from the names
    assert report.layout == style and report.ok
    x = images(size)
    _assert_same_logits(outputs(model, x), torch_models.logits(reference, x), module)


@pytest.mark.parametrize("variant,module,style,size,suffix", CASES)
def test_exported_weights_give_pytorch_the_same_logits(variant, module, style, size, suffix):
    model = randomize(_model(variant, module, size), seed=8)
    state = export_torch_state_dict(model, layout=style)
    reference = _reference(variant, module, style, size, seed=0)
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = images(size, seed=1)
    _assert_same_logits(torch_models.logits(reference.eval(), x), outputs(model, x), module)


def test_reference_counts_are_torchvisions():
    """The reference has torchvision's parameter counts, so its tree is torchvision's."""
    counts = {"121": 7_978_856, "169": 14_149_480, "201": 20_013_928, "161": 28_681_000}
    for variant, count in counts.items():
        assert sum(p.numel() for p in DenseNet(variant).parameters()) == count
