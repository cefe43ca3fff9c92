"""DenseNets: parameter pins, every variant x module builds, names, placement, options, errors."""

import keras
import numpy as np
import pytest

import srm_keras
from srm_keras import layers as recalibration_layers
from srm_keras.models.densenet_builder import DENSENETS
from srm_keras.models.spec import NAMED_MODULES

IMAGENET = [k for k, s in DENSENETS.items() if s.family == "imagenet"]
CIFAR = [k for k, s in DENSENETS.items() if s.family == "cifar"]
# Every registered module (MS-SAR included once it is registered), and the plain network.
MODULES = [None, *recalibration_layers.names()]

# torchvision's and timm's counts with 1000 classes (BN gamma/beta are trainable there too).
IMAGENET_PARAMS = {"121": 7_978_856, "169": 14_149_480, "201": 20_013_928, "161": 28_681_000}
# Measured, 10 classes; the DenseNet paper rounds them to 1.0M and 0.8M.
CIFAR_PARAMS = {"40": 1_019_722, "bc100": 769_162}


def _dense_layers(key) -> int:
    return sum(DENSENETS[key].blocks)


@pytest.mark.parametrize("key", IMAGENET)
def test_imagenet_parameters_match_torchvision(key):
    assert srm_keras.count_params(srm_keras.densenet(key)) == IMAGENET_PARAMS[key]


@pytest.mark.parametrize("key", CIFAR)
def test_cifar_parameters(key):
    model = srm_keras.densenet(key)
    assert srm_keras.count_params(model) == CIFAR_PARAMS[key]
    paper_millions = {"40": 1.0, "bc100": 0.8}[key]
    assert round(srm_keras.count_params(model) / 1e6, 1) == paper_millions


@pytest.mark.parametrize("key", CIFAR)
def test_module_parameters_follow_the_per_layer_rules(key):
    """Each dense layer's module sees k channels: SRM adds 4k, SE 2*k*h + h + k with
    h = max(k // 16, 1), GE-θ⁻ nothing."""
    k, layers = DENSENETS[key].growth_rate, _dense_layers(key)
    plain = CIFAR_PARAMS[key]
    hidden = max(k // 16, 1)
    expected = {"srm": 4 * k, "se": 2 * k * hidden + hidden + k, "ge_minus": 0}
    for module, per_layer in expected.items():
        model = srm_keras.densenet(key, module)
        assert srm_keras.count_params(model) == plain + layers * per_layer, module


def test_srm_densenet121_adds_4k_per_dense_layer():
    model = srm_keras.SRMDenseNet121()
    assert srm_keras.count_params(model) == IMAGENET_PARAMS["121"] + 58 * 4 * 32


def test_global_ge_kernels_cover_each_block():
    """GE-θ at 224: the k-channel depthwise kernel of a layer covers its block's map
    (56, 28, 14, 7), plus a bias and BN gamma/beta: k * s^2 + 3k per layer."""
    blocks = DENSENETS["121"].blocks
    extra = sum(n * (32 * s * s + 3 * 32) for n, s in zip(blocks, (56, 28, 14, 7)))
    assert srm_keras.count_params(srm_keras.GEDenseNet121()) == IMAGENET_PARAMS["121"] + extra


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("key", CIFAR)
def test_cifar_variants_build_small(key, module):
    model = srm_keras.densenet(key, module, input_shape=(8, 8, 3), classes=5)
    assert model.output_shape == (None, 5)


@pytest.mark.parametrize("module", MODULES)
def test_densenet121_builds_small_and_runs(module):
    model = srm_keras.densenet(121, module, input_shape=(32, 32, 3), classes=7)
    probs = keras.ops.convert_to_numpy(model(np.zeros((1, 32, 32, 3), "float32")))
    assert probs.shape == (1, 7)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)


# The larger variants differ from DenseNet-121 only in their spec rows (depths, growth rate,
# stem width), which every module meets alike: each module is built on DenseNet-121 above and
# on the CIFAR variants, and at any channel count by the layer harness
# (tests/layers/test_harness.py); here the plain network, SRM and the most intricate module.
@pytest.mark.slow
@pytest.mark.parametrize("module", [None, "srm", "mssar"])
@pytest.mark.parametrize("key", ["169", "201", "161"])
def test_larger_imagenet_variants_build_small(key, module):
    model = srm_keras.densenet(key, module, input_shape=(32, 32, 3), classes=7)
    assert model.output_shape == (None, 7)


