"""DenseNets train: a demo-sized run on the embedded digits, and the CIFAR-10 recipe."""

from pathlib import Path

import pytest

import srm_keras
from srm_keras.training import TrainConfig, train

RECIPE = Path(__file__).resolve().parents[2] / "models" / "cifar10_densenet_bc100.toml"


def test_the_cifar_recipe_is_the_densenet_papers():
    config = TrainConfig.from_file(RECIPE)
    assert config.model == "densenet_bc100" and config.model in srm_keras.list_models()
    assert (config.dataset, config.augment, config.image_size) == ("cifar10", "cifar", 32)
    assert (config.batch_size, config.scaled_learning_rate, config.epochs) == (64, 0.1, 300)
    assert (config.schedule, config.decay_epochs, config.decay_factor) == ("step", [150, 225], 0.1)
    assert (config.momentum, config.weight_decay, config.label_smoothing) == (0.9, 1e-4, 0.0)


@pytest.mark.slow
def test_a_densenet_bc_learns_the_digits(tmp_path):
    """Two epochs of SRM-DenseNet-BC-100 on the 8x8 digits (its CIFAR layout: blocks at 8, 4 and
    2 pixels), compiled as `srm-keras train` runs it, seeded: far above the 10% of chance.

    Measured on two shared CPU cores: 54 s, 34% held-out top-1 after the first epoch and 96%
    after the second (the plain DenseNet-BC-100: 71% and 98%)."""
    config = TrainConfig(
        model="srm_densenet_bc100",
        dataset="digits",
        data_dir=str(tmp_path / "tfds"),
        image_size=8,
        augment="none",
        epochs=2,
        batch_size=40,
        learning_rate=0.1,
        learning_rate_batch_size=64,
        schedule="cosine",
        weight_decay=1e-4,
        seed=0,
        tensorboard=False,
        progress="0",
        output=str(tmp_path / "run"),
    )
    result = train(config)
    assert result.model.name == "srm_densenet_bc100"
    assert result.metrics["val_accuracy"] > 0.6
    losses = result.history["loss"]
    assert losses[-1] < losses[0]
