"""``srm-keras analyze``: the SRM paper's analyses of trained runs (docs/design.md §12).

``analyze pruning`` is :func:`srm_keras.analysis.pruning_curve` on each run's held-out split,
written by :func:`srm_keras.analysis.write_pruning_report`; ``analyze gates`` is
:func:`srm_keras.analysis.gate_statistics` on it, written as a CSV.
"""

from __future__ import annotations

DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.5)
CRITERIA = ("gate", "bn_scale", "random")  # srm_keras.analysis.CRITERIA (a test keeps them equal)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="the SRM paper's analyses of trained runs: pruning by gates, gate statistics",
        description="Analyse run folders made by `srm-keras train`, on each run's own held-out "
        "split (the images, split and transform of its evaluation.json).",
    )
    analyses = parser.add_subparsers(
        dest="analysis",
        required=True,
        metavar="ANALYSIS",
        help="pruning: accuracy with channels silenced; gates: per-channel gate statistics",
    )

    pruning = analyses.add_parser(
        "pruning",
        help="top-1 accuracy with a fraction of every block's channels silenced",
        description="In every residual block, silence the given fraction of the branch's "
        "output channels (the last convolution's filters and BN gamma and beta set to 0, so "
        "the block passes its shortcut through there), ranked by smallest mean gate (gate), "
        "smallest BN |gamma| (bn_scale) or at random, and measure top-1 accuracy without "
        "fine-tuning. This measures which channels matter; it does not make the network "
        "smaller or faster. Writes pruning.csv, pruning.md and pruning.png into --output "
        "and prints the table.",
    )
    pruning.add_argument("runs", nargs="+", metavar="RUN", help="run folders made by train")
    pruning.add_argument(
        "--fractions",
        nargs="+",
        type=float,
        default=list(DEFAULT_FRACTIONS),
        metavar="F",
        help="fractions of each block's channels to prune, in [0, 1] "
        f"(default: {' '.join(f'{f:g}' for f in DEFAULT_FRACTIONS)})",
    )
    pruning.add_argument(
        "--criteria",
        nargs="+",
        choices=CRITERIA,
        default=list(CRITERIA),
        metavar="C",
        help="ranking criteria: gate (needs a module; skipped for plain runs), bn_scale, random "
        "(default: all three)",
    )
    pruning.add_argument("--seed", type=int, default=0, help="seed of the random criterion (0)")
    _common_flags(pruning)
    pruning.set_defaults(func=run)

    gates = analyses.add_parser(
        "gates",
        help="per-channel gate mean and spread of every module",
        description="Read every recalibration module's gate over the run's held-out images and "
        "write gates.csv: one row per run, module and channel (mean gate and its standard "
        "deviation over images, and over positions for spatial gates).",
    )
    gates.add_argument("runs", nargs="+", metavar="RUN", help="run folders made by train")
    _common_flags(gates)
    gates.set_defaults(func=run)


def _common_flags(parser) -> None:
    parser.add_argument(
        "--output", default=".", metavar="DIR", help="folder for the files (default: here)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="evaluation batch size (256)")
    parser.add_argument("--best", action="store_true", help="use best.keras, not model.keras")
    parser.add_argument(
        "--data-dir", help="tensorflow-datasets folder, if not the one the runs recorded"
    )


def run(args) -> int:
    from srm_keras.analysis import load_run
    from srm_keras.training.plots import run_label

    labels = [run_label(path) for path in args.runs]
    if len(set(labels)) < len(labels):  # e.g. two runs of one model: name them by folder
        labels = [str(path).rstrip("/") for path in args.runs]

    def runs():
        for label, path in zip(labels, args.runs):
            yield (
                label,
                load_run(path, batch_size=args.batch_size, best=args.best, data_dir=args.data_dir),
            )

    if args.analysis == "pruning":
        return _pruning(args, runs())
    return _gates(args, runs())


def _pruning(args, runs) -> int:
    from srm_keras.analysis import pruning_curve, write_pruning_report
    from srm_keras.analysis.report import format_markdown

    rows = []
    for label, data in runs:
        rows += pruning_curve(
            {label: data.model},
            args.fractions,
            data.validation,
            criteria=args.criteria,
            seed=args.seed,
        )
    paths = write_pruning_report(rows, args.output)
    print(format_markdown(rows), end="")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _gates(args, runs) -> int:
    from srm_keras.analysis import gate_statistics, write_gate_table

    tables = []
    for label, data in runs:
        statistics = gate_statistics(data.model, data.validation)
        tables.append((label, statistics))
        for stats in statistics:
            print(
                f"{label} {stats.name}: mean gate {stats.mean.mean():.3f} (channels "
                f"{stats.mean.min():.3f}-{stats.mean.max():.3f}), spread {stats.std.mean():.3f}"
            )
    path = write_gate_table(tables, args.output)
    print(f"wrote {path}")
    return 0
