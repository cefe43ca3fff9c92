"""Hyper-parameter search over recalibration modules and the training recipe (keras-tuner).

Names are loaded on first use (keras-tuner and TensorFlow come with the first of them).
"""

import importlib

from srm_keras.tuning.names import MODULES, TUNER_NAMES

_NAMES = {
    "RecalibratedResNetHyperModel": "hypermodel",
    "SearchSpace": "hypermodel",
    "SearchResult": "searcher",
    "TUNERS": "searcher",
    "search": "searcher",
}

__all__ = ["MODULES", "TUNER_NAMES", *sorted(_NAMES)]


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_NAMES})
