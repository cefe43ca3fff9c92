"""The input convention of every srm_keras model.

Models take RGB images normalised with the ImageNet mean and standard deviation of 0-1 pixel
values, the convention of torchvision and of the SRM reference release. Data pipelines apply
:func:`preprocess_input`; exported artifacts carry :func:`normalization_layer` so that clients
send raw 0-255 pixels.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess_input(images):
    """Normalise RGB pixels in 0-255 (any float or int dtype) to the models' input convention.

    As in ``keras.applications``: NumPy arrays (and lists) give a float32 NumPy array, backend
    tensors (eager, in a ``tf.data`` map, or symbolic Keras tensors) give a float32 tensor.
    """
    if not (ops.is_tensor(images) or keras.backend.is_keras_tensor(images)):
        images = np.asarray(images, dtype=np.float32) / np.float32(255.0)
        mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
        return (images - mean) / np.asarray(IMAGENET_STD, dtype=np.float32)
    images = ops.cast(images, "float32") / 255.0
    mean = ops.convert_to_tensor(IMAGENET_MEAN, dtype="float32")
    std = ops.convert_to_tensor(IMAGENET_STD, dtype="float32")
    return (images - mean) / std


def normalization_layer(name: str = "preprocess") -> keras.layers.Layer:
    """A built-in Keras layer that maps 0-255 RGB pixels to the models' input convention.

    It is a plain ``keras.layers.Normalization`` with fixed statistics, so it serialises without
    custom objects and converts to builtin ops in SavedModel, TFLite and ONNX.
    """
    mean = [255.0 * m for m in IMAGENET_MEAN]
    variance = [(255.0 * s) ** 2 for s in IMAGENET_STD]
    return keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name=name)
