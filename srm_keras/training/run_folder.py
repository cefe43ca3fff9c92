"""A run folder: the one process that writes it, what must match to resume it, and the order in
which a run finishes.

* **One writer.** ``RunFolder.lock()`` takes an exclusive ``flock`` on ``OUTPUT/.lock`` for as
  long as the run lasts; a second process is refused at once with the holder's pid and host.
  The operating system releases the lock when its holder dies, even by ``SIGKILL``.
* **One recipe per run.** ``RunFolder.prepare(config)`` compares an unfinished run's
  ``config.json`` with the new settings *before anything is written*, and refuses a resume
  whose settings differ in anything that changes what is trained (:data:`FREE_TO_CHANGE` lists
  what may differ), naming each difference and the ways out.
* **Finishing order.** ``fit`` keeps the backup (``keep_backup``); the run writes
  ``model.keras``, ``evaluation.json`` and ``final_metrics.json``, and only then
  ``retire_backup()`` removes it. A kill at any instant leaves a run that resumes (the backup is
  there: the same command finishes it without training again) or a finished one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srm_keras.errors import RunFolderBusy
from srm_keras.training import files

logger = logging.getLogger(__name__)

BACKUP = "backup"
FINAL_METRICS = "final_metrics.json"
CONFIG_JSON = "config.json"
LOCK = ".lock"

#: Settings that may change between the launches of one run: where things are and how the run
#: reports, not what it trains.
FREE_TO_CHANGE = frozenset(
    {"output", "data_dir", "progress", "tensorboard", "resume", "overwrite", "cache", "jit_compile"}
)


class RunFolder:
    """The output folder of a training run (its files: ``srm_keras.training.train``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.backup = self.path / BACKUP
        self.final_metrics = self.path / FINAL_METRICS

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process; raise :class:`RunFolderBusy` if another holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise RunFolderBusy(
                    f"{str(self.path)!r} is being written by {self._holder(fd)}; wait for that "
                    "run to end, or choose another output folder."
                ) from None
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            holder = json.loads(os.pread(fd, 4096, 0))
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["since"]))
            return f"process {holder['pid']} on {holder['host']} (since {since})"
        except (ValueError, KeyError, TypeError):
            return "another process"

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
        finished = self.final_metrics.exists() and not self.backup.exists()
        if finished and not config.overwrite:
            raise ValueError(
                f"{str(self.path)!r} already holds a finished run; choose another output folder "
                "or pass overwrite (--overwrite) to train it again."
            )
        if finished:  # the folder no longer holds a finished run once this one starts
            self.final_metrics.unlink()
        if self.backup.exists():
            logger.info("resuming from the backup in %s", self.backup)
        self.path.mkdir(parents=True, exist_ok=True)
        for path in files.remove_temporaries(self.path, self.backup):  # left by a killed writer
            logger.info("removed %s, left by an interrupted write", path)

    def check_same_settings(self, config) -> None:
        """Refuse to resume with settings that differ from the run's own ``config.json``."""
        stored_path = self.path / CONFIG_JSON
        if not stored_path.is_file():
            return
        stored = json.loads(stored_path.read_text())
        changed = differences(stored, config.to_dict())
        if changed:
            listed = "; ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changed.items())
            raise ValueError(
                f"{str(self.path)!r} holds an unfinished run with other settings: {listed}. "
                f"Resume it with its own settings ({self.path / 'config.toml'}), or start "
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
