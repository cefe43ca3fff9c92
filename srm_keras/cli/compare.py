"""``srm-keras compare``: one recipe, several recalibration modules, one table and one figure.

The recipe flags are those of ``srm-keras train`` (:func:`srm_keras.cli.train.add_config_flags`),
less ``--recalibration``, which ``--modules`` replaces; the work is
:func:`srm_keras.training.compare_modules`.
"""

from __future__ import annotations

from srm_keras.cli.train import add_config_flags, config_from_args


def register(subparsers) -> None:
    from srm_keras.models.spec import NAMED_MODULES

    named = ["none" if key is None else key for key in NAMED_MODULES]
    parser = subparsers.add_parser(
        "compare",
        help="train one recipe with several modules; one table and one figure",
        description="Train the same recipe once per recalibration module, each in its own "
        "run folder OUTPUT/<model name>/ (resumable; a finished run is not trained again "
        "unless --overwrite), then write OUTPUT/comparison.csv, comparison.md (params, GMACs, "
        "final and best validation accuracy, train seconds per epoch) and comparison.png "
        "(validation accuracy and training loss curves), and print the table.",
    )
    parser.add_argument("--config", metavar="TOML", help="recipe file, e.g. models/X.toml")
    parser.add_argument(
        "--modules",
        nargs="+",
        default=named,
        metavar="KEY",
        help=f"registered module keys, or none for the plain network (default: {' '.join(named)})",
    )
    parser.add_argument(
        "--output",
        dest="comparison_output",
        metavar="DIR",
        help="folder of the runs and the comparison (default: runs/compare_<plain "
        "model>_<dataset>)",
    )
    add_config_flags(parser, skip=("recalibration", "output"))
    parser.set_defaults(func=run)


def run(args) -> int:
    from srm_keras.training.compare import (
        CSV,
        FIGURE,
        MARKDOWN,
        compare_modules,
        default_output,
        format_markdown,
    )

    config = config_from_args(args)
    output = args.comparison_output or default_output(config)
    rows = compare_modules(config, args.modules, output)
    print(format_markdown(rows), end="")
    print(f"wrote {CSV}, {MARKDOWN} and {FIGURE} in {output}/ (the runs: {output}/<model>/)")
    return 0
