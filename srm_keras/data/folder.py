"""Image-folder sources: one sub-folder of images per class.

Layouts:

* ``root/<class>/...``: a seeded split, stratified by class, holds out ``validation_split``
  of every class.
* ``root/train/<class>/...`` with ``root/val`` (or ``validation`` or ``test``)
  ``/<class>/...``: the given split. ``root/train`` alone is split like the first layout.
  ``train_split`` and ``validation_split_name`` name other sub-folders.

Class names are the training class folder names, sorted; labels index them. Images are found
recursively in each class folder by extension (:data:`IMAGE_EXTENSIONS`, any case); hidden files
and folders are ignored. Every image is decoded once before training (see
:func:`srm_keras.data.images.scan_images`), and only new or changed ones on the next run (see
:mod:`srm_keras.data.scan_manifest`); undecodable ones are skipped with a warning, or raise
ValueError with ``strict=True``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from srm_keras.data import images, scan_manifest
from srm_keras.data.source import SourceData, Split, stratified_holdout

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".gif", ".webp", ".tif", ".tiff"}
    | {".ppm", ".pgm", ".pbm", ".pnm"}
)
TRAIN_FOLDER = "train"
VALIDATION_FOLDERS = ("val", "validation", "test")
MAX_LISTED = 50


def folder_source(
    root: str | os.PathLike,
    *,
    validation_split: float,
    seed: int,
    strict: bool,
    train_split: str | None = None,
    validation_split_name: str | None = None,
) -> SourceData:
    """The :class:`SourceData` of the image folder ``root`` (see the module docstring)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise ValueError(f"Image folder {root} does not exist.")
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; expected one sub-folder of images per class.")
    class_root, validation_root = _layout(root, train_split, validation_split_name)
    class_names = _class_names(class_root)
    files = _class_files(class_root, class_names, require_each=True)
    held_out = _class_files(validation_root, class_names) if validation_root else []
    paths = [path for path, _ in files + held_out]
    labels = np.array([label for _, label in files + held_out], dtype=np.int32)
    in_validation = np.arange(len(paths)) >= len(files)

    scan = scan_manifest.scan_folder(root, paths)
    _report(scan.skipped, root, strict)
    _require_images(class_names, labels[scan.valid & ~in_validation], class_root)
    if validation_root is None:
        in_validation = np.zeros(len(paths), dtype=bool)
        in_validation[scan.valid] = stratified_holdout(labels[scan.valid], validation_split, seed)
    elif not np.any(scan.valid & in_validation):
        raise ValueError(f"{validation_root} holds no decodable images.")

    paths = np.array(paths, dtype=object)
    splits = [
        _split(paths[keep], labels[keep], scan.use_pil[keep], scan.shapes[keep])
        for keep in (scan.valid & ~in_validation, scan.valid & in_validation)
    ]
    decode = _decode_mixed if scan.use_pil[scan.valid].any() else _decode_tf
    return SourceData(
        train=splits[0],
        validation=splits[1],
        decode=decode,
        class_names=tuple(class_names),
        skipped=tuple(scan.skipped),
        records_are_references=True,
    )


def _layout(
    root: Path, train_split: str | None, validation_split_name: str | None
) -> tuple[Path, Path | None]:
    """(class root of the training images, class root of the validation images or None)."""
    folders = {path.name.lower(): path for path in _subfolders(root)}
    train = folders.get((train_split or TRAIN_FOLDER).lower())
    if validation_split_name is not None:
        validation = folders.get(validation_split_name.lower())
        if validation is None:
            raise ValueError(f"{root} has no validation folder {validation_split_name!r}.")
    else:
        validation = next((folders[n] for n in VALIDATION_FOLDERS if n in folders), None)
    if train_split is not None and train is None:
        raise ValueError(f"{root} has no training folder {train_split!r}.")
    if train is not None and (validation is not None or len(folders) == 1):
        ignored = set(folders.values()) - {train, validation}
        if ignored:
            logger.warning("ignoring folders beside the splits: %s", sorted(map(str, ignored)))
        return train, validation
    if validation_split_name is not None:
        raise ValueError(f"{root} has a {validation_split_name!r} folder but no training folder.")
    return root, None


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _class_names(class_root: Path) -> list[str]:
    loose = sorted(p.name for p in class_root.iterdir() if p.is_file() and _is_image(p.name))
    if loose:
        raise ValueError(
            f"{class_root} holds images directly ({', '.join(loose[:5])}, ...); put them in one "
            "sub-folder per class."
        )
    names = [path.name for path in _subfolders(class_root)]
    if not names:
        raise ValueError(
            f"{class_root} has no class folders; expected one sub-folder of images per class "
            f"(such as {class_root / 'cat' / '0001.jpg'})."
        )
    if len(names) == 1:
        raise ValueError(
            f"{class_root} has a single class folder {names[0]!r}; classification needs at "
            "least two classes."
        )
    return names


