"""SavedModel in the TF Serving layout: ``<root>/<model_name>/<version>/``.

:func:`export_savedmodel` writes one version into a hidden temporary folder beside its final
place and renames it into place at the end, so a failure never leaves a partial version for TF
Serving to load (TF Serving only loads folders whose names are integers). An existing version is
replaced only when asked to (``force``). ``srm_keras.export.export`` goes further: it publishes
a version only once every artifact of the export is verified (:mod:`srm_keras.export.publish`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from srm_keras import storage
from srm_keras.export.frozen import FrozenGraph
from srm_keras.export.signatures import (
    BYTES_SIGNATURE,
    DEFAULT_MAX_PIXELS,
    PIXELS_SIGNATURE,
    check_max_pixels,
    serving_functions,
)
from srm_keras.export.warmup import write_warmup

logger = logging.getLogger(__name__)

MODELS_CONFIG = "models.config"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_model_name(name: str) -> str:
    """``name`` if it is usable as a TF Serving model name and folder name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"model_name {name!r} is not usable as a TF Serving model name; use letters, "
            "digits, '_', '-' and '.', starting with a letter or digit."
        )
    return name


def versions(model_dir: Path) -> list[int]:
    """The numeric versions present in ``model_dir``, ascending."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir: Path) -> int:
    """One more than the highest existing version, or 1."""
    existing = versions(model_dir)
    return existing[-1] + 1 if existing else 1


def write_version(
    frozen: FrozenGraph,
    version_dir: Path,
    model_name: str,
    *,
    top_k: int,
    warmup_image: np.ndarray,
    resize: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> None:
    """Write the SavedModel with both signatures and the warm-up file into ``version_dir``.

    The weights are constants of the frozen graph, so the SavedModel has no variables to
    restore and loads with nothing but TensorFlow. ``max_pixels`` is the largest encoded image
    the bytes signature decodes (see ``signatures.DEFAULT_MAX_PIXELS``).
    """
    pixels_fn, bytes_fn = serving_functions(frozen, top_k, resize, max_pixels)
    module = tf.Module()
    module.serve_pixels = pixels_fn
    module.serve_bytes = bytes_fn
    signatures = {
        PIXELS_SIGNATURE: pixels_fn.get_concrete_function(),
        BYTES_SIGNATURE: bytes_fn.get_concrete_function(),
    }
    tf.saved_model.save(module, str(version_dir), signatures=signatures)
    try:
        write_warmup(version_dir, model_name, warmup_image)
    except ImportError as error:
        # TF Serving loads the version without warm-up; the first requests are slower.
        logger.warning("no warm-up requests written: %s", error)


def export_savedmodel(
    frozen: FrozenGraph,
    root: str | Path,
    model_name: str,
    version: int | None = None,
    *,
    force: bool = False,
    top_k: int = 5,
    warmup_image: np.ndarray | None = None,
    resize: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """Export the frozen serving graph to ``<root>/<model_name>/<version>/`` atomically.

    Returns the version folder.

    ``version`` defaults to the next free integer. An existing version raises ValueError
    unless ``force`` is set, in which case it is replaced only once the new one is complete.
    ``warmup_image`` (height, width, 3; 0-255) builds the warm-up requests; a mid-grey image
    is used when it is None. ``resize`` is the evaluation transform the bytes signature
    applies to decoded files (see ``signatures.decode_images``). ``max_pixels`` is the
    largest image, in pixels, the bytes signature decodes; a larger file is refused from its
    header before it is decoded (default ``signatures.DEFAULT_MAX_PIXELS``, 40 million).
    """
    model_dir = Path(root) / check_model_name(model_name)
    if version is None:
        version = next_version(model_dir)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version must be a positive integer; got {version!r}.")
    check_max_pixels(max_pixels)
    final = model_dir / str(version)
    if final.exists() and not force:
        raise ValueError(
            f"{final} already exists; pass force=True (--force) to replace it, or leave the "
            "version out to write the next one."
        )
    if warmup_image is None:
        warmup_image = np.full((frozen.height, frozen.width, 3), 128.0, np.float32)

    if model_dir.is_dir():
        storage.remove_temporaries(model_dir)  # left by a killed export
    with storage.staging_folder(final) as staging:
        write_version(
            frozen,
            staging / "version",
            model_name,
            top_k=top_k,
            warmup_image=warmup_image,
            resize=resize,
            max_pixels=max_pixels,
        )
        storage.publish_folder(staging / "version", final, replace=force)
    logger.info("wrote SavedModel %s", final)
    write_models_config(Path(root))
    return final


def write_models_config(root: Path, base_path: str = "/models") -> Path:
    """Write ``<root>/models.config`` naming every model folder under ``root`` for TF Serving.

    ``base_path`` is where ``root`` is mounted inside the serving container.
    """
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and versions(p))
    entries = "".join(
        "  config {\n"
        f'    name: "{name}"\n'
        f'    base_path: "{base_path}/{name}"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        for name in names
    )
    path = root / MODELS_CONFIG
    storage.write_text(path, "model_config_list {\n" + entries + "}\n")
    return path
