"""A small model also runs under the JAX backend (layers and models use keras.ops only)."""

import os
import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, keras, srm_keras
assert keras.backend.backend() == "jax"
for module in [None, "srm", "se", "ge", "ge_extent8"]:
    model = srm_keras.resnet(20, module, input_shape=(16, 16, 3), classes=3)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 3)).astype("float32")
    loss = model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss), module
print("ok")
"""


def test_small_models_train_under_jax():
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
