"""A worker that stops answering (but keeps its connections open) fails the others' collectives
after the timeout, instead of leaving them waiting."""

from __future__ import annotations

import sys

import pytest

from tests.distributed.workers import start_workers

pytestmark = pytest.mark.slow

TIMEOUT = 5
# Both workers join; worker 1 then stalls while worker 0 waits for it in an all-reduce.
SCRIPT = f"""
import time
import tensorflow as tf
from srm_keras.distributed import collectives
strategy = collectives.make_strategy(timeout={TIMEOUT})
collectives.barrier(strategy)
if strategy.cluster_resolver.task_id == 1:
    time.sleep(120)
started = time.monotonic()
try:
    collectives.barrier(strategy)
except tf.errors.DeadlineExceededError:
    print(f"deadline exceeded after {{time.monotonic() - started:.1f}} s", flush=True)
"""


def test_a_stalled_worker_times_out_the_collective(tmp_path):
    with start_workers([sys.executable, "-c", SCRIPT], 2, tmp_path) as workers:
        code = workers.processes[0].wait(timeout=120)
        log = workers.log(0)
    assert code == 0, log[-3000:]
    waited = float(log.split("deadline exceeded after ")[1].split(" s")[0])
    assert TIMEOUT - 1 <= waited < TIMEOUT + 15
