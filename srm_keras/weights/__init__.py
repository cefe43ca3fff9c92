"""Weights trained elsewhere: PyTorch checkpoints in and out, Keras weight files in, ImageNet
class names. A classifier that does not fit the model is left out, with a HeadMismatchWarning
(see srm_keras.weights.head), in every path.

model = srm_keras.SEResNet50()
srm_keras.weights.load_torch_state_dict(model, "seresnet50.safetensors")
"""

from srm_keras.weights.convert import (
    LoadReport,
    detect_layout,
    export_torch_state_dict,
    load_torch_state_dict,
    save_torch_state_dict,
)
from srm_keras.weights.head import HeadMismatch, HeadMismatchWarning
from srm_keras.weights.imagenet import (
    ImageNetClass,
    Prediction,
    decode_predictions,
    imagenet_classes,
)
from srm_keras.weights.keras_files import (
    KERAS_SUFFIXES,
    is_keras_weights_path,
    load_keras_weights,
)
from srm_keras.weights.layouts import LAYOUTS, default_layout
from srm_keras.weights.torch_io import (
    SUFFIXES,
    is_checkpoint_path,
    read_state_dict,
    write_state_dict,
)

__all__ = [
    "KERAS_SUFFIXES",
    "LAYOUTS",
    "SUFFIXES",
    "HeadMismatch",
    "HeadMismatchWarning",
    "ImageNetClass",
    "LoadReport",
    "Prediction",
    "decode_predictions",
    "default_layout",
    "detect_layout",
    "export_torch_state_dict",
    "imagenet_classes",
    "is_checkpoint_path",
    "is_keras_weights_path",
    "load_keras_weights",
    "load_torch_state_dict",
    "read_state_dict",
    "save_torch_state_dict",
    "write_state_dict",
]
