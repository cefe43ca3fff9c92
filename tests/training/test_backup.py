"""The run's backup is committed by one rename: a crash anywhere leaves one whole backup."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from srm_keras import storage
from srm_keras.training import callbacks


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _backup(model, directory, epoch: int) -> None:
    """What fit does at the end of ``epoch`` (0-based) with the run's backup callback."""
    callback = callbacks.AtomicBackupAndRestore(str(directory), delete_checkpoint=False)
    callback.set_model(model)
    callback.on_epoch_end(epoch)


def _restored(directory):
    model = _model(99)
    callback = callbacks.AtomicBackupAndRestore(str(directory), delete_checkpoint=False)
    callback.set_model(model)
    callback.on_train_begin()
    return model, model._initial_epoch


def test_a_crash_before_the_epoch_record_leaves_the_previous_backup(tmp_path, monkeypatch):
    directory = tmp_path / "backup"
    first, second = _model(1), _model(2)
    _backup(first, directory, epoch=0)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between the weights and the epoch record")

    monkeypatch.setattr(storage, "write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        _backup(second, directory, epoch=1)  # its weights are written, its record is not
    monkeypatch.undo()
    model, epoch = _restored(directory)
    assert epoch == 1  # resumes after epoch 0, with epoch 0's weights
    for got, want in zip(model.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_the_backup_holds_one_weights_file_named_by_its_record(tmp_path):
    directory = tmp_path / "backup"
    for epoch, seed in enumerate((1, 2, 3)):
        _backup(_model(seed), directory, epoch)
    record = json.loads((directory / "training_metadata.json").read_text())
    assert record == {"epoch": 3, "batch": 0, "weights": "epoch-00003.weights.h5"}
    assert sorted(p.name for p in directory.iterdir()) == [
        "epoch-00003.weights.h5",
        "training_metadata.json",
    ]
    model, epoch = _restored(directory)
    assert epoch == 3
    for got, want in zip(model.get_weights(), _model(3).get_weights()):
        np.testing.assert_array_equal(got, want)
