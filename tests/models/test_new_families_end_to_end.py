"""The new families end to end, as a user meets them: MS-SAR on a ResNet, SRM on an ImageNet
DenseNet, MS-SAR on a CIFAR DenseNet-BC: build, train a step, save, reload with safe_mode=True,
export with parity."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import srm_keras
from srm_keras.export import export

pytestmark = pytest.mark.slow

CASES = {
    # name: (constructor, input size used here)
    "mssar_resnet50": (lambda size: srm_keras.MSSARResNet50(input_shape=(size, size, 3)), 64),
    "srm_densenet121": (lambda size: srm_keras.SRMDenseNet121(input_shape=(size, size, 3)), 32),
    "mssar_densenet_bc100": (
        lambda size: srm_keras.create_model(
            "mssar_densenet_bc100", input_shape=(size, size, 3), classes=10
        ),
        32,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_train_save_reload_export(name, tmp_path):
    build, size = CASES[name]
    model = build(size)
    assert model.name == name
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (4, size, size, 3)).astype("float32")
    labels = rng.integers(0, model.output_shape[-1], 4)
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(srm_keras.preprocess_input(images), labels, batch_size=4, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True, compile=False)
    inputs = srm_keras.preprocess_input(images)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reloaded(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
    )

    report = export(
        reloaded,
        tmp_path / "export",
        ["savedmodel", "tflite_float32", "onnx"],
        verification_data=[images],
        latency_repeats=1,
    )
    assert report["passed"], report
