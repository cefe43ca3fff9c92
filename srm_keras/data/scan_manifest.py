"""The image-folder scan, remembered: a folder scanned before decodes only its new or changed files.

Every image file of a folder source is decoded once before training (see
:func:`srm_keras.data.images.scan_images`). The outcome of each file (its decoder and size, or
why it does not decode) is kept in a manifest keyed by the file's path relative to the folder,
its size in bytes and its modification time (ns). The next scan of the folder stats every file
and decodes only those whose key is not in the manifest; files that are gone are dropped from
it. A file that failed keeps failing from the manifest, without being decoded again, until it
changes. The manifest also records the TensorFlow and Pillow versions that decoded: another
version may read files differently, so a change of either rescans everything.

Where it lives: ``<folder>/.srm_keras_scan.json`` when the folder is writable (a hidden file,
which the folder reader ignores), else ``$XDG_CACHE_HOME/srm_keras/scans/<hash>.json``
(``~/.cache`` by default; the hash is of the folder's real path). A manifest that cannot be
read or is malformed is ignored and rewritten; one that cannot be written is skipped with a
warning. It is written atomically (:mod:`srm_keras.storage`), after the scan and also when the
scan is interrupted, so that a second attempt at a large folder resumes where the first stopped.

Progress: on a terminal, a bar redrawn in place on stderr; otherwise (a log file, a pipe) a log
line per tenth of the files once the scan has run :data:`QUIET_SECONDS`, so short scans stay
quiet and logs hold no control characters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL
import tensorflow as tf

from srm_keras import storage
from srm_keras.data import images

logger = logging.getLogger(__name__)

MANIFEST_NAME = ".srm_keras_scan.json"
FORMAT = 1
#: Files per call of the scanner. Each call costs tens of milliseconds of set-up, so chunks grow
#: to last about CHUNK_SECONDS at the rate seen so far: the progress moves about once a second.
MIN_CHUNK, MAX_CHUNK = 256, 16384
CHUNK_SECONDS = 1.0
QUIET_SECONDS = 5.0
BAR_WIDTH = 30

#: A file's outcome: (height, width, decoded by Pillow) or the reason it does not decode.
Outcome = tuple[int, int, bool] | str
#: A file's key besides its relative path: (size in bytes, modification time in ns).
Stat = tuple[int, int]


def scan_folder(root: str | os.PathLike, paths: Sequence[str]) -> images.ScanResult:
    """:func:`~srm_keras.data.images.scan_images` of ``paths`` (files under ``root``), decoding
    only what the folder's manifest does not already hold (see the module docstring)."""
    started = time.perf_counter()
    root = Path(root)
    paths = [os.fspath(path) for path in paths]
    names = [_relative(root, path) for path in paths]
    stats = [_stat(path) for path in paths]
    location, remembered = _load(root)
    outcomes: list[Outcome | None] = [
        _lookup(remembered, name, stat) for name, stat in zip(names, stats)
    ]
    pending = [index for index, outcome in enumerate(outcomes) if outcome is None]
    try:
        _decode(paths, pending, outcomes)
    finally:  # an interrupted scan keeps what it decoded
        files = {
            name: _entry(stat, outcome)
            for name, stat, outcome in zip(names, stats, outcomes)
            if stat is not None and outcome is not None
        }
        if files != remembered:
            _save(root, location, files)
    logger.info(
        "scanned %d image files under %s in %.1f s: %d decoded, %d known from the manifest",
        len(paths),
        root,
        time.perf_counter() - started,
        len(pending),
        len(paths) - len(pending),
    )
    return _result(paths, outcomes)


def manifest_path(root: str | os.PathLike) -> Path:
    """Where the manifest of the folder ``root`` is written (see the module docstring)."""
    root = Path(root)
    if _writable(root):
        return root / MANIFEST_NAME
    return _cache_path(root)


def _cache_path(root: Path) -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    digest = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:24]
    return Path(cache) / "srm_keras" / "scans" / f"{digest}.json"


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def _decoders() -> dict[str, str]:
    return {"tensorflow": tf.__version__, "pillow": PIL.__version__}


def _relative(root: Path, path: str) -> str:
    prefix = os.fspath(root) + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, root)


def _stat(path: str) -> Stat | None:
    try:
        status = os.stat(path)
    except OSError:  # a broken link: the scan reports it, the manifest does not keep it
        return None
    return status.st_size, status.st_mtime_ns


# -- the manifest file ---------------------------------------------------------------------------


def _load(root: Path) -> tuple[Path, dict[str, list]]:
    """(where the manifest is written, its files by relative path); no files when there is none.

    It is read from where it is written, else from the folder (a read-only folder may come
    with one).
    """
    location = manifest_path(root)
    for path in dict.fromkeys([location, root / MANIFEST_NAME]):
        if not path.is_file():
            continue
        try:
            manifest = json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            logger.warning("ignoring the unreadable scan manifest %s (%s)", path, error)
            continue
        if not _well_formed(manifest):
            logger.warning("ignoring the malformed scan manifest %s; rescanning", path)
            continue
        if manifest["decoders"] != _decoders():
            logger.info(
                "the decoders changed since the scan manifest %s (%s, now %s); rescanning",
                path,
                manifest["decoders"],
                _decoders(),
            )
            return location, {}
        return location, manifest["files"]
    return location, {}


