"""Errors that the command line reports as one line (this module imports nothing heavy)."""

from __future__ import annotations


class RunFolderBusy(RuntimeError):
    """Another process is writing the run folder."""


class DiskFullError(OSError):
    """A file could not be written for lack of space; nothing half-written was left.

    ``DiskFullError(errno.ENOSPC, message)``: its text is the message alone.
    """

    def __str__(self) -> str:
        return str(self.strerror)
