"""Names of a package resolved on first use (PEP 562), so that importing the package is cheap."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable


def attach(package: str, names: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose name ``n`` lives in the submodule
    ``names[n]``: ``__getattr__, __dir__ = attach(__name__, _NAMES)``."""

    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        # A submodule not imported yet (``srm_keras.export.folding``), as an eager package
        # that imports its submodules would have it.
        if importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *names})

    return __getattr__, __dir__
