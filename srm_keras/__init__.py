"""srm_keras: Style-based Recalibration (SRM), SE and Gather-Excite ResNets for Keras 3.

import srm_keras
model = srm_keras.SRMResNet50()

Importing the package loads nothing heavy: each name below is loaded on first use, so that the
``srm-keras`` command answers ``--help`` without TensorFlow. The library's layers are registered
with Keras the moment Keras is loaded (see ``srm_keras/_registration.py``), so
``keras.models.load_model`` finds them after ``import srm_keras`` alone.
"""

import importlib

from srm_keras import _registration

__version__ = "0.1.0"

#: Sub-packages, loaded on first use. ``srm_keras.export`` is also callable:
#: ``srm_keras.export(model, "export/srm_resnet50")``.
_SUBPACKAGES = (
    "analysis",
    "benchmark",
    "data",
    "distributed",
    "export",
    "layers",
    "models",
    "training",
    "tuning",
    "weights",
)
#: Functions and constructors, by the module that defines them.
_NAMES = {
    "count_macs": "srm_keras.models",
    "count_params": "srm_keras.models",
    "create_model": "srm_keras.models",
    "list_models": "srm_keras.models",
    "resnet": "srm_keras.models",
    "densenet": "srm_keras.models",
    "preprocess_input": "srm_keras.preprocessing",
    "decode_predictions": "srm_keras.weights",
}


def _constructors() -> dict:
    return importlib.import_module("srm_keras.models.zoo").CONSTRUCTORS


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"srm_keras.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name == "__all__":
        return sorted({*_SUBPACKAGES, *_NAMES, *_constructors()})
    if name[:1].isupper() and name in _constructors():  # SRMResNet50, ResNet56, ...
        return _constructors()[name]
    raise AttributeError(f"module 'srm_keras' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBPACKAGES, *_NAMES, *_constructors()})


_registration.register_when_keras_loads()
