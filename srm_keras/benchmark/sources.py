"""What can be benchmarked: zoo models, keras.applications models, exported artifacts, builders.

A contender is named by a string:

* a zoo name, ``"srm_resnet50"``, optionally with keyword options for
  :func:`srm_keras.resnet` after a colon: ``"resnet50:stride_on=1x1"``,
  ``"srm_resnet50:recalibration_kwargs={\"ddof\": 0}"`` (values are JSON, else strings);
* ``"keras_applications_<name>"``: a ``keras.applications`` constructor, matched without case,
  built with ``weights=None`` (``"keras_applications_resnet50"`` is ``ResNet50``);
* the path of an exported artifact: a SavedModel folder, a ``.onnx`` or a ``.tflite`` file
  (inference only).

From Python, a ``(label, builder)`` pair also works: ``builder(input_shape=..., classes=...)``
returns a ``keras.Model``.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from srm_keras.models import create_model, densenet, parse_model_name, resnet

KERAS_APPLICATIONS_PREFIX = "keras_applications_"
ARTIFACT_KINDS = ("savedmodel", "onnx", "tflite")
ARTIFACT_SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}

Builder = Callable[..., keras.Model]


@dataclass(frozen=True)
class Source:
    """One contender: a ``label`` for the tables, its ``kind``, and how to get it.

    ``kind`` is ``"srm_keras"``, ``"keras_applications"`` or ``"custom"`` (Keras models, built by
    ``builder(input_shape=..., classes=...)``), or an artifact kind (``"savedmodel"``,
    ``"onnx"``, ``"tflite"``) read from ``path``.
    """

    label: str
    kind: str
    builder: Builder | None = None
    path: str | None = None

    @property
    def is_artifact(self) -> bool:
        return self.kind in ARTIFACT_KINDS


def _parse_options(text: str, spec: str) -> dict:
    options = {}
    for item in filter(None, (part.strip() for part in _split_top_level(text))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"Bad option {item!r} in {spec!r}: write key=value pairs separated by commas, "
                "e.g. 'resnet50:stride_on=1x1'."
            )
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value.strip()
    return options


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside braces or brackets (JSON values may hold commas)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _check_zoo_name(name: str, options: dict) -> None:
    """Fail on a bad zoo name or option before any model is built or timed."""
    try:
        family, _, _ = parse_model_name(name)
    except ValueError as error:
        raise ValueError(
            f"Unknown model {name!r}: expected a zoo name such as 'srm_resnet50' or "
            "'se_densenet121' (see `srm-keras models --all`), 'keras_applications_resnet50', or "
            f"the path of a SavedModel folder, .onnx or .tflite file ({error})"
        ) from None
    builder = resnet if family == "resnet" else densenet
    accepted = set(list(inspect.signature(builder).parameters)[2:])  # after variant, module
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} in {name!r}; srm_keras.{builder.__name__} accepts "
            f"{sorted(accepted)}."
        )


def _artifact_kind(path: Path) -> str | None:
    if path.is_dir():
        return "savedmodel" if (path / "saved_model.pb").is_file() else None
    return ARTIFACT_SUFFIXES.get(path.suffix.lower())


def _keras_application(name: str):
    wanted = name.lower()
    for attribute in dir(keras.applications):
        value = getattr(keras.applications, attribute)
        if attribute.lower() == wanted and callable(value) and not isinstance(value, type):
            return value
    return None


def resolve(spec) -> Source:
    """Turn a contender spec (see the module docstring) into a :class:`Source`.

    Raises:
        ValueError: for an unknown name, a missing path, or an unknown artifact format.
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and callable(spec[1]):
        return Source(str(spec[0]), "custom", builder=spec[1])
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec:
        raise ValueError(
            f"A model to benchmark must be a name, a path or a (label, builder) pair; "
            f"received {spec!r}."
        )
    path = Path(spec).expanduser()
    looks_like_path = os.sep in spec or path.suffix.lower() in ARTIFACT_SUFFIXES
    if path.exists() or looks_like_path:
        if not path.exists():
            raise ValueError(f"Exported model not found: {spec!r}.")
        kind = _artifact_kind(path)
        if kind is None:
            raise ValueError(
                f"{spec!r} is not a SavedModel folder (with saved_model.pb), a .onnx file or a "
                ".tflite file."
            )
        return Source(spec, kind, path=str(path))
    if spec.lower().startswith(KERAS_APPLICATIONS_PREFIX):
        constructor = _keras_application(spec[len(KERAS_APPLICATIONS_PREFIX) :])
        if constructor is None:
            raise ValueError(
                f"keras.applications has no model {spec[len(KERAS_APPLICATIONS_PREFIX) :]!r} "
                f"(from {spec!r}); e.g. 'keras_applications_resnet50'."
            )

        def build_application(input_shape, classes):
            return constructor(weights=None, input_shape=input_shape, classes=classes)

        return Source(spec, "keras_applications", builder=build_application)
    name, _, option_text = spec.partition(":")
    options = _parse_options(option_text, spec)
    _check_zoo_name(name, options)

    def build_zoo(input_shape, classes):
        return create_model(name, input_shape=input_shape, classes=classes, **options)

    return Source(spec, "srm_keras", builder=build_zoo)
