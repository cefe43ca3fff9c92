"""DenseNets in torchvision's names: Keras -> PyTorch-layout dict -> Keras, names and shapes,
legacy names, strict errors, skipped heads, ``weights=`` and ``srm-keras convert``. No PyTorch
needed (the checkpoints are numpy dicts and .safetensors files)."""

import argparse
import warnings

import keras
import numpy as np
import pytest

import srm_keras
from srm_keras.cli import convert
from srm_keras.weights import (
    HeadMismatchWarning,
    export_torch_state_dict,
    load_torch_state_dict,
    save_torch_state_dict,
)
from tests.weights.helpers import images, outputs, randomize

# Every (layout, module) pair a layout can hold in a dense layer.
SUPPORTED = [
    ("torchvision", None),
    ("torchvision", "ge_minus"),
    ("timm", None),
    ("timm", "se"),
    ("srm_reference", None),
    ("srm_reference", "srm"),
    ("srm_reference", "se"),
    ("srm_reference", "ge"),
]


def build(key, module=None, size=8, **kwargs):
    kwargs.setdefault("classifier_activation", None)
    return srm_keras.densenet(key, module, input_shape=(size, size, 3), **kwargs)


def _round_trip(layout, source, target, x):
    state = export_torch_state_dict(source, layout=layout)
    report = load_torch_state_dict(target, state, layout=layout)
    assert report.ok and report.layout == layout
    assert sorted(report.loaded) == sorted(k for k in state if not k.endswith("batches_tracked"))
    for a, b in zip(source.weights, target.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value), err_msg=a.path)
    np.testing.assert_array_equal(outputs(source, x), outputs(target, x))


@pytest.mark.parametrize("layout,module", SUPPORTED)
def test_densenet_bc_round_trip(layout, module):
    source = randomize(build("bc100", module), seed=1)
    _round_trip(layout, source, build("bc100", module), images(8))


def test_basic_dense_layers_round_trip():
    source = randomize(build(40, "srm"), seed=2)
    state = export_torch_state_dict(source)
    # Without bottleneck a dense layer has one convolution, its 3x3, named conv1.
    assert state["features.denseblock1.denselayer1.conv1.weight"].shape == (12, 16, 3, 3)
    assert not any(".conv2." in name for name in state)
    _round_trip("srm_reference", source, build(40, "srm"), images(8))


def test_imagenet_names_and_shapes_follow_torchvision():
    model = build(121, "srm", size=32, classifier_activation="softmax")
    state = export_torch_state_dict(model)
    expected = {
        "features.conv0.weight": (64, 3, 7, 7),
        "features.norm0.running_var": (64,),
        "features.denseblock1.denselayer1.norm1.weight": (64,),
        "features.denseblock1.denselayer1.conv1.weight": (128, 64, 1, 1),
        "features.denseblock1.denselayer1.norm2.bias": (128,),
        "features.denseblock1.denselayer1.conv2.weight": (32, 128, 3, 3),
        "features.denseblock1.denselayer6.rclb.cfc": (32, 2),
        "features.transition1.norm.weight": (256,),
        "features.transition1.conv.weight": (128, 256, 1, 1),
        "features.transition3.conv.weight": (512, 1024, 1, 1),
        "features.denseblock4.denselayer16.conv1.weight": (128, 992, 1, 1),
        "features.denseblock4.denselayer16.rclb.bn.running_mean": (32,),
        "features.norm5.weight": (1024,),
        "classifier.weight": (1000, 1024),
        "classifier.bias": (1000,),
    }
    for name, shape in expected.items():
        assert state[name].shape == shape, name
    assert state["features.norm5.num_batches_tracked"].dtype == np.int64
    # 121 = 1 stem conv + 2 x 58 dense-layer convs + 3 transition convs + the classifier.
    assert (
        sum(name.endswith("conv1.weight") or name.endswith("conv2.weight") for name in state) == 116
    )
    kernel = np.asarray(model.get_layer("block2_layer3_conv2").kernel.value)  # (3, 3, 128, 32)
    conv = state["features.denseblock2.denselayer3.conv2.weight"]
    np.testing.assert_array_equal(conv[5, 7], kernel[:, :, 7, 5])