def test_named_constructors_and_names():
    for prefix in NAMED_MODULES.values():
        for name in ("DenseNet121", "DenseNet169", "DenseNet201", "DenseNet161"):
            assert callable(getattr(srm_keras, f"{prefix}{name}"))
        assert callable(getattr(srm_keras, f"{prefix}DenseNet40"))
        assert callable(getattr(srm_keras, f"{prefix}DenseNetBC100"))
    assert srm_keras.SRMDenseNetBC100.__name__ == "SRMDenseNetBC100"
    assert "DenseNet-BC (L=100, k=12)" in srm_keras.SRMDenseNetBC100.__doc__
    names = srm_keras.list_models()
    for stem in ("densenet121", "densenet161", "densenet40", "densenet_bc100"):
        assert stem in names
        for module in NAMED_MODULES:
            if module:
                assert f"{module}_{stem}" in names
    densenets = [n for n in names if "densenet" in n]
    assert len(densenets) == len(NAMED_MODULES) * len(DENSENETS)


def test_create_model_names():
    model = srm_keras.create_model("srm_densenet_bc100", input_shape=(8, 8, 3), classes=10)
    assert model.name == "srm_densenet_bc100"
    assert model.get_layer("block3_layer16_srm")
    model = srm_keras.create_model("ge_plus_densenet40", input_shape=(8, 8, 3))
    assert model.name == "ge_plus_densenet40" and model.get_layer("block1_layer1_ge_plus")
    assert srm_keras.create_model("DenseNet121", input_shape=(32, 32, 3)).name == "densenet121"
    with pytest.raises(ValueError, match="Unsupported DenseNet variant"):
        srm_keras.create_model("densenet50")
    with pytest.raises(ValueError, match="Unknown module 'cbam'"):
        srm_keras.create_model("cbam_densenet121")
    with pytest.raises(ValueError, match="densenet_bc<depth>"):
        srm_keras.create_model("densenet-bc100")


def test_every_registered_module_has_a_create_model_name():
    for module in recalibration_layers.names():
        model = srm_keras.create_model(f"{module}_densenet40", input_shape=(8, 8, 3))
        assert model.get_layer(f"block3_layer12_{module}")


def test_layout_of_a_bottleneck_dense_layer():
    """BN-ReLU-1x1 conv (4k)-BN-ReLU-3x3 conv (k), the module on the k new maps, then concat."""
    model = srm_keras.SRMDenseNet121(input_shape=(64, 64, 3))
    conv1 = model.get_layer("block2_layer3_conv1")
    conv2 = model.get_layer("block2_layer3_conv2")
    assert (conv1.kernel_size, conv1.filters) == ((1, 1), 128)
    assert (conv2.kernel_size, conv2.filters) == ((3, 3), 32)
    module = model.get_layer("block2_layer3_srm")
    assert module._inbound_nodes[0].parent_nodes[0].operation is conv2
    concat = model.get_layer("block2_layer3_concat")
    parents = [node.operation for node in concat._inbound_nodes[0].parent_nodes]
    assert parents == [model.get_layer("block2_layer2_concat"), module]
    assert concat.output.shape[-1] == 128 + 3 * 32
    modules = [layer for layer in model.layers if layer.name.endswith("_srm")]
    assert len(modules) == _dense_layers("121")  # one per dense layer, none elsewhere
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and not any(layer.use_bias for layer in convs)


def test_shapes_through_the_imagenet_network():
    model = srm_keras.DenseNet121(input_shape=(224, 224, 3))
    assert model.get_layer("stem_pool").output.shape == (None, 56, 56, 64)
    assert model.get_layer("block1_layer6_concat").output.shape == (None, 56, 56, 256)
    assert model.get_layer("transition1_pool").output.shape == (None, 28, 28, 128)
    assert model.get_layer("transition3_pool").output.shape == (None, 7, 7, 512)
    assert model.get_layer("final_relu").output.shape == (None, 7, 7, 1024)


def test_cifar_layouts():
    basic = srm_keras.DenseNet40()
    assert basic.get_layer("stem_conv").filters == 16
    assert basic.get_layer("block1_layer1_conv1").kernel_size == (3, 3)
    assert "block1_layer1_conv2" not in {layer.name for layer in basic.layers}
    assert basic.get_layer("transition1_conv").filters == 16 + 12 * 12  # no compression
    assert basic.get_layer("final_relu").output.shape == (None, 8, 8, 448)
    bc = srm_keras.DenseNetBC100()
    assert bc.get_layer("stem_conv").filters == 24
    assert bc.get_layer("transition1_conv").filters == (24 + 16 * 12) // 2
    assert bc.get_layer("final_relu").output.shape == (None, 8, 8, 342)
    # The stem is a convolution alone: the first dense layer normalises its input.
    assert "stem_bn" not in {layer.name for layer in bc.layers}


