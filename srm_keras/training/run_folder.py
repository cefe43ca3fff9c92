"""A run folder: every file name in it, the one process that writes it, what must match to
resume it, and the order in which a run finishes.

The layout (each name is defined here once; everything else asks a :class:`RunFolder`)::

    config.toml, config.json   the resolved settings
    history.csv                one row per epoch (losses, accuracies, learning rate)
    best.keras, best.json      the model of the best validation accuracy, and its epoch
    model.keras                the final model
    evaluation.json            top-1/top-5, per-class accuracy, confusion matrix (final model)
    final_metrics.json         the summary: val_accuracy, val_top5_accuracy, epochs, ...
    training_curves.png        loss / accuracy / learning-rate curves
    tensorboard/               TensorBoard logs
    backup/                    the resume state, until the final files are written
    .lock                      held by the one process that writes the folder

* **One writer.** :meth:`RunFolder.lock` holds ``.lock`` for as long as the run lasts; a second
  process is refused at once with the holder's pid and host
  (:class:`~srm_keras.errors.RunFolderBusy`).
* **One recipe per run.** :meth:`RunFolder.prepare` compares an unfinished run's
  ``config.json`` with the new settings *before anything is written*, and refuses a resume
  whose settings differ in anything that changes what is trained (:data:`FREE_TO_CHANGE` lists
  what may differ), naming each difference and the ways out.
* **Finishing order.** ``fit`` keeps the backup; the run writes ``model.keras``,
  ``evaluation.json`` and ``final_metrics.json``, and only then :meth:`RunFolder.retire_backup`
  removes the backup. A kill at any instant leaves a run that resumes (the same command
  finishes it without training again) or a finished one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srm_keras import storage
from srm_keras.errors import RunFolderBusy

logger = logging.getLogger(__name__)

CONFIG_TOML = "config.toml"
CONFIG_JSON = "config.json"
HISTORY = "history.csv"
BEST_MODEL = "best.keras"
BEST_RECORD = "best.json"
MODEL = "model.keras"
EVALUATION = "evaluation.json"
FINAL_METRICS = "final_metrics.json"
CURVES = "training_curves.png"
TENSORBOARD = "tensorboard"
BACKUP = "backup"
LOCK = ".lock"

#: Settings that may change between the launches of one run: where things are and how the run
#: reports, not what it trains.
FREE_TO_CHANGE = frozenset(
    {
        "output",
        "data_dir",
        "download",
        "progress",
        "tensorboard",
        "resume",
        "overwrite",
        "cache",
        "jit_compile",
    }
)


class RunFolder:
    """The output folder of a training run: its files (module doc), its lock and its state."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.config_toml = self.path / CONFIG_TOML
        self.config_json = self.path / CONFIG_JSON
        self.history = self.path / HISTORY
        self.best_model = self.path / BEST_MODEL
        self.best_record = self.path / BEST_RECORD
        self.model = self.path / MODEL
        self.evaluation = self.path / EVALUATION
        self.final_metrics = self.path / FINAL_METRICS
        self.curves = self.path / CURVES
        self.tensorboard = self.path / TENSORBOARD
        self.backup = self.path / BACKUP

    @classmethod
    def of(cls, path: str | os.PathLike) -> RunFolder | None:
        """The run folder ``path`` is, or holds a file of (a ``.keras`` file inside one), or
        None when there is no ``config.json`` there."""
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        return cls(folder) if (folder / CONFIG_JSON).is_file() else None

    def settings(self) -> dict[str, Any]:
        """The run's recorded settings (its ``config.json``)."""
        try:
            return storage.read_json(self.config_json)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read {self.config_json}: {error}") from None

    def split_settings(self) -> dict[str, Any]:
        """What rebuilds the run's held-out split and its evaluation transform, from its
        ``config.json``: ``dataset``, ``data_dir``, ``image_size``, and ``validation_split``,
        ``seed`` and ``augment`` with what training uses when a run names none (``TrainConfig``'s
        defaults; seed 0, as ``training/recipe.py`` splits). ``srm-keras evaluate``, the
        analyses and the export's verification images all read the split from here."""
        from srm_keras.training.config import TrainConfig

        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        settings = self.settings()
        split = settings.get("validation_split")
        seed = settings.get("seed")
        try:
            return {
                "dataset": settings.get("dataset"),
                "data_dir": settings.get("data_dir"),
                "image_size": settings.get("image_size"),
                "validation_split": float(defaults["validation_split"] if split is None else split),
                "seed": 0 if seed is None else int(seed),
                "augment": settings.get("augment") or defaults["augment"],
            }
        except (TypeError, ValueError):
            raise ValueError(
                f"{self.config_json}: validation_split {split!r} or seed {seed!r} is not a "
                "number; correct the file."
            ) from None

    @property
    def finished(self) -> bool:
        return self.final_metrics.exists() and not self.backup.exists()

    @contextlib.contextmanager
    def lock(self) -> Iterator[RunFolder]:
        """Hold the folder for this process; raise :class:`RunFolderBusy` if another holds it.

        Once it is held, the temporary files of writers that were killed are removed.
        """
        with storage.hold(
            self.path / LOCK,
            what=repr(str(self.path)),
            advice="wait for that run to end, or choose another output folder.",
            busy=RunFolderBusy,
        ):
            for path in storage.remove_temporaries(self.path, self.backup):
                logger.info("removed %s, left by an interrupted write", path)
            yield self

    def prepare(self, config) -> None:
        """Check the folder before the run writes anything; then create it.

        Resuming an unfinished run needs the same settings (see :data:`FREE_TO_CHANGE`); a
        finished run is trained again only with ``overwrite``; ``resume=False`` discards an
        unfinished run's progress.
        """
        if self.backup.exists():
            if not config.resume:
                logger.info("resume is off: removing the backup in %s", self.backup)
                shutil.rmtree(self.backup)
            else:
                self.check_same_settings(config)
        if self.finished and not config.overwrite:
            raise ValueError(
                f"{str(self.path)!r} already holds a finished run; choose another output folder "
                "or pass overwrite (--overwrite) to train it again."
            )
        if self.finished:  # the folder no longer holds a finished run once this one starts
            self.final_metrics.unlink()
        if self.backup.exists():
            logger.info("resuming from the backup in %s", self.backup)
        self.path.mkdir(parents=True, exist_ok=True)

    def check_same_settings(self, config) -> None:
        """Refuse to resume with settings that differ from the run's own ``config.json``."""
        if not self.config_json.is_file():
            return
        changed = differences(self.settings(), config.to_dict())
        if changed:
            listed = "; ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changed.items())
            raise ValueError(
                f"{str(self.path)!r} holds an unfinished run with other settings: {listed}. "
                f"Resume it with its own settings ({self.config_toml}), or start "
                "afresh: another output folder, or no resume (--no-resume) to discard its "
                "progress."
            )

    def retire_backup(self) -> None:
        """Remove the backup once the final files are written: the run is finished."""
        shutil.rmtree(self.backup, ignore_errors=True)


def differences(stored: dict[str, Any], settings: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The settings that differ and change what is trained: ``{key: (stored, new)}``.

    Keys the stored config lacks (written by an older version) are not compared.
    """
    new = json.loads(json.dumps(settings))  # the stored config went through JSON too
    return {
        key: (stored[key], new.get(key))
        for key in sorted(stored)
        if key not in FREE_TO_CHANGE and stored[key] != new.get(key)
    }
