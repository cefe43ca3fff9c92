"""Fixtures of the training tests: the digits prepared once, and a tiny, fast run config."""

from __future__ import annotations

import pytest

from srm_keras.training import TrainConfig

TINY = dict(
    model="srm_resnet20",
    dataset="digits",
    image_size=16,
    augment="cifar",
    epochs=2,
    batch_size=40,  # divides the 360 held-out images: no retracing for a smaller last batch
    steps_per_epoch=4,
    learning_rate=0.05,
    learning_rate_batch_size=40,
    schedule="constant",
    tensorboard=False,
    progress="0",
)


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory):
    """A tensorflow-datasets folder with the embedded digits prepared (offline)."""
    from srm_keras.data import load_datasets

    path = tmp_path_factory.mktemp("tfds")
    load_datasets("digits", image_size=16, batch_size=32, data_dir=path)
    return path


@pytest.fixture
def tiny_config(tmp_path, digits_dir):
    """``tiny_config(**overrides)``: SRM-ResNet-20 on 16x16 digits, 2 epochs of 4 steps."""

    def make(**overrides) -> TrainConfig:
        settings = {**TINY, "data_dir": str(digits_dir), "output": str(tmp_path / "run")}
        return TrainConfig(**{**settings, **overrides})

    return make
