"""Loading Keras weight files (``.keras``, ``.weights.h5``) with the head rule of the zoo.

Keras reads these files by position (``layers/conv2d_3/vars/0``): a classifier of another size
stops it with a long trace, and weights the model lacks are silently ignored. Here the file's
variables are compared with the model's first (their shapes and layer names, read with h5py),
so that a classifier that does not fit is left out with a warning (``srm_keras.weights.head``)
and any other difference is one error that lists them all, before anything is assigned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator

import keras

from srm_keras.weights.head import HEAD_LAYER, HeadMismatch, warn_head_mismatch

logger = logging.getLogger(__name__)

KERAS_SUFFIXES = (".keras", ".weights.h5")
# The weights inside a .keras archive.
_ARCHIVE_WEIGHTS = "model.weights.h5"
# Lines listed per kind of problem; the rest are counted.
_LISTED = 20

# variable path in the file -> (shape, name of the layer that owns it, or "" if not recorded)
Variables = dict[str, tuple[tuple[int, ...], str]]


def is_keras_weights_path(path) -> bool:
    """Whether ``path`` names a ``.keras`` or ``.weights.h5`` file (by its suffix)."""
    return isinstance(path, str | os.PathLike) and os.fspath(path).lower().endswith(KERAS_SUFFIXES)


def load_keras_weights(
    model: keras.Model, path: str | os.PathLike, replace_head: bool = False
) -> HeadMismatch | None:
    """Load a ``.keras`` or ``.weights.h5`` file into a model built by :func:`srm_keras.resnet`.

    When only the classifier differs (another number of classes, or a file without one),
    every other weight is loaded and a :class:`~srm_keras.weights.HeadMismatchWarning` names
    the classifier's variables with both shapes, unless ``replace_head`` says the new head is
    deliberate (then it is logged). A file's classifier that a model without one
    (``include_top=False``) has no place for is left out with a log message.

    Any other file (a legacy ``.h5``) goes to ``model.load_weights`` as it is.

    Returns:
        The classifier left out because it does not fit, or None.

    Raises:
        ValueError: for a missing or unreadable file, or, when anything but the classifier
            differs: one error listing every variable missing from the file, unused in it or
            of another shape, with nothing assigned.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights file not found: {path!r}.")
    if not is_keras_weights_path(path):
        # A legacy HDF5 file (.h5) is Keras' to read, by its own rules.
        model.load_weights(path)
        return None
    found, expected = read_variables(path), model_variables(model)
    head = _head_keys(found) | _head_keys(expected)
    missing = sorted(set(expected) - set(found))
    unused = sorted(set(found) - set(expected))
    mismatched = sorted(k for k in set(found) & set(expected) if found[k][0] != expected[k][0])
    if set(missing + unused + mismatched) - head:
        problems = (missing, unused, mismatched)
        raise ValueError(_problems_message(model, path, found, expected, *problems))
    mismatch = None
    if not (missing or mismatched):
        if unused:
            logger.info(
                "Classifier not loaded (the model has no classifier, include_top=False): %s.",
                ", ".join(unused),
            )
        model.load_weights(path)
    else:
        mismatch = _head_mismatch(model, path, found, expected)
        with warnings.catch_warnings():
            # Keras' own report of the skipped classifier; ours follows.
            warnings.simplefilter("ignore")
            model.load_weights(path, skip_mismatch=True)
        if replace_head:
            logger.info("New classifier, as asked: %s", "; ".join(mismatch.tensors))
        else:
            warn_head_mismatch(mismatch)
    return mismatch


def read_variables(path: str | os.PathLike) -> Variables:
    """The layers' variables of a ``.keras`` or ``.weights.h5`` file, without loading them."""
    import h5py

    path = os.fspath(path)
    try:
        with _weights_h5(path) as file, h5py.File(file, "r") as h5:
            return _variables(h5)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"Cannot read the weights of {path!r}: {error}") from error


def model_variables(model: keras.Model) -> Variables:
    """The variables a weights file of ``model`` holds, as Keras would save them."""
    import h5py

    with tempfile.TemporaryDirectory(prefix="srm_keras_") as folder:
        path = os.path.join(folder, "model.weights.h5")
        model.save_weights(path)
        with h5py.File(path, "r") as h5:
            return _variables(h5)


@contextlib.contextmanager
def _weights_h5(path: str) -> Iterator:
    if path.lower().endswith(".keras"):
        with zipfile.ZipFile(path) as archive, archive.open(_ARCHIVE_WEIGHTS) as file:
            yield file
    else:
        yield path


def _variables(h5) -> Variables:
    import h5py

    found: Variables = {}

    def visit(name, item):
        # Only the layers: a trained model's file also holds its optimizer's variables.
        if isinstance(item, h5py.Dataset) and name.startswith("layers/"):
            layer = item.parent.attrs.get("name", "")
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            found[name] = (tuple(int(n) for n in item.shape), layer)

    h5.visititems(visit)
    return found


def _head_keys(variables: Variables) -> set[str]:
    return {key for key, (_, layer) in variables.items() if layer == HEAD_LAYER}


def _label(key: str, variables: Variables) -> str:
    layer = variables[key][1]
    return f"{layer} variable {key.rsplit('/', 1)[-1]} ({key})" if layer else key


def _head_mismatch(model, path: str, found: Variables, expected: Variables) -> HeadMismatch:
    ours = sorted(k for k, (_, layer) in expected.items() if layer == HEAD_LAYER)
    theirs = {
        k.rsplit("/", 1)[-1]: shape for k, (shape, layer) in found.items() if layer == HEAD_LAYER
    }
    variables = model.get_layer(HEAD_LAYER).weights  # kernel, bias: the order Keras saves
    tensors = []
    for key, variable in zip(ours, variables):
        shape = theirs.get(key.rsplit("/", 1)[-1])
        tensors.append(
            f"{variable.path}: file {'absent' if shape is None else shape}, "
            f"model {expected[key][0]}"
        )
    kernel = theirs.get("0")
    return HeadMismatch(
        source=repr(path),
        tensors=tuple(tensors),
        checkpoint_classes=None if kernel is None else int(kernel[-1]),
        model_classes=int(model.get_layer(HEAD_LAYER).units),
    )


def _problems_message(model, path, found, expected, missing, unused, mismatched) -> str:
    groups = (
        ("Missing from the file", [_label(k, expected) for k in missing]),
        ("In the file but not in the model", [_label(k, found) for k in unused]),
        (
            "Shape mismatches",
            [
                f"{_label(k, expected)}: file {found[k][0]}, model {expected[k][0]}"
                for k in mismatched
            ],
        ),
    )
    total = sum(len(lines) for _, lines in groups)
    lines = [f"Cannot load {path!r} into model {model.name!r}: {total} problems."]
    for title, found_lines in groups:
        if found_lines:
            lines.append(f"{title} ({len(found_lines)}):")
            lines.extend(f"  {line}" for line in found_lines[:_LISTED])
            if len(found_lines) > _LISTED:
                lines.append(f"  ... and {len(found_lines) - _LISTED} more")
    lines.append(
        "Check that the model matches the file: depth, recalibration module, input size "
        "(GE-θ) and classes; only a classifier of another size is left out by itself."
    )
    return "\n".join(lines)
