"""Hyper-parameter search over recalibration modules and the training recipe (keras-tuner)."""

from srm_keras.tuning.hypermodel import MODULES, RecalibratedResNetHyperModel, SearchSpace
from srm_keras.tuning.search import TUNERS, SearchResult, search

__all__ = [
    "MODULES",
    "TUNERS",
    "RecalibratedResNetHyperModel",
    "SearchResult",
    "SearchSpace",
    "search",
]
