"""Every depth x module builds; names, options and errors of the builders."""

import keras
import numpy as np
import pytest

import srm_keras
from srm_keras.models.densenet_builder import DENSENETS
from srm_keras.models.spec import NAMED_MODULES, RESNETS

IMAGENET_DEPTHS = [d for d, s in RESNETS.items() if s.family == "imagenet"]
CIFAR_DEPTHS = [d for d, s in RESNETS.items() if s.family == "cifar"]
MODULES = [None, "srm", "se", "ge", "ge_minus", "ge_extent8", "ge_plus"]


# Every module on both block kinds (ResNet-18: basic, ResNet-50: bottleneck); the deeper
# networks repeat those blocks more times (their spec rows), built plain and with SRM.
IMAGENET_CASES = [(depth, module) for depth in (18, 50) for module in MODULES] + [
    (depth, module)
    for depth in IMAGENET_DEPTHS
    if depth not in (18, 50)
    for module in (None, "srm")
]


@pytest.mark.parametrize(("depth", "module"), IMAGENET_CASES)
def test_imagenet_depths_build_small(depth, module):
    model = srm_keras.resnet(depth, module, input_shape=(32, 32, 3), classes=7)
    assert model.output_shape == (None, 7)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("depth", CIFAR_DEPTHS)
def test_cifar_depths_build_small(depth, module):
    model = srm_keras.resnet(depth, module, input_shape=(16, 16, 3), classes=5)
    assert model.output_shape == (None, 5)


@pytest.mark.parametrize("module", MODULES)
def test_forward_pass_is_a_distribution(module):
    model = srm_keras.resnet(20, module, input_shape=(16, 16, 3), classes=4)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_named_constructors_cover_the_table():
    for prefix in NAMED_MODULES.values():
        for depth in RESNETS:
            assert callable(getattr(srm_keras, f"{prefix}ResNet{depth}"))
    assert len(srm_keras.list_models()) == len(NAMED_MODULES) * (len(RESNETS) + len(DENSENETS))
    assert "srm_resnet50" in srm_keras.list_models()
    assert srm_keras.SRMResNet56.__name__ == "SRMResNet56"


def test_create_model_names():
    model = srm_keras.create_model("srm_resnet20", input_shape=(16, 16, 3))
    assert model.name == "srm_resnet20"
    assert srm_keras.create_model("ge_plus_resnet20").get_layer("stage1_block1_ge_plus")
    with pytest.raises(ValueError, match="Unknown model name 'vgg16'"):
        srm_keras.create_model("vgg16")
    with pytest.raises(ValueError, match="Unknown module 'cbam'"):
        srm_keras.create_model("cbam_resnet50")


def test_hierarchical_layer_names_and_placement():
    model = srm_keras.SRMResNet50(input_shape=(64, 64, 3))
    names = {layer.name for layer in model.layers}
    assert {
        "stem_conv",
        "stem_bn",
        "stage3_block2_conv1",
        "stage3_block2_srm",
        "stage1_block1_shortcut_conv",
        "logits",
        "predictions",
    } <= names
    # One module per block, right after the branch's last BN, feeding the add.
    modules = [layer for layer in model.layers if layer.name.endswith("_srm")]
    assert len(modules) == sum(RESNETS[50].blocks)
    for module in modules:
        prefix = module.name[: -len("_srm")]
        assert (
            module.input.name.startswith(f"{prefix}_bn3")
            or module._inbound_nodes[0].parent_nodes[0].operation.name == f"{prefix}_bn3"
        )
        add = model.get_layer(f"{prefix}_add")
        assert any(node.operation is module for node in add._inbound_nodes[0].parent_nodes)


def test_no_convolution_has_a_bias():
    model = srm_keras.ResNet18(input_shape=(32, 32, 3))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and not any(layer.use_bias for layer in convs)


def test_stride_on_moves_the_downsampling():
    v15 = srm_keras.ResNet50(input_shape=(64, 64, 3))
    v1 = srm_keras.ResNet50(input_shape=(64, 64, 3), stride_on="1x1")
    assert v15.get_layer("stage2_block1_conv2").strides == (2, 2)
    assert v1.get_layer("stage2_block1_conv1").strides == (2, 2)
    assert srm_keras.count_params(v15) == srm_keras.count_params(v1)


def test_headless_pooling_options():
    assert srm_keras.ResNet18(include_top=False).output_shape == (None, 7, 7, 512)
    assert srm_keras.ResNet18(include_top=False, pooling="avg").output_shape == (None, 512)
    assert srm_keras.ResNet50(include_top=False, pooling="max").output_shape == (None, 2048)


def test_classifier_activation_none_gives_logits():
    model = srm_keras.ResNet20(classifier_activation=None)
    assert model.layers[-1].name == "logits"


def test_input_tensor():
    tensor = keras.Input(shape=(32, 32, 3), name="pixels")
    model = srm_keras.SEResNet20(input_tensor=tensor)
    assert model.inputs[0] is tensor


def test_weights_from_a_local_file(tmp_path):
    model = srm_keras.SRMResNet20(input_shape=(16, 16, 3))
    model.get_layer("logits").bias.assign(np.arange(10, dtype="float32"))
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    again = srm_keras.SRMResNet20(input_shape=(16, 16, 3), weights=path)
    np.testing.assert_array_equal(again.get_layer("logits").bias.numpy(), np.arange(10))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: srm_keras.resnet(42), r"Unsupported ResNet depth 42.*\[18, 34, 50, 101, 152\]"),
        (lambda: srm_keras.resnet(20, "cbam"), "Valid names"),
        (lambda: srm_keras.ResNet50(input_shape=(16, 16, 3)), "at least 32 pixels"),
        (lambda: srm_keras.ResNet20(input_shape=(2, 2, 3)), "at least 4 pixels"),
        (lambda: srm_keras.ResNet20(classes=0), "classes must be a positive integer"),
        (lambda: srm_keras.ResNet20(classes=-3), "classes must be a positive integer"),
        (lambda: srm_keras.GEResNet20(input_shape=(None, None, 3)), "static height and width"),
        (lambda: srm_keras.ResNet20(weights="imagenet"), "downloads no weights"),
        (lambda: srm_keras.ResNet20(weights="/nonexistent.weights.h5"), "not found"),
        (lambda: srm_keras.ResNet50(stride_on="7x7"), "stride_on"),
        (lambda: srm_keras.ResNet20(shortcut="C"), "shortcut"),
        (lambda: srm_keras.ResNet20(include_top=False, pooling="sum"), "pooling"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_recalibration_options_reach_every_module():
    model = srm_keras.SRMResNet20(recalibration_kwargs={"ddof": 0})
    modules = [layer for layer in model.layers if layer.name.endswith("_srm")]
    assert modules and all(layer.ddof == 0 for layer in modules)


def test_model_save_load_round_trip(tmp_path):
    model = srm_keras.SRMResNet20(input_shape=(16, 16, 3), shortcut="A")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