def test_headless_pooling_and_logits():
    assert srm_keras.DenseNet121(include_top=False).output_shape == (None, 7, 7, 1024)
    assert srm_keras.DenseNet40(include_top=False, pooling="avg").output_shape == (None, 448)
    assert srm_keras.DenseNetBC100(include_top=False, pooling="max").output_shape == (None, 342)
    assert srm_keras.DenseNet40(classifier_activation=None).layers[-1].name == "logits"


def test_input_tensor_and_dynamic_size():
    tensor = keras.Input(shape=(32, 32, 3), name="pixels")
    assert srm_keras.SEDenseNet40(input_tensor=tensor).inputs[0] is tensor
    model = srm_keras.SRMDenseNetBC100(input_shape=(None, None, 3))
    assert model(np.zeros((1, 12, 12, 3), "float32")).shape == (1, 10)


def test_weights_from_a_keras_file(tmp_path):
    model = srm_keras.SRMDenseNet40(input_shape=(8, 8, 3))
    model.get_layer("logits").bias.assign(np.arange(10, dtype="float32"))
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    again = srm_keras.SRMDenseNet40(input_shape=(8, 8, 3), weights=path)
    np.testing.assert_array_equal(again.get_layer("logits").bias.numpy(), np.arange(10))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: srm_keras.densenet(100), r"Unsupported DenseNet variant 100.*121, 161, 169"),
        (lambda: srm_keras.densenet(40, "cbam"), "Valid names"),
        (lambda: srm_keras.DenseNet121(input_shape=(16, 16, 3)), "at least 32 pixels"),
        (lambda: srm_keras.DenseNetBC100(input_shape=(2, 2, 3)), "at least 4 pixels"),
        (lambda: srm_keras.DenseNet40(classes=0), "classes must be a positive integer"),
        (lambda: srm_keras.GEDenseNet40(input_shape=(None, None, 3)), "static height and width"),
        (lambda: srm_keras.DenseNet40(weights="imagenet"), "downloads no weights"),
        (lambda: srm_keras.DenseNet40(weights="/nonexistent.weights.h5"), "not found"),
        (lambda: srm_keras.DenseNet40(include_top=False, pooling="sum"), "pooling"),
        (lambda: srm_keras.DenseNet40(recalibration_kwargs=[1]), "recalibration_kwargs"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_recalibration_options_reach_every_module():
    model = srm_keras.SRMDenseNet40(input_shape=(8, 8, 3), recalibration_kwargs={"ddof": 0})
    modules = [layer for layer in model.layers if layer.name.endswith("_srm")]
    assert len(modules) == 36 and all(layer.ddof == 0 for layer in modules)


# One module of each layer class: the registry's variants of a class (srm_mean, ge_plus, ...)
# differ in options that the layer harness trains and reloads one by one
# (tests/layers/test_harness.py); what a DenseNet adds is the placement, the same for all.
@pytest.mark.parametrize("module", [None, "srm", "se", "ge", "ge_extent8", "mssar"])
def test_trains_a_step_saves_and_reloads_safely(tmp_path, module):
    """A module of each class in a DenseNet-BC: one SGD step (eager: tracing a 100-layer graph
    per module would take minutes on two cores; the digits run trains compiled), then .keras
    round trip."""
    model = srm_keras.densenet("bc100", module, input_shape=(8, 8, 3), classes=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    model.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=True)
    before = [np.array(w) for w in model.trainable_weights]
    loss = model.train_on_batch(x, np.array([0, 1, 2, 0]))
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, np.array(b)) for a, b in zip(before, model.trainable_weights))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        atol=1e-6,
    )


def test_basic_dense_layers_train_and_reload(tmp_path):
    model = srm_keras.SRMDenseNet40(input_shape=(8, 8, 3), classes=3)
    x = np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32")
    model.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=True)
    assert np.isfinite(model.train_on_batch(x, np.array([2, 1, 0, 0])))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_mixed_precision_concatenates_in_the_compute_dtype():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = srm_keras.SRMDenseNet40(input_shape=(8, 8, 3))
    assert model.get_layer("block3_layer12_concat").output.dtype == "float16"
    probs = keras.ops.convert_to_numpy(model(np.ones((2, 8, 8, 3), "float32")))
    assert probs.dtype == np.float32 and np.isfinite(probs).all()
