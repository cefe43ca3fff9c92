"""``srm-keras models``: the zoo table, with the paper's figures beside ours."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the zoo with parameters and GMACs",
        description="Print the zoo: trainable parameters and multiply-accumulates of each model "
        "(both stride layouts for bottleneck ResNets), beside the SRM paper's figures.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every model of the zoo")
    which.add_argument(
        "--names",
        nargs="*",
        metavar="NAME",
        help="the rows of these models; alone, every model's name and nothing else (instant)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.set_defaults(func=run)


def run(args) -> int:
    from srm_keras.models.names import model_names

    if args.names == []:  # names only: nothing is built, Keras is not loaded
        print("\n".join(model_names()))
        return 0
    from srm_keras.models.table import format_table, zoo_table

    names = model_names() if args.all else args.names
    rows = zoo_table(names)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    mismatches = [row["name"] for row in rows if row.get("matches_paper") is False]
    if mismatches:
        print(f"Rows that do not match the paper: {', '.join(mismatches)}")
        return 1
    return 0
