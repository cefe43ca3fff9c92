"""Start the workers of a cluster as processes of this machine, for trying multi-worker runs.

Every worker listens on ``127.0.0.1`` at a port the OS reports free; each gets its
``TF_CONFIG``. The launcher waits for all of them and stops the rest when one fails, so a
broken run never leaves workers behind.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from srm_keras.distributed.cluster import TF_CONFIG, free_addresses, tf_config

logger = logging.getLogger(__name__)

EXIT_TIMEOUT = 124  # as timeout(1)


def launch_local(
    argv: Sequence[str],
    workers: int,
    *,
    env: Mapping[str, str] | None = None,
    log_dir: str | os.PathLike | None = None,
    timeout: float | None = None,
    grace: float = 60.0,
) -> int:
    """Run ``argv`` as ``workers`` processes forming one cluster; return an exit status.

    ``env`` (default ``os.environ``) is every worker's environment, plus its ``TF_CONFIG``.
    With ``log_dir``, worker i writes its output to ``log_dir/worker-i.log`` instead of this
    process's. When a worker fails, the others get ``grace`` seconds to notice and stop on their
    own (they report the lost worker), then are killed; after ``timeout`` seconds all are killed.
    Returns 0 when every worker succeeded, else the status of the first one that failed
    (:data:`EXIT_TIMEOUT` on timeout).
    """
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}.")
    addresses = free_addresses(workers)
    logger.info("starting %d workers: %s", workers, addresses)
    processes: list[subprocess.Popen] = []
    logs = []
    try:
        for index in range(workers):
            worker_env = {**(os.environ if env is None else env)}
            worker_env[TF_CONFIG] = tf_config(addresses, index)
            output = None
            if log_dir is not None:
                path = Path(log_dir) / f"worker-{index}.log"
                path.parent.mkdir(parents=True, exist_ok=True)
                output = path.open("w")
                logs.append(output)
            processes.append(
                subprocess.Popen(list(argv), env=worker_env, stdout=output, stderr=output)
            )
        return _wait(processes, timeout, grace)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        for log in logs:
            log.close()


def _wait(processes: list[subprocess.Popen], timeout: float | None, grace: float) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    failure: int | None = None
    while any(process.poll() is None for process in processes):
        now = time.monotonic()
        if deadline is not None and now > deadline:
            if failure is None:
                logger.error("workers still running after %g s: stopping them", timeout)
                return EXIT_TIMEOUT
            logger.error("workers still running %g s after one failed: stopping them", grace)
            return failure
        if failure is None:
            failed = [p for p in processes if p.poll() not in (None, 0)]
            if failed:
                failure = failed[0].returncode
                logger.error(
                    "worker %d exited with status %d; giving the others %g s to stop",
                    processes.index(failed[0]),
                    failure,
                    grace,
                )
                deadline = now + grace if deadline is None else min(deadline, now + grace)
        time.sleep(0.2)
    if failure is None:
        failure = next((p.returncode for p in processes if p.returncode != 0), 0)
    return failure
