"""Keras -> PyTorch-layout dict -> fresh Keras model gives the same weights and outputs."""

import keras
import numpy as np
import pytest

from srm_keras.preprocessing import normalization_layer
from srm_keras.weights import export_torch_state_dict, load_torch_state_dict
from tests.weights.helpers import build, images, outputs, randomize

# Every (layout, module) pair a layout can hold. GE-θ⁻ has no weights, so every layout holds it.
SUPPORTED = [
    ("torchvision", None),
    ("torchvision", "ge_minus"),
    ("timm", None),
    ("timm", "se"),
    ("timm", "ge_minus"),
    ("srm_reference", None),
    ("srm_reference", "srm"),
    ("srm_reference", "se"),
    ("srm_reference", "ge"),
    ("srm_reference", "ge_minus"),
]
UNSUPPORTED = [
    ("torchvision", "srm"),
    ("torchvision", "se"),
    ("torchvision", "ge"),
    ("timm", "srm"),
    ("timm", "ge"),
    ("srm_reference", "ge_extent8"),
    ("srm_reference", "ge_plus"),
    ("timm", "ge_plus"),
]


def _round_trip(layout, source, target, x):
    state = export_torch_state_dict(source, layout=layout)
    report = load_torch_state_dict(target, state, layout=layout)
    assert report.ok and report.layout == layout
    assert sorted(report.loaded) == sorted(
        k for k in state if not k.endswith("num_batches_tracked")
    )
    for a, b in zip(source.weights, target.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value), err_msg=a.path)
    np.testing.assert_array_equal(outputs(source, x), outputs(target, x))


@pytest.mark.parametrize("layout,module", SUPPORTED)
def test_cifar_round_trip(layout, module):
    # Option-B shortcuts, so that downsample.0/1 are part of the trip.
    source = randomize(build(20, module, size=16, shortcut="B"), seed=1)
    target = build(20, module, size=16, shortcut="B")
    _round_trip(layout, source, target, images(16))


@pytest.mark.parametrize(
    "layout,module",
    [("torchvision", None), ("timm", "se"), ("srm_reference", "srm"), ("srm_reference", "ge")],
)
def test_imagenet_round_trip(cached_model, layout, module):
    source = randomize(cached_model(18, module, 64, tag="source"), seed=2)
    _round_trip(layout, source, cached_model(18, module, 64, tag="target"), images(64))


def test_option_a_shortcut_has_no_tensors():
    state = export_torch_state_dict(build(20, "srm", size=16))
    assert not any("downsample" in name for name in state)
    assert "layer2.0.rclb.cfc" in state and "layer3.2.rclb.bn.running_var" in state


@pytest.mark.parametrize("layout,module", UNSUPPORTED)
def test_layout_without_the_module_is_a_clear_error(layout, module):
    model = build(20, module, size=16)
    with pytest.raises(ValueError, match=r"no counterpart|GE variant") as error:
        export_torch_state_dict(model, layout=layout)
    assert "stage1_block1_" in str(error.value)
    with pytest.raises(ValueError, match=r"no counterpart|GE variant"):
        load_torch_state_dict(model, {}, layout=layout)


def test_export_names_and_shapes_follow_pytorch(cached_model):
    model = cached_model(50, "srm", 64)
    state = export_torch_state_dict(model)
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer1.0.conv1.weight"].shape == (64, 64, 1, 1)
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer4.2.rclb.cfc"].shape == (2048, 2)
    assert state["fc.weight"].shape == (1000, 2048)
    assert state["bn1.num_batches_tracked"].dtype == np.int64
    kernel = np.asarray(model.get_layer("stage2_block1_conv2").kernel.value)  # (3, 3, 128, 128)
    np.testing.assert_array_equal(state["layer2.0.conv2.weight"][5, 7], kernel[:, :, 7, 5])


def test_model_wrapped_with_input_normalisation(cached_model):
    source = randomize(cached_model(20, "srm", 16, tag="source"), seed=5)
    inner = build(20, "srm", size=16)
    raw = keras.Input((16, 16, 3))
    wrapped = keras.Model(raw, inner(normalization_layer()(raw)))
    assert load_torch_state_dict(wrapped, export_torch_state_dict(source)).ok
    np.testing.assert_array_equal(outputs(inner, images(16)), outputs(source, images(16)))
