"""A multi-worker run killed while it writes its final files is finished by the restart,
without training again (the chief keeps its backup until those files are written)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from srm_keras.training.plots import read_history
from tests.distributed.workers import CLI, recipe_flags, start_workers

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 300  # seconds per launch (see test_multi_worker.py)

# The worker command, with the chief's end of run replaced by: report the moment, then wait to
# be killed. `finish` writes evaluation.json, final_metrics.json and the curves, then retires the
# backup; model.keras is already written when it starts.
PAUSED_CLI = (
    "import pathlib, time, srm_keras.distributed.trainer as trainer\n"
    "def finish(run, *args, **kwargs):\n"
    "    (run.path / 'finishing').touch()\n"
    "    time.sleep(600)\n"
    "trainer.finish = finish\n" + CLI
)


def test_a_kill_while_the_run_finishes_leaves_it_for_the_restart_to_finish(image_folder, tmp_path):
    output = tmp_path / "run"
    flags = recipe_flags(image_folder, output, epochs=2)
    with start_workers(
        [sys.executable, "-c", PAUSED_CLI, "worker", *flags], 1, tmp_path / "a"
    ) as w:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (output / "finishing").exists():
            assert time.monotonic() < deadline and w.processes[0].poll() is None, w.tail(0)
            time.sleep(0.05)
        os.kill(w.processes[0].pid, signal.SIGKILL)
        w.wait(30)
    assert (output / "model.keras").is_file() and not (output / "final_metrics.json").exists()
    assert (output / "backup").is_dir()  # what makes the run resumable
    history = read_history(output)
    best = (output / "best.keras").read_bytes()

    with start_workers([sys.executable, "-c", CLI, "worker", *flags], 1, tmp_path / "b") as w:
        (code,) = w.wait(RUN_TIMEOUT)
        log = w.log(0)
    assert code == 0, log
    assert "resuming at epoch 2" in log  # no epoch trained again
    assert read_history(output) == history
    assert (output / "best.keras").read_bytes() == best
    assert (output / "final_metrics.json").is_file() and not (output / "backup").exists()
