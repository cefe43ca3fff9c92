"""Fixtures of the analysis tests: ResNet-20s with non-trivial gates, the digits at 8x8, and one
tiny run folder made by ``srm_keras.training.train``."""

from __future__ import annotations

import numpy as np
import pytest

from tests.export.conftest import SIZE, perturbed_resnet20


def perturbed(recalibration, *, seed: int = 0):
    """:func:`perturbed_resnet20` whose modules' own weights are random too, so that their
    gates differ from channel to channel (fresh SE, GE and MS-SAR gates are near 0.5)."""
    from srm_keras.analysis import recalibration_modules

    model = perturbed_resnet20(recalibration, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for module in recalibration_modules(model) if recalibration else ():
        for variable in module.weights:
            name, shape = variable.path, tuple(variable.shape)
            if name.endswith("moving_variance"):
                value = rng.uniform(0.5, 2.0, shape)
            elif name.endswith("gamma"):
                value = rng.uniform(0.5, 1.5, shape)
            else:
                value = rng.normal(0.0, 0.5, shape)
            variable.assign(value.astype(variable.dtype))
    return model


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory):
    """A tensorflow-datasets folder with the embedded digits prepared (offline)."""
    from srm_keras.data import load_datasets

    path = tmp_path_factory.mktemp("tfds")
    load_datasets("digits", image_size=SIZE, batch_size=32, data_dir=path)
    return path


@pytest.fixture(scope="session")
def digits(digits_dir):
    """(images, labels) of 128 held-out digits at 8x8, normalised as in training."""
    from srm_keras.data import load_datasets

    bundle = load_datasets(
        "digits", image_size=SIZE, batch_size=64, augment="none", data_dir=digits_dir
    )
    images, labels = zip(*((np.asarray(x), np.asarray(y)) for x, y in bundle.validation.take(2)))
    return np.concatenate(images), np.concatenate(labels)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, digits_dir):
    """A run folder of SRM-ResNet-20 on 8x8 digits: one epoch of 3 steps."""
    from srm_keras.training import TrainConfig, train

    output = tmp_path_factory.mktemp("trained") / "srm_run"
    train(
        TrainConfig(
            model="srm_resnet20",
            dataset="digits",
            data_dir=str(digits_dir),
            image_size=SIZE,
            epochs=1,
            steps_per_epoch=3,
            batch_size=32,
            output=str(output),
            tensorboard=False,
            progress="0",
            seed=0,
        )
    )
    return output
