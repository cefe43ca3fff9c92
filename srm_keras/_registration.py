"""Register the library's Keras objects as soon as Keras is loaded, without loading it.

``import srm_keras`` must be cheap (the ``srm-keras`` command answers ``--help`` without
TensorFlow), yet ``import srm_keras`` followed by ``keras.models.load_model("x.keras")`` must
find the library's layers, which Keras knows only once their modules have run
``keras.saving.register_keras_serializable``. So ``import srm_keras`` imports the registering
modules at once when Keras is already loaded, and otherwise the moment ``import keras``
completes, whoever imports it (``srm_keras/_import_hooks.py``).
"""

from __future__ import annotations

import importlib
import sys
import warnings

from srm_keras._import_hooks import around_first_import

#: The modules whose import registers every serialisable object a saved model may name. They
#: import nothing of the library outside themselves, so registering them while another module
#: of the library is half-imported (it imported Keras) cannot close an import cycle.
REGISTERING_MODULES = ("srm_keras.layers",)

_pending = False


def register_when_keras_loads() -> None:
    global _pending
    if "keras" in sys.modules:
        register()
    elif not _pending:
        _pending = True
        around_first_import("keras", _then_register)


def register() -> None:
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


def _then_register(run_keras) -> None:
    run_keras()
    try:
        register()
    except Exception as error:  # Keras itself loaded; say why the layers did not
        warnings.warn(
            f"srm_keras could not register its layers with Keras ({error}); import "
            "srm_keras.layers before loading models that use them.",
            stacklevel=2,
        )
