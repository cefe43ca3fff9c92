"""Callbacks of a training run that must survive being killed at any instant.

Every file they write goes through a temporary file and a rename, and each one knows how to pick
up after ``BackupAndRestore`` restarts a run at a later epoch.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import keras

from srm_keras import storage
from srm_keras.training import files


class LearningRateLogger(keras.callbacks.Callback):
    """Adds ``learning_rate`` to the epoch logs: the rate at the epoch's first step.

    Place it before the callbacks that write the logs.
    """

    def on_epoch_begin(self, epoch, logs=None):
        rate = self.model.optimizer.learning_rate
        self._rate = float(keras.ops.convert_to_numpy(rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self._rate


class HistoryCSV(keras.callbacks.Callback):
    """One row per finished epoch in ``path``, rewritten atomically after each epoch.

    Unlike ``keras.callbacks.CSVLogger(append=True)``, a resumed run first drops the rows of
    epochs at or after the epoch it resumes from (an epoch logged before the process died but
    after its last backup is trained again), so every epoch appears exactly once.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = Path(path)
        self._rows: list[dict[str, str]] | None = None

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))

    def on_epoch_begin(self, epoch, logs=None):
        if self._rows is None:  # first epoch of this process: epoch is where the run resumes
            self._rows = [row for row in self._read() if int(row["epoch"]) < epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": str(epoch)}
        row.update({key: repr(float(value)) for key, value in (logs or {}).items()})
        self._rows.append(row)
        keys = list(dict.fromkeys(key for r in self._rows for key in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        storage.write_text(self.path, buffer.getvalue())


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model to ``path`` (a ``.keras`` file) whenever ``monitor`` improves.

    The architecture and weights (see :func:`srm_keras.training.files.save_model`) go to a
    temporary file in the same folder that is renamed over ``path``; a JSON
    sidecar (``path`` with ``.json``) records the epoch and value, so a resumed run keeps
    comparing against the best epoch it already has.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_accuracy", mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}.")
        self.path = Path(path)
        self.record_path = self.path.with_suffix(".json")
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None
        self.best_epoch: int | None = None
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        if self.record_path.is_file() and self.path.is_file():
            record = json.loads(self.record_path.read_text())
            # A best from an epoch that is being trained again is not trusted.
            if record.get("monitor") == self.monitor and record["epoch"] < epoch:
                self.best, self.best_epoch = float(record["value"]), int(record["epoch"])

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.monitor not in logs:
            raise ValueError(
                f"BestModelCheckpoint monitors {self.monitor!r}, which the epoch logs lack "
                f"(they have {sorted(logs or {})}); train with validation data."
            )
        value = float(logs[self.monitor])
        if not self._improved(value):
            return
        self.best, self.best_epoch = value, epoch
        files.save_model(self.model, self.path)
        storage.write_json(
            self.record_path, {"monitor": self.monitor, "epoch": epoch, "value": value}
        )


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` whose backups are committed by one rename.

    The stock callback overwrites ``latest.weights.h5`` in place and then the epoch record, so a
    kill during either write, or between them, leaves weights that cannot be read or that do
    not belong to the recorded epoch (a resume then repeats an epoch with the optimiser one
    epoch ahead). Here each backup's weights (optimiser state included) go to a file of their
    own, ``epoch-NNNNN.weights.h5``; the epoch record, which names that file, is then renamed
    into place: that one rename commits the backup. Older weights files are removed after it.
    A kill at any instant leaves the previous backup or the new one.
    """

    def _load_model(self):
        record_path = Path(self._training_metadata_path)
        if not record_path.is_file():
            return
        record = json.loads(record_path.read_text())
        # Records without "weights" come from the stock layout (latest.weights.h5).
        weights = Path(self.backup_dir) / record.get("weights", Path(self._weights_path).name)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = record["epoch"]

    def _save_model(self):
        backup = Path(self.backup_dir)
        name = f"epoch-{self._current_epoch:05d}.weights.h5"
        files.save_weights(self.model, backup / name)
        storage.write_json(
            self._training_metadata_path,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name},
        )
        for stale in backup.glob("*.weights.h5"):
            if stale.name != name:
                stale.unlink(missing_ok=True)
