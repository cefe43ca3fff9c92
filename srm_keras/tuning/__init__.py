"""Hyper-parameter search over recalibration modules and the training recipe (keras-tuner).

Names are loaded on first use (keras-tuner and TensorFlow come with the first of them).
"""

from srm_keras._lazy import attach
from srm_keras.tuning.names import MODULES, TUNER_NAMES

_NAMES = {
    "RecalibratedResNetHyperModel": "hypermodel",
    "SearchSpace": "hypermodel",
    "SearchResult": "searcher",
    "TUNERS": "searcher",
    "search": "searcher",
}

__all__ = ["MODULES", "TUNER_NAMES", *sorted(_NAMES)]

__getattr__, __dir__ = attach(__name__, _NAMES)
