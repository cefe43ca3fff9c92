"""Naming what to benchmark: zoo names with options, keras.applications, artifact paths."""

import keras
import pytest

from srm_keras.benchmark.sources import resolve


def test_zoo_name_with_options_builds_that_model():
    source = resolve('resnet20:shortcut=B,recalibration_kwargs={"ddof": 0, "epsilon": 1e-3}')
    assert source.kind == "srm_keras" and not source.is_artifact
    model = source.builder(input_shape=(16, 16, 3), classes=5)
    assert model.output_shape == (None, 5)
    assert "stage2_block1_shortcut_conv" in [layer.name for layer in model.layers]


def test_module_options_reach_the_module():
    source = resolve('srm_resnet20:recalibration_kwargs={"ddof": 0}')
    model = source.builder(input_shape=(16, 16, 3), classes=10)
    assert model.get_layer("stage1_block1_srm").ddof == 0


def test_keras_applications_name():
    source = resolve("keras_applications_resnet50")
    assert source.kind == "keras_applications"
    assert resolve("Keras_Applications_ResNet50").label == "Keras_Applications_ResNet50"


def test_custom_builder_pair():
    def build(input_shape, classes):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(classes)(keras.layers.Flatten()(inputs)))

    source = resolve(("tiny", build))
    assert source.kind == "custom" and source.label == "tiny"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("alexnet", "Unknown model 'alexnet'"),
        ("foo_resnet50", "Unknown model 'foo_resnet50'"),
        ("resnet51", "Unknown model 'resnet51'"),
        ("resnet50:depth_multiplier=2", "Unknown option"),
        ("resnet50:stride_on", "key=value"),
        ("keras_applications_nonet", "keras.applications has no model 'nonet'"),
        ("missing/model.onnx", "not found"),
        ("model.tflite", "not found"),
        ("", "must be a name"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        resolve(spec)


def test_artifact_paths(tmp_path):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "m.onnx").write_bytes(b"")
    (tmp_path / "m.tflite").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    assert resolve(tmp_path / "sm").kind == "savedmodel"
    assert resolve(str(tmp_path / "m.onnx")).kind == "onnx"
    assert resolve(str(tmp_path / "m.tflite")).is_artifact
    with pytest.raises(ValueError, match="not a SavedModel folder"):
        resolve(str(tmp_path / "notes"))
