"""``srm-keras verify``: check every artifact of an export folder against the Keras model."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="re-check an export folder's artifacts against the Keras outputs",
        description="Run the stored verification images through every artifact of an export "
        "folder and compare with the Keras model (recomputed from --model, else the outputs "
        "stored at export). Prints the table; a missed bound exits with status 1.",
    )
    parser.add_argument("directory", help="export folder (holds export_report.json)")
    parser.add_argument("--model", help=".keras file or training folder to recompute Keras outputs")
    parser.add_argument("--repeats", type=int, default=20, help="latency repetitions (median kept)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srm_keras.export import verify
    from srm_keras.export.report import markdown

    report = verify(
        args.directory, model=args.model, latency_repeats=args.repeats, raise_on_failure=False
    )
    print(markdown(report))
    if not report["passed"]:
        for artifact in report["artifacts"]:
            if artifact["failures"]:
                print(f"{artifact['format']}: {'; '.join(artifact['failures'])}")
        return 1
    return 0
