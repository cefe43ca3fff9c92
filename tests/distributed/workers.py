"""Worker processes of the multi-worker tests, on 127.0.0.1.

Every worker is a subprocess with a hard time limit, killed in a ``finally`` block; ports come
from the OS (bound to port 0), on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from srm_keras.distributed.cluster import TF_CONFIG, free_addresses, tf_config

# `srm-keras worker`, whether or not the command table lists it yet.
CLI = (
    "import sys, srm_keras.cli as cli; "
    "cli.COMMANDS = tuple(dict.fromkeys((*cli.COMMANDS, 'worker'))); "
    "sys.exit(cli.main(sys.argv[1:]))"
)


def recipe_flags(dataset: Path, output: Path, **overrides) -> list[str]:
    """Flags of a tiny run: SRM-ResNet-20 at 8x8, 48 training images (three global batches of
    16, so 8 per worker), warm-up, a step decay, label smoothing and the default weight decay."""
    settings = {
        "model": "srm_resnet20",
        "dataset": str(dataset),
        "output": str(output),
        "image-size": 8,
        "batch-size": 16,
        "validation-split": 1 / 3,
        "seed": 1,
        "epochs": 2,
        "learning-rate": 0.1,
        "learning-rate-batch-size": 16,
        "warmup-epochs": 1,
        "decay-epochs": 1.5,
        "label-smoothing": 0.1,
        "progress": 2,
        "timeout": 60,
        "startup-timeout": 180,
        **overrides,
    }
    flags = ["--no-tensorboard"]
    for name, value in settings.items():
        flags += [f"--{name}", str(value)]
    return flags


class Workers:
    """Worker processes of one cluster; worker i logs to ``log_dir/worker-i.log``."""

    def __init__(self, processes: list[subprocess.Popen], logs: list[Path]) -> None:
        self.processes = processes
        self.logs = logs

    def wait(self, timeout: float) -> list[int]:
        """Exit statuses; fails the test if any worker outlives ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        codes = []
        for index, process in enumerate(self.processes):
            try:
                codes.append(process.wait(timeout=max(0.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                pytest.fail(f"worker {index} still runs after {timeout} s:\n{self.tail(index)}")
        return codes

    def log(self, index: int) -> str:
        return self.logs[index].read_text(errors="replace")

    def tail(self, index: int, lines: int = 40) -> str:
        return "\n".join(self.log(index).splitlines()[-lines:])


@contextlib.contextmanager
def start_workers(
    argv: Sequence[str], count: int, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[Workers]:
    """Start ``count`` processes of ``argv`` as one cluster; kill whatever still runs after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    addresses = free_addresses(count)
    processes, logs, files = [], [], []
    try:
        for index in range(count):
            path = log_dir / f"worker-{index}.log"
            handle = path.open("w")
            files.append(handle)
            worker_env = {**os.environ, **(env or {}), "TF_CPP_MIN_LOG_LEVEL": "2"}
            worker_env[TF_CONFIG] = tf_config(addresses, index)
            processes.append(
                subprocess.Popen(list(argv), env=worker_env, stdout=handle, stderr=handle)
            )
            logs.append(path)
        yield Workers(processes, logs)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        for handle in files:
            handle.close()


def worker_argv(*flags: str) -> list[str]:
    return [sys.executable, "-c", CLI, "worker", *flags]