def _well_formed(manifest) -> bool:
    return (
        isinstance(manifest, dict)
        and manifest.get("format") == FORMAT
        and isinstance(manifest.get("decoders"), dict)
        and isinstance(manifest.get("files"), dict)
    )


def _save(root: Path, location: Path, files: dict[str, list]) -> None:
    manifest = {"format": FORMAT, "decoders": _decoders(), "files": files}
    # Compact: a folder of a million images makes a manifest of tens of megabytes.
    text = json.dumps(manifest, separators=(",", ":"))
    failures = []
    # A folder that os.access calls writable may still refuse (root squash, a full disk).
    for path in dict.fromkeys([location, _cache_path(root)]):
        try:
            storage.write_text(path, text)
            return
        except OSError as error:
            failures.append(f"{path}: {error}")
    logger.warning(
        "cannot write the scan manifest of %s (%s); the next scan decodes every file again",
        root,
        "; ".join(failures),
    )


def _entry(stat: Stat, outcome: Outcome) -> list:
    """``[size, mtime_ns, height, width, uses Pillow]`` or ``[size, mtime_ns, reason]``."""
    if isinstance(outcome, str):
        return [*stat, outcome]
    height, width, use_pil = outcome
    return [*stat, height, width, int(use_pil)]


def _lookup(files: dict[str, list], name: str, stat: Stat | None) -> Outcome | None:
    """The remembered outcome of file ``name`` when its size and mtime are unchanged."""
    entry = files.get(name)
    if stat is None or not isinstance(entry, list) or entry[:2] != list(stat):
        return None
    rest = entry[2:]
    if len(rest) == 1 and isinstance(rest[0], str):
        return rest[0]
    if len(rest) == 3 and all(type(value) is int for value in rest) and rest[2] in (0, 1):
        return rest[0], rest[1], bool(rest[2])
    return None  # a malformed entry: decode the file again


# -- decoding ------------------------------------------------------------------------------------


def _decode(paths: list[str], pending: list[int], outcomes: list[Outcome | None]) -> None:
    """Scan the files ``pending`` indexes in chunks, filling in their ``outcomes``."""
    if not pending:
        return
    progress = Progress(len(pending), "scanning image files")
    done, chunk = 0, MIN_CHUNK
    while done < len(pending):
        indices = pending[done : done + chunk]
        started = time.perf_counter()
        scan = images.scan_images([paths[i] for i in indices])
        seconds = time.perf_counter() - started
        reasons = dict(scan.skipped)
        for position, index in enumerate(indices):
            if scan.valid[position]:
                height, width = (int(side) for side in scan.shapes[position])
                outcomes[index] = (height, width, bool(scan.use_pil[position]))
            else:
                outcomes[index] = reasons[paths[index]]
        done += len(indices)
        progress.update(done)
        rate = len(indices) / max(seconds, 1e-3)
        chunk = min(MAX_CHUNK, max(MIN_CHUNK, round(rate * CHUNK_SECONDS)))
    progress.close()


def _result(paths: list[str], outcomes: list[Outcome]) -> images.ScanResult:
    count = len(paths)
    valid = np.zeros(count, dtype=bool)
    use_pil = np.zeros(count, dtype=bool)
    shapes = np.zeros((count, 2), dtype=np.int64)
    skipped = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, str):
            skipped.append((paths[index], outcome))
        else:
            valid[index], use_pil[index] = True, outcome[2]
            shapes[index] = outcome[:2]
    return images.ScanResult(valid=valid, use_pil=use_pil, shapes=shapes, skipped=skipped)


class Progress:
    """Progress through ``total`` items: a bar redrawn in place when stderr is a terminal,
    else an INFO log line per tenth once :data:`QUIET_SECONDS` have passed."""

    def __init__(self, total: int, label: str):
        self.total, self.label = total, label
        self.stream = sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.logged_tenths = 0
        self.drawn = False

    def update(self, done: int) -> None:
        elapsed = time.perf_counter() - self.started
        if self.terminal:
            filled = BAR_WIDTH * done // self.total
            bar = "=" * filled + (">" if filled < BAR_WIDTH else "") + " " * (BAR_WIDTH - filled)
            self.stream.write(
                f"\r{self.label} [{bar[:BAR_WIDTH]}] {done}/{self.total} "
                f"{100 * done // self.total}% {elapsed:.0f} s"
            )
            self.stream.flush()
            self.drawn = True
            return
        tenths = 10 * done // self.total
        if elapsed >= QUIET_SECONDS and tenths > self.logged_tenths:
            self.logged_tenths = tenths
            logger.info(
                "%s: %d/%d (%d%%) in %.0f s",
                self.label,
                done,
                self.total,
                100 * done // self.total,
                elapsed,
            )

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
