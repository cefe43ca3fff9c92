"""The ``srm-keras`` command.

Thin by design: every sub-command lives in its own module of this package, which adds its
parser in ``register(subparsers)`` and does its work by calling the library.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except ValueError as error:
        print(f"srm-keras {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
