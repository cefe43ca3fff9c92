"""The ``srm-keras`` command.

Thin by design: every sub-command lives in its own module of this package, which adds its
parser in ``register(subparsers)`` and does its work by calling the library.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from srm_keras.errors import DiskFullError, FolderBusy

# Sub-command modules, in the order ``srm-keras --help`` lists them.
COMMANDS = (
    "models",
    "train",
    "worker",
    "evaluate",
    "plot",
    "demo",
    "export",
    "verify",
    "convert",
    "tune",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srm-keras",
        description="Recalibrated ResNets (SRM, SE, GE) for Keras 3: build, train, export.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        importlib.import_module(f"{__name__}.{command}").register(subparsers)
    return parser


# With TensorFlow's default CPU allocator every full-size temporary (a module's pooling, a
# batch norm's centred input) costs far more than its arithmetic, most likely page faults on
# buffers handed back to the system; the BFC allocator keeps its buffers. ResNet-50 inference
# measured 0.87x the time with it, SRM-ResNet-50 0.82x: BENCHMARKS.md, "The CPU allocator".
# TensorFlow reads the variable when it creates its CPU allocator, at the first operation, so
# setting it here, before any work, is in time.
CPU_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


def prefer_bfc_cpu_allocator() -> None:
    """Use TensorFlow's BFC CPU allocator unless ``TF_CPU_ALLOCATOR_USE_BFC`` is already set."""
    os.environ.setdefault(CPU_ALLOCATOR_VARIABLE, "true")


def main(argv: list[str] | None = None) -> int:
    prefer_bfc_cpu_allocator()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, FolderBusy, DiskFullError) as error:
        print(f"srm-keras {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Every file is written atomically and the run folder's backup stays: nothing to undo.
        print(
            f"srm-keras {args.command}: stopped. Run the same command again to resume.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
