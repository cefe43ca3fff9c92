"""Trainable parameters and MACs pinned to docs/design.md §6–7 (no forward pass needed)."""

import pytest

import srm_keras
from srm_keras.models.counts import model_counts

# docs/design.md §6, ImageNet, 1000 classes.
IMAGENET_PARAMS = {
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "se_resnet50": 28_088_024,
    "se_resnet101": 49_326_872,
    "se_resnet152": 66_821_848,
    "ge_resnet50": 31_121_704,
    "ge_resnet101": 53_578_024,
    "ge_resnet152": 73_482_536,
    "srm_resnet50": 25_617_448,
    "srm_resnet101": 44_679_208,
    "srm_resnet152": 60_384_296,
}

# docs/design.md §6, CIFAR, 10 classes: plain with option A / B, and what each module adds.
CIFAR = {
    20: (269_722, 272_474, {"srm": 1_344, "se": 2_373, "ge": 87_024}),
    32: (464_154, 466_906, {"srm": 2_240, "se": 3_955, "ge": 145_040}),
    56: (853_018, 855_770, {"srm": 4_032, "se": 7_119, "ge": 261_072}),
    110: (1_727_962, 1_730_714, {"srm": 8_064, "se": 14_238, "ge": 522_144}),
}


# Built: the ResNet-50 rows. The deeper networks repeat the same blocks, and their counts come
# from the spec tables (srm_keras.models.counts), which test_counts_from_spec.py holds equal to
# the built models block kind by block kind.
@pytest.mark.parametrize("name", [name for name in sorted(IMAGENET_PARAMS) if "50" in name])
def test_imagenet_trainable_parameters(name):
    assert srm_keras.count_params(srm_keras.create_model(name)) == IMAGENET_PARAMS[name]


@pytest.mark.parametrize("name", sorted(IMAGENET_PARAMS))
def test_imagenet_parameters_from_the_spec_tables(name):
    assert model_counts(name)[0] == IMAGENET_PARAMS[name]


def test_headless_resnet50():
    model = srm_keras.ResNet50(include_top=False)
    assert srm_keras.count_params(model) == 23_508_032


@pytest.mark.parametrize("depth", sorted(CIFAR))
def test_cifar_trainable_parameters(depth):
    plain_a, plain_b, added = CIFAR[depth]
    assert srm_keras.count_params(srm_keras.resnet(depth, shortcut="A")) == plain_a
    assert srm_keras.count_params(srm_keras.resnet(depth, shortcut="B")) == plain_b
    for module, extra in added.items():
        for shortcut, plain in (("A", plain_a), ("B", plain_b)):
            model = srm_keras.resnet(depth, module, shortcut=shortcut)
            assert srm_keras.count_params(model) == plain + extra, (module, shortcut)


# docs/design.md §7: the paper's GFLOPs (MACs) at 224x224, stride on the 1x1 convolution.
@pytest.mark.parametrize(
    "name, gmacs",
    [("resnet50", 3.86), ("se_resnet50", 3.87), ("ge_resnet50", 3.87), ("srm_resnet50", 3.88)],
)
def test_resnet50_macs_match_the_paper(name, gmacs):
    model = srm_keras.create_model(name, stride_on="1x1")
    assert round(srm_keras.count_macs(model) / 1e9, 2) == gmacs


@pytest.mark.parametrize(
    "name, gmacs",
    [("resnet101", 7.58), ("se_resnet101", 7.60), ("ge_resnet101", 7.60), ("srm_resnet101", 7.62)],
)
def test_resnet101_macs_within_a_hundredth(name, gmacs):
    macs = model_counts(name, stride_on="1x1")[1]
    assert abs(round(macs / 1e9, 2) - gmacs) <= 0.01 + 1e-9


def test_resnet101_module_elements():
    """docs/design.md §7: E = 8,931,328 for ResNet-101, so GE adds exactly 2E."""
    plain = model_counts("resnet101", stride_on="1x1")[1]
    ge = model_counts("ge_resnet101", stride_on="1x1")[1]
    assert ge - plain == 2 * 8_931_328


def test_module_macs_follow_the_per_element_rule():
    """docs/design.md §7: E = sum of C*H*W at the modules; SRM adds 4E, GE 2E, SE its dense
    MACs + 2E."""
    plain = srm_keras.count_macs(srm_keras.ResNet50(stride_on="1x1"))
    elements = 5_519_360
    srm = srm_keras.count_macs(srm_keras.SRMResNet50(stride_on="1x1")) - plain
    ge = srm_keras.count_macs(srm_keras.GEResNet50(stride_on="1x1")) - plain
    assert 4 * elements <= srm <= 4 * elements + 2 * 2048 * 16  # + the CFC's 2C per block
    assert ge == 2 * elements


def test_v15_layout_costs_more():
    assert round(srm_keras.count_macs(srm_keras.ResNet50()) / 1e9, 3) == 4.089


def test_count_macs_at_another_size_and_dynamic_models():
    model = srm_keras.ResNet18(input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="input_shape"):
        srm_keras.count_macs(model)
    at_224 = srm_keras.count_macs(model, input_shape=(224, 224, 3))
    assert at_224 == srm_keras.count_macs(srm_keras.ResNet18())