def _class_files(
    class_root: Path, class_names: list[str], require_each: bool = False
) -> list[tuple[str, int]]:
    """(path, label) of every image under ``class_root``, class by class, sorted."""
    present = [path.name for path in _subfolders(class_root)]
    unknown = sorted(set(present) - set(class_names))
    if unknown:
        raise ValueError(
            f"{class_root} has class folders that the training folder lacks: {', '.join(unknown)}."
        )
    files, empty = [], []
    for label, name in enumerate(class_names):
        found = sorted(_walk_images(class_root / name))
        if require_each and not found:
            empty.append(name)
        files.extend((path, label) for path in found)
    if empty:
        raise ValueError(
            f"Class folders with no image files under {class_root}: {', '.join(empty)}. "
            "Add images or remove the folders."
        )
    if not files:
        raise ValueError(f"{class_root} holds no image files ({sorted(IMAGE_EXTENSIONS)}).")
    return files


def _walk_images(folder: Path) -> list[str]:
    """Image files under ``folder``, following symbolic links, each real file once.

    A link back to a folder already walked (``cat/sub/loop -> ..``) would otherwise repeat
    every image below it, once per level, and put copies of one image in both splits.
    """
    if not folder.is_dir():
        return []
    found, seen_folders, seen_files, repeated = [], set(), set(), 0
    for parent, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(parent)
        if real in seen_folders:  # reached again through a link: walked already
            folders[:] = []
            repeated += 1
            continue
        seen_folders.add(real)
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            if not _is_image(name):
                continue
            target = os.path.realpath(os.path.join(parent, name))
            if target in seen_files:
                repeated += 1
                continue
            seen_files.add(target)
            found.append(os.path.join(parent, name))
    if repeated:
        logger.warning(
            "%s: %d folders or image files are reached again through symbolic links; each is "
            "used once.",
            folder,
            repeated,
        )
    return found


def _report(skipped: list[tuple[str, str]], root: Path, strict: bool) -> None:
    if not skipped:
        return
    listing = "\n".join(f"  {path}: {reason}" for path, reason in skipped[:MAX_LISTED])
    if len(skipped) > MAX_LISTED:
        listing += f"\n  ... and {len(skipped) - MAX_LISTED} more"
    if strict:
        raise ValueError(
            f"{len(skipped)} image files under {root} cannot be decoded:\n{listing}\n"
            "Fix or remove them, or pass strict=False to skip them."
        )
    logger.warning(
        "skipping %d undecodable image files under %s (listed in DataBundle.skipped):\n%s",
        len(skipped),
        root,
        listing,
    )


def _require_images(class_names: list[str], labels: np.ndarray, class_root: Path) -> None:
    missing = [name for label, name in enumerate(class_names) if not np.any(labels == label)]
    if missing:
        raise ValueError(
            f"Class folders with no decodable images under {class_root}: {', '.join(missing)}."
        )


def _split(paths: np.ndarray, labels: np.ndarray, use_pil: np.ndarray, shapes) -> Split:
    records = tf.data.Dataset.from_tensor_slices((list(paths), labels, use_pil))
    decoded_bytes = int(np.sum(np.prod(shapes, axis=1))) * 3
    return Split(records, len(paths), decoded_bytes)


def _decode_tf(path, label, use_pil):
    del use_pil  # every file decodes with TensorFlow
    return images.decode_tf(path), label


def _decode_mixed(path, label, use_pil):
    return images.decode_file(path, use_pil), label
