"""Register the library's Keras objects as soon as Keras is loaded, without loading it.

``import srm_keras`` must be cheap (the ``srm-keras`` command answers ``--help`` without
TensorFlow), yet ``import srm_keras`` followed by ``keras.models.load_model("x.keras")`` must
find the library's layers, which Keras knows only once their modules have run
``keras.saving.register_keras_serializable``. So ``import srm_keras``:

* imports the registering modules at once when Keras is already loaded, and otherwise
* puts a finder on ``sys.meta_path`` that lets Keras load normally and then imports them, the
  moment ``import keras`` completes (whoever imports it), and removes itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: The modules whose import registers every serialisable object a saved model may name. They
#: import nothing of the library outside themselves, so registering them while another module
#: of the library is half-imported (it imported Keras) cannot close an import cycle.
REGISTERING_MODULES = ("srm_keras.layers",)


def register_when_keras_loads() -> None:
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())


def register() -> None:
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds ``keras`` as the other finders do, and wraps its loader to :func:`register` after."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # once, and never in the way of the real search
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        try:
            register()
        except Exception as error:  # Keras itself loaded; say why the layers did not
            warnings.warn(
                f"srm_keras could not register its layers with Keras ({error}); import "
                "srm_keras.layers before loading models that use them.",
                stacklevel=2,
            )

    def __getattr__(self, name):  # is_package, get_resource_reader, ...
        return getattr(self._loader, name)
