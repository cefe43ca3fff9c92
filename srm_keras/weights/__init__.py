"""Weights trained elsewhere: PyTorch checkpoints in and out, Keras weight files in, ImageNet
class names. A classifier that does not fit the model is left out, with a HeadMismatchWarning
(see srm_keras.weights.head), in every path.

model = srm_keras.SEResNet50()
srm_keras.weights.load_torch_state_dict(model, "seresnet50.safetensors")

Names are loaded on first use: reading and writing checkpoint files needs no Keras.
"""

from srm_keras._lazy import attach

_NAMES = {
    "HeadMismatch": "head",
    "HeadMismatchWarning": "head",
    "ImageNetClass": "imagenet",
    "KERAS_SUFFIXES": "keras_files",
    "LAYOUTS": "layouts",
    "LoadReport": "convert",
    "Prediction": "imagenet",
    "SUFFIXES": "torch_io",
    "decode_predictions": "imagenet",
    "default_layout": "layouts",
    "detect_layout": "convert",
    "export_torch_state_dict": "convert",
    "imagenet_classes": "imagenet",
    "is_checkpoint_path": "torch_io",
    "is_keras_weights_path": "keras_files",
    "load_keras_weights": "keras_files",
    "load_torch_state_dict": "convert",
    "read_state_dict": "torch_io",
    "save_torch_state_dict": "convert",
    "write_state_dict": "torch_io",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)
