"""Export to SavedModel (TF Serving), TFLite and ONNX, each verified against the Keras model.

Every artifact takes ``images`` (float32 RGB pixels in 0-255, batch x height x width x 3) and
returns ``logits`` and ``probabilities``; the normalisation the model was trained with is
inside each artifact.
"""

import sys
import types

from srm_keras._lazy import attach

# Names are loaded on first use, so that a submodule such as ``srm_keras.export.folding``
# (the modules' inference forms) imports without the converters or tensorflow-datasets.
_NAMES = {
    "BOUNDS": "parity",
    "FORMATS": "exporter",
    "ParityError": "parity",
    "export": "exporter",
    "find_model_file": "prepare",
    "load_model": "prepare",
    "serving_model": "prepare",
    "verify": "parity",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)


class _ExportModule(types.ModuleType):
    """Makes ``srm_keras.export(model, output_dir, ...)`` call :func:`export`.

    ``srm_keras.export`` is this package: importing any of its submodules binds the package
    attribute to the module, so the function is reached by making the module callable.
    """

    def __call__(self, *args, **kwargs):
        from srm_keras.export.exporter import export

        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _ExportModule
