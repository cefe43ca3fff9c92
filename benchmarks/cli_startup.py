"""How long the ``srm-keras`` command takes to answer, from a fresh process each time.

    .venv/bin/python benchmarks/cli_startup.py \
        --output benchmarks/results/<date>_cpu_cli_startup/cpu_cli_startup.json

``<date>`` is the day the run starts (UTC, ``YYYY-MM-DD``), the date its JSON records; each run
gets a new folder (see ``benchmarks/README.md``).

Each command runs in a new interpreter (``python -m srm_keras ...``), rounds interleaved; the
median wall time per command is reported with the machine (``srm_keras.benchmark.machine``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "models --names": ["models", "--names"],
    "train --help": ["train", "--help"],
    # For scale: the first command that needs TensorFlow.
    "models --names resnet20": ["models", "--names", "resnet20"],
    # Counted from the spec tables: the paper's 8 rows, then all 80.
    "models": ["models"],
    "models --all": ["models", "--all"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, argv in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "srm_keras", *argv], capture_output=True, check=True
            )
            times[name].append(time.perf_counter() - started)
    from srm_keras.benchmark.machine import machine_info

    result = {
        "machine": machine_info(),
        "repeats": args.repeats,
        "median_seconds": {name: round(statistics.median(t), 3) for name, t in times.items()},
        "seconds": times,
    }
    for name, median in result["median_seconds"].items():
        print(f"{name:28s} {median:6.3f} s")
    if args.output:
        from srm_keras import storage

        storage.write_json(args.output, result)


if __name__ == "__main__":
    main()
