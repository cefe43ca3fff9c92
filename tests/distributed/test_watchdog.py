"""The watchdog stops a worker that makes no progress, and leaves a busy one alone."""

from __future__ import annotations

import logging
import time

from srm_keras.distributed import EXIT_WORKER_LOST
from srm_keras.distributed.watchdog import Watchdog


def test_a_stalled_phase_ends_the_process_with_a_clear_message(caplog):
    exits = []
    with caplog.at_level(logging.CRITICAL, logger="srm_keras.distributed.watchdog"):
        with Watchdog("worker 1 of 2", "Restart.", poll_seconds=0.05, exit=exits.append) as dog:
            dog.expect("training step 3", 0.3)
            time.sleep(1.0)
    assert exits == [EXIT_WORKER_LOST]
    assert "worker 1 of 2: no progress for 0.3 s while training step 3" in caplog.text
    assert "Restart." in caplog.text


def test_progress_and_cleared_phases_do_not_fire():
    exits = []
    with Watchdog("worker 0 of 2", poll_seconds=0.05, exit=exits.append) as dog:
        for step in range(8):
            dog.expect(f"training step {step}", 0.3)
            time.sleep(0.1)
        with dog.phase("saving", 0.3):
            time.sleep(0.1)
        time.sleep(0.6)  # nothing is expected any more
    assert exits == []
