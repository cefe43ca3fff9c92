"""Atomic file writes: a reader (or a resumed run) never sees a half-written file."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np

from srm_keras.errors import DiskFullError


def _temporary_sibling(path: Path, suffix: str = "") -> Path:
    # Same directory, so os.replace is a rename on one file system.
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")


#: The names ``_temporary_sibling`` gives: ``.<stem>.<pid>.tmp<suffix>``.
_TEMPORARY_NAME = re.compile(r"^\..+\.\d+\.tmp(\.[\w.]+)?$")


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = "", needs_bytes: int = 0) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it over ``path`` on success.

    On any failure the temporary file is removed and ``path`` is left as it was. Running out of
    space (checked first against ``needs_bytes``, and whenever a write fails with ENOSPC)
    raises :class:`DiskFullError` with what to do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path.parent).free
    if needs_bytes and free < needs_bytes:
        raise DiskFullError(errno.ENOSPC, _disk_full(path, free, needs_bytes))
    tmp = _temporary_sibling(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if _is_disk_full(error):
            raise DiskFullError(errno.ENOSPC, _disk_full(path, free, needs_bytes)) from error
        raise


def _is_disk_full(error: BaseException) -> bool:
    # h5py reports ENOSPC in its message rather than in errno.
    return isinstance(error, OSError) and (
        error.errno == errno.ENOSPC or "No space left" in str(error) or "errno = 28" in str(error)
    )


def _disk_full(path: Path, free: int, needs: int) -> str:
    wanted = f", about {_size(needs)} needed" if needs else ""
    return (
        f"no space left to write {path} ({_size(free)} free{wanted}); nothing was changed. "
        "Free some space and run the same command again."
    )


def _size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def remove_temporaries(*folders: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writers left in ``folders`` (not below them);
    call it only while holding the folders, when no live writer can be using them."""
    found = [
        path
        for folder in folders
        for path in Path(folder).glob(".*.tmp*")
        if _TEMPORARY_NAME.match(path.name) and path.is_file()
    ]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def _state_bytes(model: keras.Model) -> int:
    """Bytes of the model's variables and its optimiser's: what a weights file holds, about."""
    variables = list(model.variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return sum(math.prod(v.shape) * _itemsize(v.dtype) for v in variables)


def _itemsize(dtype) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # bfloat16, which NumPy does not know
        return 2


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save the architecture and weights, not the training state, atomically.

    A functional model is saved through a fresh ``keras.Model`` over the same layers, so the
    file has no optimizer or compile settings: it loads with ``keras.models.load_model`` after
    ``import srm_keras`` alone, at half the size (no momentum slots). Training state lives in
    the run's backup. The file is written to a temporary name in the same folder and renamed.
    """
    try:  # a functional model over the same layers (and variables)
        inference = keras.Model(model.inputs, model.outputs, name=model.name)
    except (AttributeError, TypeError, ValueError):  # a subclassed model: saved as it is
        inference = model
    with replacing(path, ".keras", needs_bytes=_state_bytes(inference)) as tmp:
        inference.save(tmp)


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """``model.save_weights`` (``*.weights.h5``) through a temporary file and a rename."""
    with replacing(path, ".weights.h5", needs_bytes=_state_bytes(model)) as tmp:
        model.save_weights(tmp)


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays from metrics.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
