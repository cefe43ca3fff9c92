"""Small stand-ins for the README's ImageNet-size examples, named by its ``readme-test`` markers.

Each returns what the README's text would have at hand (a dataset, a trained model, a checkpoint
file, photos), at a size that runs in seconds on a CPU.
"""

from __future__ import annotations

import functools

import keras
import numpy as np


def digits(size: int, batches: int):
    """A few normalised training batches of the embedded digits at ``size`` x ``size``."""
    from srm_keras.data import load_datasets

    return load_datasets("digits", image_size=size, batch_size=32).train.take(batches)


@functools.cache
def trained_digits_model(size: int) -> keras.Model:
    """SRM-ResNet-20 trained for two epochs on the digits (97% held-out accuracy at 8x8), so
    that its exports have decisions worth comparing. Trained once per size: the README's
    examples that stand it in only read it. No augmentation: the CIFAR recipe's
    4-pixel padding would leave little of an 8x8 digit, and a model near chance has near-ties
    that int8 flips (measured with it: 23% accuracy, int8 refused with 29 of 360 differing)."""
    import srm_keras

    data = srm_keras.data.load_datasets(
        "digits", image_size=size, batch_size=32, seed=0, augment="none"
    )
    keras.utils.set_random_seed(0)
    model = srm_keras.SRMResNet20(input_shape=(size, size, 3), classes=data.num_classes)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(data.train, epochs=2, verbose=0)
    return model


def checkpoint(path: str) -> None:
    """A PyTorch-layout (timm) SE-ResNet-50 checkpoint with this library's random weights."""
    import srm_keras

    srm_keras.weights.save_torch_state_dict(srm_keras.SEResNet50(), path)


def photos(count: int) -> np.ndarray:
    """``count`` random 224x224 RGB images in 0-255."""
    return np.random.default_rng(0).integers(0, 256, (count, 224, 224, 3)).astype("float32")
