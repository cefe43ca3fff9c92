"""Export to SavedModel (TF Serving), TFLite and ONNX, each verified against the Keras model.

Every artifact takes ``images`` (float32 RGB pixels in 0-255, batch x height x width x 3) and
returns ``logits`` and ``probabilities``; the normalisation the model was trained with is
inside each artifact.
"""

import sys
import types

from srm_keras.export.exporter import FORMATS, export
from srm_keras.export.parity import BOUNDS, ParityError, verify
from srm_keras.export.prepare import find_model_file, load_model, serving_model

__all__ = [
    "BOUNDS",
    "FORMATS",
    "ParityError",
    "export",
    "find_model_file",
    "load_model",
    "serving_model",
    "verify",
]


class _ExportModule(types.ModuleType):
    """Makes ``srm_keras.export(model, output_dir, ...)`` call :func:`export`.

    ``srm_keras.export`` is this package: importing any of its submodules binds the package
    attribute to the module, so the function is reached by making the module callable.
    """

    def __call__(self, *args, **kwargs):
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _ExportModule
