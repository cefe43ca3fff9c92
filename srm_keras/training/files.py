"""Atomic file writes: a reader (or a resumed run) never sees a half-written file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras


def _temporary_sibling(path: Path, suffix: str = "") -> Path:
    # Same directory, so os.replace is a rename on one file system.
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")


def write_text(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: str | os.PathLike, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save the architecture and weights, not the training state, atomically.

    A functional model is saved through a fresh ``keras.Model`` over the same layers, so the
    file has no optimizer or compile settings: it loads with ``keras.models.load_model`` after
    ``import srm_keras`` alone, at half the size (no momentum slots). Training state lives in
    the run's backup. The file is written to a temporary name in the same folder and renamed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path, ".keras")
    try:  # a functional model over the same layers (and variables)
        inference = keras.Model(model.inputs, model.outputs, name=model.name)
    except (AttributeError, TypeError, ValueError):  # a subclassed model: saved as it is
        inference = model
    inference.save(tmp)
    os.replace(tmp, path)


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """``model.save_weights`` (``*.weights.h5``) through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path, ".weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays from metrics.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
