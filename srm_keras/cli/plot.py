"""``srm-keras plot``: training curves of one run, or a comparison of several runs."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="plot training curves of one run, or compare runs",
        description="With one run folder: its loss, accuracy and learning-rate curves. With "
        "several (e.g. plain, SE, GE and SRM on the same data): their validation accuracy and "
        "training loss on shared axes. Epochs are numbered from 0, as in history.csv, with a "
        "marker on each.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="folders made by train")
    parser.add_argument("--output", required=True, metavar="PNG", help="image to write")
    parser.add_argument("--labels", nargs="+", help="legend labels (default: model names)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from srm_keras.training import plot_comparison, plot_history

    if len(args.runs) == 1 and not args.labels:
        path = plot_history(args.runs[0], args.output)
    else:
        path = plot_comparison(args.runs, args.output, labels=args.labels)
    print(f"wrote {path}")
    return 0
