"""The scripts in benchmarks/ are not a package: their tests load them by path."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)`` gives ``benchmarks/<name>.py`` as a module (no ``__main__`` run)."""
    return _load
