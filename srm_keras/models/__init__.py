"""ResNet and DenseNet builders, the zoo's named constructors, and profiling.

Names are loaded on first use: the spec tables and the model names
(:mod:`srm_keras.models.names`) need no Keras.
"""

import importlib

_NAMES = {
    "DENSENETS": "spec",
    "NAMED_MODULES": "spec",
    "PAPER_IMAGENET": "spec",
    "RESNETS": "spec",
    "DenseNetSpec": "spec",
    "ResNetSpec": "spec",
    "default_image_size": "names",
    "model_names": "names",
    "count_macs": "profile",
    "count_params": "profile",
    "model_counts": "counts",
    "densenet": "densenet_builder",
    "resnet": "resnet_builder",
    "PaddedIdentity": "shortcut",
    "CONSTRUCTORS": "zoo",
    "create_model": "zoo",
    "list_models": "zoo",
    "parse_model_name": "zoo",
    "format_table": "table",
    "zoo_table": "table",
}


def _constructors() -> dict:
    return importlib.import_module(f"{__name__}.zoo").CONSTRUCTORS


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    if name == "__all__":
        return sorted({*_NAMES, *_constructors()})
    if name[:1].isupper() and name in _constructors():  # SRMResNet50, DenseNet121, ...
        return _constructors()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_NAMES, *_constructors()})
