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


def __getattr__(name):
    # srm_keras.export pulls in TensorFlow, tf2onnx and LiteRT: load it on first use only.
    # The module is callable: srm_keras.export(model, "export/srm_resnet50").
    if name == "export":
        import importlib

        return importlib.import_module("srm_keras.export")
    raise AttributeError(f"module 'srm_keras' has no attribute {name!r}")


globals().update(CONSTRUCTORS)

__all__ = [
    "count_macs",
    "count_params",
    "create_model",
    "decode_predictions",
    "export",
    "layers",
    "list_models",
    "models",
    "preprocess_input",
    "resnet",
    "weights",
    *CONSTRUCTORS,
]
