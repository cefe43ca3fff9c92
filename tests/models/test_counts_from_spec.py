"""srm_keras.models.counts: the counts from the spec tables equal those of the built models."""

import keras
import pytest

from srm_keras import layers as recalibration_layers
from srm_keras.models.counts import model_counts
from srm_keras.models.profile import count_macs, count_params
from srm_keras.models.table import zoo_table
from srm_keras.models.zoo import create_model

# Every registered module on the smallest CIFAR ResNet, then each layout option of the builders
# (bottleneck strides on either convolution, both shortcut kinds, DenseNets with and without
# bottleneck layers and compression) at sizes where odd maps round, kept small to build fast:
# the counts do not depend on depth beyond repeating the same blocks.
CASES = [(f"{module}_resnet20", {}) for module in recalibration_layers.names()] + [
    ("resnet20", {"shortcut": "B"}),
    ("srm_resnet18", {"input_shape": (65, 47, 3), "classes": 5}),
    ("se_resnet50", {"input_shape": (64, 64, 3)}),
    ("ge_resnet50", {"input_shape": (64, 64, 3), "stride_on": "1x1"}),
    ("srm_resnet50", {"input_shape": (64, 64, 3), "shortcut": "A", "include_top": False}),
    ("mssar_densenet40", {}),
    ("srm_densenet_bc100", {"input_shape": (36, 28, 1)}),
    ("ge_plus_densenet121", {"input_shape": (70, 70, 3)}),
    ("srm_mlp_resnet20", {"recalibration_kwargs": {"reduction": 4}}),
]


@pytest.mark.parametrize(("name", "options"), CASES, ids=[name for name, _ in CASES])
def test_counts_equal_the_built_model(name, options):
    model = create_model(name, **options)
    built = (count_params(model), count_macs(model))
    keras.backend.clear_session()
    assert model_counts(name, **options) == built


def test_the_table_builds_no_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the table built a model")

    monkeypatch.setattr(keras.Model, "__init__", refuse)
    (row,) = zoo_table(["srm_resnet152"])
    assert row["params"] > 0 and row["gmacs_1x1"] < row["gmacs"]
