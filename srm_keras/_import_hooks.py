"""Run code around the first import of a module, without importing it.

``around_first_import("keras", wrapper)`` puts a finder on ``sys.meta_path`` that, when
``import keras`` first happens (whoever imports it), finds the module as the other finders do
and runs its code as ``wrapper(run)``, where ``run()`` executes the module; the finder then
removes itself. Used to register the library's layers once Keras has loaded
(``srm_keras/_registration.py``) and to keep TensorFlow's start-up lines off a command's output
(``srm_keras.cli``).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable


def around_first_import(name: str, wrapper: Callable[[Callable[[], None]], None]) -> None:
    sys.meta_path.insert(0, _Finder(name, wrapper))


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, wrapper) -> None:
        self.name, self.wrapper = name, wrapper

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once, and never in the way of the real search
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.wrapper)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, wrapper) -> None:
        self._loader, self._wrapper = loader, wrapper

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._wrapper(lambda: self._loader.exec_module(module))

    def __getattr__(self, name):  # is_package, get_resource_reader, ...
        return getattr(self._loader, name)
