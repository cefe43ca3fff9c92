"""MS-SAR ResNet-20 trains with the project's recipe on the embedded digits (a demo-sized run)."""

from __future__ import annotations

import numpy as np
import pytest

from srm_keras.layers import MultiScaleSpatialRecalibration

RUN = dict(
    model="mssar_resnet20",
    dataset="digits",
    image_size=16,  # stages at 16, 8 and 4 pixels: scales 2 and 4 have several cells everywhere
    augment="none",
    batch_size=64,
    learning_rate=0.1,
    learning_rate_batch_size=128,
    schedule="cosine",
    seed=0,
    deterministic=True,
    tensorboard=False,
    progress="0",
)


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """A tensorflow-datasets folder with the embedded digits prepared (offline)."""
    from srm_keras.data import load_datasets

    path = tmp_path_factory.mktemp("tfds")
    load_datasets("digits", image_size=16, batch_size=32, data_dir=path)
    return path


def _train(digits_dir, output, **overrides):
    from srm_keras.training import TrainConfig, train

    return train(
        TrainConfig(**{**RUN, "data_dir": str(digits_dir), "output": str(output), **overrides})
    )


@pytest.mark.slow
def test_two_epochs_learn_the_digits(digits_dir, tmp_path):
    result = _train(digits_dir, tmp_path / "run", epochs=2)
    assert result.metrics["finished"] and np.isfinite(result.metrics["loss"])
    # Chance is 10% on ten classes; measured: 95.8% on the 360 held-out digits.
    assert result.metrics["val_accuracy"] > 0.6
    modules = [
        layer for layer in result.model.layers if isinstance(layer, MultiScaleSpatialRecalibration)
    ]
    assert len(modules) == 9
    # The gates left 0.5: the zero-initialised expansions have learned.
    assert all(np.any(module.excite_kernel.numpy() != 0) for module in modules)


@pytest.mark.slow
def test_a_seed_gives_identical_weights(digits_dir, tmp_path):
    runs = [_train(digits_dir, tmp_path / name, epochs=1, steps_per_epoch=3) for name in ("a", "b")]
    first, again = (run.model.get_weights() for run in runs)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
