"""A last line of defence against a worker that waits forever.

Collective operations have their own timeout, but some waits have none: the strategy's start-up
barrier waits for every worker without limit, and a stuck input pipeline never reaches a
collective. A thread blocked inside TensorFlow cannot be interrupted from Python, so when the
main thread makes no progress for too long, the watchdog logs what it was waiting for and ends
the process with :data:`EXIT_WORKER_LOST`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

logger = logging.getLogger(__name__)

EXIT_WORKER_LOST = 75  # EX_TEMPFAIL: restarting every worker can succeed


class Watchdog:
    """Ends the process when the current phase outlasts its time limit.

    ``expect(what, seconds)`` starts a phase (replacing the previous one); ``clear()`` stops
    watching. The message names the phase and ``hint`` says how to recover. Used as a context
    manager, the thread starts and stops with the block. ``exit`` ends the process
    (``os._exit``: a normal exit would wait for the blocked thread).
    """

    def __init__(
        self,
        name: str,
        hint: str = "",
        poll_seconds: float = 1.0,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.name = name
        self.hint = hint
        self._poll = poll_seconds
        self._exit = exit
        self._lock = threading.Lock()
        self._phase: tuple[str, float, float] | None = None  # (what, limit, deadline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="srm-keras-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def expect(self, what: str, seconds: float) -> None:
        with self._lock:
            self._phase = (what, seconds, time.monotonic() + seconds)

    def clear(self) -> None:
        with self._lock:
            self._phase = None

    @contextlib.contextmanager
    def phase(self, what: str, seconds: float) -> Iterator[None]:
        self.expect(what, seconds)
        try:
            yield
        finally:
            self.clear()

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            with self._lock:
                phase = self._phase
            if phase is not None and time.monotonic() > phase[2]:
                self._fire(phase[0], phase[1])
                return

    def _fire(self, what: str, seconds: float) -> None:
        logger.critical(
            "%s: no progress for %g s while %s; another worker has probably died or hangs. "
            "Stopping this worker. %s",
            self.name,
            seconds,
            what,
            self.hint,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        self._exit(EXIT_WORKER_LOST)
