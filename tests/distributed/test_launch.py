"""The local launcher: every worker gets its TF_CONFIG, and one failure stops the rest."""

from __future__ import annotations

import json
import sys
import time

import pytest

from srm_keras.distributed import launch_local
from srm_keras.distributed.launch import EXIT_TIMEOUT

SHOW_TASK = "import json, os; task = json.loads(os.environ['TF_CONFIG']); print(json.dumps(task))"
# Worker 1 fails at once; the others would sleep for a minute.
ONE_FAILS = (
    "import json, os, sys, time; task = json.loads(os.environ['TF_CONFIG'])['task']; "
    "sys.exit(3) if task['index'] == 1 else time.sleep(60)"
)


def test_workers_get_their_own_tf_config(tmp_path):
    code = launch_local([sys.executable, "-c", SHOW_TASK], 3, log_dir=tmp_path, timeout=60)
    assert code == 0
    configs = [json.loads((tmp_path / f"worker-{i}.log").read_text()) for i in range(3)]
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    addresses = configs[0]["cluster"]["worker"]
    assert all(c["cluster"]["worker"] == addresses for c in configs)
    assert len(set(addresses)) == 3 and all(a.startswith("127.0.0.1:") for a in addresses)


def test_a_failed_worker_stops_the_others(tmp_path):
    started = time.monotonic()
    code = launch_local([sys.executable, "-c", ONE_FAILS], 3, log_dir=tmp_path, grace=1)
    assert code == 3
    assert time.monotonic() - started < 30


def test_timeout_kills_every_worker(tmp_path):
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    started = time.monotonic()
    assert launch_local(argv, 2, log_dir=tmp_path, timeout=2) == EXIT_TIMEOUT
    assert time.monotonic() - started < 30


def test_bad_worker_count():
    with pytest.raises(ValueError, match="positive"):
        launch_local([sys.executable, "-c", "pass"], 0)
