"""Recalibration layers: SRM, SE and GE, and the registry that names them."""

from srm_keras.layers.ge import GatherExcitation
from srm_keras.layers.registry import get, names, register, short_name
from srm_keras.layers.se import SqueezeExcitation
from srm_keras.layers.srm import StyleRecalibration

__all__ = [
    "GatherExcitation",
    "SqueezeExcitation",
    "StyleRecalibration",
    "get",
    "names",
    "register",
    "short_name",
]
