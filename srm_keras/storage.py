"""The ground floor of every write the library makes: atomic files, one writer per folder, and
no temporary left behind.

* **Atomic files.** :func:`replacing` yields a temporary sibling of the target and renames it
  over the target once the caller has written it: a reader, or a run resumed after a kill,
  sees the old file or the new one, never half of one. A failure removes the temporary file;
  running out of space raises :class:`~srm_keras.errors.DiskFullError`, whose message says
  what to do. One logical update is one rename (a weights file and the record naming it are
  written so that the record's rename publishes both).
* **Atomic folders.** :func:`staging_folder` is the same for a folder (a SavedModel version):
  it is built under a hidden name and renamed into place by the caller.
* **One writer.** :func:`hold` takes an exclusive ``flock`` on a lock file for as long as the
  caller works; a second process is refused at once with :class:`~srm_keras.errors.FolderBusy`
  naming the holder's pid, host and start time. The kernel releases the lock when its holder
  dies, even by ``SIGKILL``.
* **Nothing left behind.** Every temporary name carries its writer's pid
  (``.<name>.<pid>.tmp<suffix>``, ``<prefix><pid>_<random>`` for scratch folders), so
  :func:`remove_temporaries` and :func:`scratch_folder` can remove those of writers that no
  longer run — the debris of a kill — on the next run.

This module imports the standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from srm_keras.errors import DiskFullError, FolderBusy

#: ``.<name>.<pid>.tmp<suffix>``: the names :func:`temporary_name` gives.
_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)\.tmp(\.[\w.]+)?$")


def temporary_name(path: str | os.PathLike, suffix: str = "") -> Path:
    """A hidden sibling of ``path`` named after this process (same folder, so that
    ``os.replace`` is a rename within one file system)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = "", needs_bytes: int = 0) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it over ``path`` on success.

    ``suffix`` is the temporary file's extension, for writers that insist on one (Keras'
    ``.keras`` and ``.weights.h5``). On any failure the temporary file is removed and ``path``
    is left as it was. Running out of space (checked first against ``needs_bytes``, and
    whenever a write fails with ENOSPC) raises :class:`DiskFullError`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path.parent).free
    if needs_bytes and free < needs_bytes:
        raise DiskFullError(errno.ENOSPC, _disk_full(path, free, needs_bytes))
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if is_disk_full(error):
            raise DiskFullError(errno.ENOSPC, _disk_full(path, free, needs_bytes)) from error
        raise


@contextlib.contextmanager
def staging_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``path`` to build it in; remove it unless the caller
    renamed it into place (see :func:`publish_folder`) before leaving the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_name(path)
    _remove(staging)  # a previous process with this pid
    staging.mkdir()
    try:
        yield staging
    except BaseException as error:
        if is_disk_full(error):
            _remove(staging)
            raise DiskFullError(errno.ENOSPC, _disk_full(path, _free(path.parent), 0)) from error
        raise
    finally:
        _remove(staging)


def publish_folder(staging: Path, path: Path, *, replace: bool = False) -> None:
    """Rename the finished ``staging`` folder to ``path``.

    An existing ``path`` is replaced only with ``replace``: it is renamed aside first, so a
    kill leaves the old folder or the new one under ``path`` (and the old one, aside, is
    removed as debris by :func:`remove_temporaries`).
    """
    if path.exists():
        if not replace:
            raise FileExistsError(errno.EEXIST, f"{path} already exists", str(path))
        retired = temporary_name(path, ".old")
        _remove(retired)
        os.replace(path, retired)
        os.replace(staging, path)
        _remove(retired)
    else:
        os.replace(staging, path)


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says the disk is full (h5py puts ENOSPC in its message, not errno)."""
    return isinstance(error, OSError) and (
        error.errno == errno.ENOSPC or "No space left" in str(error) or "errno = 28" in str(error)
    )


def _free(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _disk_full(path: Path, free: int, needs: int) -> str:
    wanted = f", about {_size(needs)} needed" if needs else ""
    return (
        f"no space left to write {path} ({_size(free)} free{wanted}); nothing was changed. "
        "Free some space and run the same command again."
    )


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{int(count)} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, default=_jsonable) + "\n")


def format_csv(rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None) -> str:
    """``rows`` as CSV with a header, ``None`` an empty cell, lines ending in ``\\n``. The
    columns are ``fieldnames``, other keys left out; or, by default, the first row's keys in
    order, and a row with another key is a ValueError."""
    import csv
    import io

    buffer = io.StringIO()
    columns = list(fieldnames if fieldnames is not None else rows[0])
    extra = "ignore" if fieldnames is not None else "raise"
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction=extra, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: str | os.PathLike,
    rows: Sequence[Mapping[str, Any]],
    fieldnames: Sequence[str] | None = None,
) -> None:
    """Write :func:`format_csv` of ``rows`` to ``path`` atomically."""
    write_text(path, format_csv(rows, fieldnames))


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    # NumPy scalars and arrays (metrics), without importing NumPy here.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- one writer --------------------------------------------------------------------------------


@contextlib.contextmanager
def hold(
    lock_file: str | os.PathLike, what: str, advice: str, busy: type[FolderBusy] = FolderBusy
) -> Iterator[None]:
    """Hold ``lock_file`` (created if needed) exclusively until the block ends.

    Raises ``busy`` (:class:`FolderBusy` or a subclass) at once when another process holds it:
    ``"<what> is being written by process P on HOST (since T); <advice>"``.
    """
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise busy(f"{what} is being written by {_holder(fd)}; {advice}") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["since"]))
        return f"process {holder['pid']} on {holder['host']} (since {since})"
    except (ValueError, KeyError, TypeError):
        return "another process"


# -- nothing left behind -------------------------------------------------------------------------


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a name :func:`temporary_name` gives."""
    return bool(_TEMPORARY.match(Path(path).name))


def remove_temporaries(*folders: str | os.PathLike) -> list[Path]:
    """Remove what killed writers left in ``folders`` (not below them): the temporary files and
    staging folders of processes that no longer run. Returns what was removed."""
    found = []
    for folder in folders:
        for path in Path(folder).glob(".*.tmp*"):
            match = _TEMPORARY.match(path.name)
            if match and not running(int(match["pid"])):
                found.append(path)
    for path in found:
        _remove(path)
    return found


def scratch_folder(prefix: str) -> Path:
    """A new folder in the system's temporary directory, ``<prefix><pid>_<random>``; the
    folders with this prefix of processes that no longer run (killed ones) are removed first.
    The caller removes its own (``shutil.rmtree``) when done."""
    for stale in Path(tempfile.gettempdir()).glob(f"{prefix}*_*"):
        pid = stale.name.removeprefix(prefix).split("_", 1)[0]
        if pid.isdigit() and not running(int(pid)):
            _remove(stale)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}_"))


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """:func:`scratch_folder` for the duration of a block."""
    folder = scratch_folder(prefix)
    try:
        yield folder
    finally:
        _remove(folder)


def running(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (this process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
