"""``srm-keras models``: the zoo table, with the paper's figures beside ours."""

from __future__ import annotations

import json

from srm_keras.models import list_models
from srm_keras.models.table import format_table, zoo_table


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the zoo with parameters and GMACs",
        description="Print the zoo: trainable parameters and multiply-accumulates of each model "
        "(both stride layouts for bottleneck ResNets), beside the SRM paper's figures.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every model of the zoo")
    which.add_argument("--names", nargs="+", metavar="NAME", help="these models")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.set_defaults(func=run)


def run(args) -> int:
    names = list_models() if args.all else args.names
    rows = zoo_table(names)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    mismatches = [row["name"] for row in rows if row.get("matches_paper") is False]
    if mismatches:
        print(f"Rows that do not match the paper: {', '.join(mismatches)}")
        return 1
    return 0
