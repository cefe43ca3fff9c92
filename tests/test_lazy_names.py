"""Packages that resolve their names on first use give the named objects, never a submodule that
happens to share the name (importing ``srm_keras.tuning.searcher`` must not turn
``srm_keras.tuning.search`` into a module)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

LAZY = [
    "srm_keras",
    "srm_keras.benchmark",
    "srm_keras.export",
    "srm_keras.models",
    "srm_keras.training",
    "srm_keras.tuning",
    "srm_keras.weights",
]


@pytest.mark.parametrize("package_name", LAZY)
def test_every_lazy_name_is_the_object_after_every_submodule_is_imported(package_name):
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(package.__path__, prefix=f"{package_name}."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in package._NAMES:
        value = getattr(package, name)
        assert not isinstance(value, types.ModuleType), f"{package_name}.{name} is a module"
    assert set(package._NAMES) <= set(dir(package))


@pytest.mark.parametrize("package_name", LAZY)
def test_an_unknown_name_is_an_attribute_error(package_name):
    package = importlib.import_module(package_name)
    with pytest.raises(AttributeError, match="no_such_name"):
        package.no_such_name  # noqa: B018
