"""srm_keras: Style-based Recalibration (SRM), SE and Gather-Excite ResNets for Keras 3.

import srm_keras
model = srm_keras.SRMResNet50()
"""

from srm_keras import layers, models, weights
from srm_keras.models import (
    CONSTRUCTORS,
    count_macs,
    count_params,
    create_model,
    list_models,
    resnet,
)
from srm_keras.preprocessing import preprocess_input
from srm_keras.weights import decode_predictions

__version__ = "0.1.0"


#: Sub-packages that pull in TensorFlow (and tf2onnx, LiteRT, keras-tuner): loaded on first use,
#: so that ``import srm_keras`` stays light. ``srm_keras.export`` is also callable:
#: ``srm_keras.export(model, "export/srm_resnet50")``.
_LAZY_SUBPACKAGES = ("benchmark", "data", "distributed", "export", "training", "tuning")


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module(f"srm_keras.{name}")
    raise AttributeError(f"module 'srm_keras' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY_SUBPACKAGES})


globals().update(CONSTRUCTORS)

__all__ = [
    "benchmark",
    "count_macs",
    "count_params",
    "create_model",
    "data",
    "decode_predictions",
    "distributed",
    "export",
    "layers",
    "list_models",
    "models",
    "preprocess_input",
    "resnet",
    "training",
    "tuning",
    "weights",
    *CONSTRUCTORS,
]
