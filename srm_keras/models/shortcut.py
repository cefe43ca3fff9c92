"""The option-A shortcut layer, defined in :mod:`srm_keras.layers.shortcut` with the library's
other layers (so that ``import srm_keras`` registers every layer a saved model may name)."""

from srm_keras.layers.shortcut import PaddedIdentity

__all__ = ["PaddedIdentity"]
