"""Publishing an export: only a verified artifact set becomes a servable version.

TF Serving serves the highest numeric version folder of a model. An export therefore builds its
whole artifact set — the SavedModel version, TFLite, ONNX, the verification images and the
report — in a hidden staging folder, verifies it there, and only then publishes it:

1. the staging folder is renamed to ``.publishing`` (with ``publishing.json`` naming the model
   and version): from here on the export is committed to finishing;
2. an existing version of that number (``force``) is moved into ``.publishing/replaced``, and
   the new SavedModel is renamed to ``savedmodel/<name>/<version>``: **the commit point**, one
   rename;
3. the TFLite and ONNX files, the verification images and last the report are renamed into
   place, ``models.config`` is rewritten, and ``.publishing`` is removed.

A kill at any instant is repaired by the next export or ``verify`` of the folder
(:func:`recover`): before the commit point the attempt is rolled back (a replaced version is put
back), after it rolled forward. A set that fails verification is never published: it is moved to
``rejected/<name>-v<version>-<time>/`` for inspection, and the previous highest version stays in
charge. Every export holds the folder's ``.lock`` (see :func:`hold`), so two exports into one
folder never pick the same version: the second is refused at once, naming the first.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from srm_keras import storage

logger = logging.getLogger(__name__)

LOCK = ".lock"
PUBLISHING = ".publishing"
RECORD = "publishing.json"
REPLACED = "replaced"
REJECTED = "rejected"
SAVEDMODEL = "savedmodel"


@contextmanager
def hold(output_dir: Path) -> Iterator[None]:
    """Hold the export folder for this process, then repair what a killed export left.

    Raises :class:`~srm_keras.errors.FolderBusy` when another process is exporting into it.
    """
    with storage.hold(
        output_dir / LOCK,
        what=f"the export folder {str(output_dir)!r}",
        advice="wait for that export to end, or export into another folder.",
    ):
        recover(output_dir)
        folders = [output_dir, output_dir / "tflite", output_dir / "onnx"]
        folders += [p for p in (output_dir / SAVEDMODEL).glob("*") if p.is_dir()]
        for path in storage.remove_temporaries(*(f for f in folders if f.is_dir())):
            logger.info("removed %s, left by an interrupted export", path)
        yield


def staging(output_dir: Path):
    """A context manager yielding the hidden folder an artifact set is built in (removed on
    failure; see :func:`publish`)."""
    return storage.staging_folder(output_dir / "export")


def _version_dir(root: Path, record: dict) -> Path:
    return root / SAVEDMODEL / record["model_name"] / str(record["version"])


def publish(staged: Path, output_dir: Path, model_name: str, version: int | None) -> None:
    """Publish the verified artifact set in ``staged`` (the layout of an export folder).

    ``version`` is None when the set has no SavedModel. The caller holds the folder.
    """
    storage.write_json(staged / RECORD, {"model_name": model_name, "version": version})
    journal = output_dir / PUBLISHING
    os.replace(staged, journal)  # committed to finishing (recover rolls forward or back)
    if version is not None:
        record = {"model_name": model_name, "version": version}
        live = _version_dir(output_dir, record)
        live.parent.mkdir(parents=True, exist_ok=True)
        if live.exists():
            os.replace(live, journal / REPLACED)
        os.replace(_version_dir(journal, record), live)  # the commit point
    _finish(journal, output_dir)


def reject(staged: Path, output_dir: Path, model_name: str, version: int | None) -> Path:
    """Move a set that failed verification to ``rejected/`` and return where it is."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{model_name}-v{version}-{stamp}" if version is not None else f"{model_name}-{stamp}"
    target = output_dir / REJECTED / name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)
    return target


def recover(output_dir: Path) -> None:
    """Finish or undo a publication that a kill interrupted (the caller holds the folder)."""
    journal = output_dir / PUBLISHING
    if not journal.is_dir():
        return
    record_path = journal / RECORD
    record = storage.read_json(record_path) if record_path.is_file() else None
    if record and record["version"] is not None:
        staged_version = _version_dir(journal, record)
        if staged_version.exists():  # killed before the commit point: roll back
            live = _version_dir(output_dir, record)
            if (journal / REPLACED).exists() and not live.exists():
                os.replace(journal / REPLACED, live)
            logger.warning(
                "an interrupted export of %s version %s was not published; removed it",
                record["model_name"],
                record["version"],
            )
            shutil.rmtree(journal)
            return
    if record is None:  # killed while renaming the staging folder: nothing was published
        shutil.rmtree(journal)
        return
    logger.warning(
        "finishing the interrupted export of %s version %s", record["model_name"], record["version"]
    )
    _finish(journal, output_dir)


def _finish(journal: Path, output_dir: Path) -> None:
    """Move every remaining file of the journal into place, the report last; rewrite
    ``models.config``; remove the journal. Idempotent: a kill here is finished by the next."""
    from srm_keras.export.savedmodel import write_models_config

    _move_into_place(journal, output_dir)
    if (output_dir / SAVEDMODEL).is_dir():
        write_models_config(output_dir / SAVEDMODEL)
    shutil.rmtree(journal)


def _move_into_place(journal: Path, output_dir: Path) -> None:
    from srm_keras.export.report import REPORT_JSON, REPORT_MARKDOWN

    last = {REPORT_JSON, REPORT_MARKDOWN}
    skip = {RECORD, REPLACED, SAVEDMODEL}
    for entry in sorted(journal.iterdir(), key=lambda p: p.name in last):
        if entry.name in skip:
            continue
        if entry.is_dir():  # tflite/, onnx/: file by file
            (output_dir / entry.name).mkdir(exist_ok=True)
            for file in entry.iterdir():
                os.replace(file, output_dir / entry.name / file.name)
        else:
            os.replace(entry, output_dir / entry.name)
