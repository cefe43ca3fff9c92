"""Crash safety: a run killed with SIGKILL resumes from its backup; mirrored training on CPU."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from srm_keras.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]

# Trains the config in argv[1] and SIGKILLs itself in the middle of epoch 2 (0-based), after
# the backup of epoch 1 is on disk.
KILLED_RUN = """
import json, os, signal, sys
import keras
from srm_keras.training import TrainConfig, train

class KillMidEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 1:
            os.kill(os.getpid(), signal.SIGKILL)

train(TrainConfig(**json.loads(sys.argv[1])), callbacks=[KillMidEpoch()])
"""

MIRRORED_RUN = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from srm_keras.training import TrainConfig, train

result = train(TrainConfig(**json.loads(sys.argv[1])))
print("RESULT", json.dumps({
    "replicas": result.model.distribute_strategy.num_replicas_in_sync,
    "loss": result.history["loss"],
    "finished": result.metrics["finished"],
}))
"""


def run_python(script: str, config: TrainConfig) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-c", script, json.dumps(config.to_dict())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def epochs_in(history: Path) -> list[int]:
    with history.open(newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


class EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_backup(tiny_config):
    config = tiny_config(epochs=4, steps_per_epoch=3)
    output = Path(config.output)
    killed = run_python(KILLED_RUN, config)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert epochs_in(output / "history.csv") == [0, 1]
    backup = json.loads((output / "backup" / "training_metadata.json").read_text())
    assert backup["epoch"] == 2
    assert not (output / "final_metrics.json").exists()

    recorder = EpochRecorder()
    result = train(config, callbacks=[recorder])  # the same command, started again
    assert recorder.epochs == [2, 3]
    assert epochs_in(output / "history.csv") == [0, 1, 2, 3]
    # The optimiser state came back too: 4 epochs x 3 steps in all, not 2 x 3.
    assert int(result.model.optimizer.iterations.numpy()) == 12
    assert result.metrics["epochs_completed"] == 4 and result.metrics["finished"]
    assert not (output / "backup").exists()
    best = json.loads((output / "best.json").read_text())
    assert 0 <= best["epoch"] <= 3


@pytest.mark.slow
def test_mirrored_strategy_trains_on_two_logical_cpus(tiny_config):
    config = tiny_config(strategy="mirrored", epochs=1, steps_per_epoch=3)
    done = run_python(MIRRORED_RUN, config)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["replicas"] == 2
    assert result["finished"] and np.isfinite(result["loss"]).all()
    assert epochs_in(Path(config.output) / "history.csv") == [0]
