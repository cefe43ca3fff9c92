"""Saving models and weights: a full disk is refused before writing, the previous file kept."""

from __future__ import annotations

import shutil
from collections import namedtuple

import keras
import pytest

from srm_keras.errors import DiskFullError
from srm_keras.training import files

Usage = namedtuple("Usage", "total used free")


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1000)])
    model.compile("sgd", "mse")
    return model


@pytest.fixture
def almost_full(monkeypatch):
    """The file system reports 1 KiB free."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(2**30, 2**30 - 1024, 1024))


def test_a_weights_file_larger_than_the_free_space_is_refused_before_writing(tmp_path, almost_full):
    path = tmp_path / "latest.weights.h5"
    path.write_bytes(b"previous")
    # 3 x 1000 + 1000 float32 weights: 15.6 KiB.
    with pytest.raises(DiskFullError, match=r"\(1.0 KiB free, about 15.6 KiB needed\)"):
        files.save_weights(_model(), path)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.weights.h5"]
