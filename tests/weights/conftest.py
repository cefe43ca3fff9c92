"""Fixtures of the weight-conversion tests."""

import pytest

from tests.weights.helpers import build


@pytest.fixture(scope="session")
def cached_model():
    """``cached_model(depth, module, size, tag="", **kwargs)``: one model per arguments.

    Building a ResNet-50 takes seconds on two cores, so tests share models. A test that uses
    one must assign every weight it relies on (a strict load or ``randomize`` does).
    """
    models = {}

    def get(depth, module=None, size=64, tag="", **kwargs):
        key = (depth, module, size, tag, tuple(sorted(kwargs.items())))
        if key not in models:
            models[key] = build(depth, module, size=size, **kwargs)
        return models[key]

    return get
