"""Atomic writes: a full disk and an interrupted write leave the previous file and no debris."""

from __future__ import annotations

import errno
import shutil
import types
from collections import namedtuple

import keras
import pytest

from srm_keras.errors import DiskFullError
from srm_keras.training import files
from srm_keras.training.run_folder import RunFolder

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


def test_disk_full_during_a_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("previous")
    with pytest.raises(DiskFullError, match="Free some space and run the same command again"):
        with files.replacing(path) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_any_failure_removes_the_temporary_file(tmp_path):
    path = tmp_path / "model.keras"
    with pytest.raises(KeyboardInterrupt):
        with files.replacing(path, ".keras") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_run_folder_removes_what_killed_writers_left(tmp_path):
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    left = [run / ".best.4242.tmp.keras", run / "backup" / ".epoch-00002.weights.77.tmp.weights.h5"]
    for path in left:
        path.write_bytes(b"half")
    mine = run / ".notes.tmp"  # not a name this library writes: kept
    mine.write_text("keep")
    config = types.SimpleNamespace(resume=True, overwrite=False)
    with RunFolder(run).lock():
        RunFolder(run).prepare(config)
    assert not any(path.exists() for path in left) and mine.exists()
