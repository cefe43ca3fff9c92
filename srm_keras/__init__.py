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

globals().update(CONSTRUCTORS)

__all__ = [
    "count_macs",
    "count_params",
    "create_model",
    "decode_predictions",
    "layers",
    "list_models",
    "models",
    "preprocess_input",
    "resnet",
    "weights",
    *CONSTRUCTORS,
]
