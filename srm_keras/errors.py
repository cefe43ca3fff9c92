"""Errors that the command line reports as one line (this module imports nothing heavy)."""

from __future__ import annotations


class FolderBusy(RuntimeError):
    """Another process is writing the folder (a run folder, an export folder)."""


class RunFolderBusy(FolderBusy):
    """Another process is writing the run folder."""


class DiskFullError(OSError):
    """A file could not be written for lack of space; nothing half-written was left.

    ``DiskFullError(errno.ENOSPC, message)``: its text is the message alone.
    """

    def __str__(self) -> str:
        return str(self.strerror)