def test_torchvision_download_names_load():
    """torchvision's own ImageNet files spell dense-layer tensors ``norm.1``, ``conv.2``."""
    source = randomize(build("bc100"), seed=3)
    state = export_torch_state_dict(source)
    legacy = {}
    for name, value in state.items():
        for part in ("norm1", "norm2", "conv1", "conv2"):
            name = name.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        legacy[name] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    target = build("bc100")
    assert load_torch_state_dict(target, legacy).ok
    np.testing.assert_array_equal(outputs(target, images(8)), outputs(source, images(8)))


def test_mismatches_are_one_error_and_nothing_is_assigned():
    state = export_torch_state_dict(randomize(build("bc100"), seed=4))
    del state["features.norm5.running_mean"]
    model = build(40)
    before = [np.array(v.value) for v in model.weights]
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(model, state)
    message = str(error.value)
    assert message.startswith("Cannot load the state dict into model 'densenet40'")
    for title in ("Missing from the checkpoint", "In the checkpoint but not in the model"):
        assert title in message
    assert "Shape mismatches" in message
    assert "features.norm5.running_mean (for " in message
    assert "features.conv0.weight: checkpoint (24, 3, 3, 3), model expects (16, 3, 3, 3)" in message
    assert "features.denseblock3.denselayer16.conv2.weight" in message  # unused: 16 layers
    for a, b in zip(before, model.weights):
        np.testing.assert_array_equal(a, np.asarray(b.value))


def test_a_resnet_checkpoint_is_named_as_such():
    resnet_state = export_torch_state_dict(srm_keras.resnet(20, input_shape=(8, 8, 3)))
    with pytest.raises(ValueError, match="holds a ResNet and the model is a DenseNet"):
        load_torch_state_dict(build("bc100"), resnet_state)
    with pytest.raises(ValueError, match="holds a DenseNet and the model is a ResNet"):
        load_torch_state_dict(
            srm_keras.resnet(20, input_shape=(8, 8, 3)), export_torch_state_dict(build(40))
        )


def test_heads_that_do_not_fit_are_skipped():
    source = randomize(build("bc100"), seed=5)
    state = export_torch_state_dict(source)
    headless = build("bc100", include_top=False)
    report = load_torch_state_dict(headless, state)
    assert report.ok and sorted(report.skipped) == ["classifier.bias", "classifier.weight"]
    x = images(8)
    features = source.get_layer("final_relu").output
    np.testing.assert_array_equal(
        outputs(keras.Model(source.input, features), x), outputs(headless, x)
    )
    with pytest.warns(HeadMismatchWarning, match="classifier.weight"):
        load_torch_state_dict(build("bc100", classes=7), state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = load_torch_state_dict(build("bc100", classes=7), state, replace_head=True)
    assert report.head is not None and "classifier.bias" in report.skipped


def test_constructor_weights_and_the_convert_command(tmp_path, capsys):
    source = randomize(build("bc100", "se", size=16), seed=6)
    path = save_torch_state_dict(source, tmp_path / "se_densenet_bc100.safetensors")
    model = srm_keras.SEDenseNetBC100(
        weights=path, input_shape=(16, 16, 3), classifier_activation=None
    )
    x = images(16)
    np.testing.assert_array_equal(outputs(model, x), outputs(source, x))

    parser = argparse.ArgumentParser()
    convert.register(parser.add_subparsers(dest="command", required=True))
    output = tmp_path / "se_densenet_bc100.keras"
    argv = ["convert", path, "--model", "se_densenet_bc100", "--input-size", "16"]
    args = parser.parse_args([*argv, "--output", str(output)])
    assert args.func(args) == 0
    assert "(timm layout)" in capsys.readouterr().out
    converted = keras.models.load_model(output)
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(outputs(source, x)))
    np.testing.assert_allclose(outputs(converted, x), probs, atol=1e-6)
