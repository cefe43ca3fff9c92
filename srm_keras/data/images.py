"""Decoding image files to RGB, and the scan that finds undecodable files before training.

Two decoders turn a file into uint8 (H, W, 3) RGB; alpha is discarded and greyscale is
replicated to three channels:

* TensorFlow's (``tf.io.decode_image``): JPEG (greyscale and CMYK included), PNG (palette,
  alpha and 16-bit included), GIF (first frame), WebP, and 24/32-bit BMP. It runs in parallel
  without the GIL.
* Pillow's, called through ``tf.numpy_function``, for what TensorFlow cannot decode or decodes
  wrongly: TIFF, PNM, palette and 1-bit BMP (TensorFlow reads palette indices as grey levels)
  and anything else Pillow reads.

:func:`scan_images` runs the very decoder each file will be trained with on every file, so a file
that passes the scan decodes during training too, and reports the files that neither reads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

# Formats TensorFlow decodes correctly (measured against Pillow); BMP only when not palette-based.
TF_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP"})
TF_BMP_MODES = frozenset({"RGB", "RGBA"})


@dataclasses.dataclass(frozen=True)
class ScanResult:
    """Per-file outcome of :func:`scan_images`, aligned with its ``paths`` argument.

    ``valid[i]`` says whether file ``i`` decodes; ``use_pil[i]`` whether it needs Pillow;
    ``shapes[i]`` is its (height, width), zero when invalid; ``skipped`` lists
    ``(path, reason)`` for the invalid files.
    """

    valid: np.ndarray
    use_pil: np.ndarray
    shapes: np.ndarray
    skipped: list[tuple[str, str]]


def decode_tf(path: tf.Tensor) -> tf.Tensor:
    """Read and decode one file with TensorFlow: uint8 (H, W, 3)."""
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=3, dtype=tf.uint8, expand_animations=False
    )
    return tf.ensure_shape(image, [None, None, 3])


def pil_rgb(path: str | bytes | np.ndarray) -> np.ndarray:
    """Read and decode one file with Pillow (first frame): uint8 (H, W, 3)."""
    if isinstance(path, np.ndarray):  # a scalar from tf.numpy_function
        path = path.item()
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I;16") or image.mode == "I":
            # Pillow's RGB conversion clips 16-bit values instead of scaling them
            grey = np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8
            return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=-1)
        return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def decode_pil(path: tf.Tensor) -> tf.Tensor:
    """:func:`pil_rgb` as a TensorFlow op: uint8 (H, W, 3)."""
    image = tf.numpy_function(pil_rgb, [path], tf.uint8, stateful=False)
    return tf.ensure_shape(image, [None, None, 3])


def decode_file(path: tf.Tensor, use_pil: tf.Tensor) -> tf.Tensor:
    """Decode one file with the decoder the scan chose for it."""
    return tf.cond(use_pil, lambda: decode_pil(path), lambda: decode_tf(path))


def _probe(path: str) -> tuple[str, str] | str:
    """(format, mode) from the file header, or the reason Pillow cannot identify it."""
    try:
        with Image.open(path) as image:
            return image.format or "", image.mode
    except Exception as error:  # any failure means "not an image"
        return _reason(error)


def _pil_check(path: str) -> tuple[int, int] | str:
    """(height, width) when Pillow decodes the whole file, else the reason it cannot."""
    try:
        return pil_rgb(path).shape[:2]
    except Exception as error:  # truncated and corrupt files raise many types
        return _reason(error)


def _reason(error: Exception) -> str:
    if isinstance(error, UnidentifiedImageError):
        return "not an image in a known format"
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else 'unreadable'}"


def _tf_check(paths: Sequence[str]) -> dict[int, tuple[int, int]]:
    """Indices of ``paths`` that :func:`decode_tf` decodes, mapped to (height, width)."""
    if not paths:
        return {}
    dataset = (
        tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), list(paths)))
        .map(
            lambda index, path: (index, tf.shape(decode_tf(path))[:2]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        .ignore_errors()
    )
    return {int(index): (int(hw[0]), int(hw[1])) for index, hw in dataset.as_numpy_iterator()}


def _tf_candidate(probe: tuple[str, str] | str) -> bool:
    if isinstance(probe, str):
        return True  # Pillow may lack a codec (WebP) that TensorFlow has
    fmt, mode = probe
    return fmt in TF_FORMATS and (fmt != "BMP" or mode in TF_BMP_MODES)


def scan_images(paths: Sequence[str], workers: int | None = None) -> ScanResult:
    """Decode every file once, choose its decoder, and report the files that do not decode.

    Files are first identified from their headers by Pillow; those in TensorFlow's formats are
    decoded by TensorFlow (in parallel); the rest, and TensorFlow's failures, by Pillow in a
    thread pool. A file fails when neither decodes it completely (truncated files fail).
    """
    paths = [os.fspath(path) for path in paths]
    count = len(paths)
    valid = np.zeros(count, dtype=bool)
    use_pil = np.zeros(count, dtype=bool)
    shapes = np.zeros((count, 2), dtype=np.int64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        probes = list(pool.map(_probe, paths))
        tf_indices = [i for i, probe in enumerate(probes) if _tf_candidate(probe)]
        decoded = _tf_check([paths[i] for i in tf_indices])
        for position, index in enumerate(tf_indices):
            if position in decoded:
                valid[index] = True
                shapes[index] = decoded[position]
        rest = [i for i in range(count) if not valid[i] and not isinstance(probes[i], str)]
        checks = dict(zip(rest, pool.map(_pil_check, [paths[i] for i in rest])))
    skipped = []
    for index in range(count):
        if valid[index]:
            continue
        outcome = checks.get(index, probes[index])
        if isinstance(outcome, str):
            skipped.append((paths[index], outcome))
        else:
            valid[index] = use_pil[index] = True
            shapes[index] = outcome
    return ScanResult(valid=valid, use_pil=use_pil, shapes=shapes, skipped=skipped)
