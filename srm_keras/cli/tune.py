"""``srm-keras tune``: a keras-tuner search over modules and recipe hyper-parameters."""

from __future__ import annotations

from srm_keras.tuning.names import MODULES, TUNER_NAMES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="search modules and hyper-parameters with keras-tuner",
        description="Search recalibration module, depth, learning rate, weight decay, label "
        "smoothing and batch size; writes trials.csv, trials.md, best.keras and "
        "best_hyperparameters.json. Run it again with the same --output to resume.",
    )
    parser.add_argument("--config", help="base recipe (TOML), e.g. models/digits_srm_resnet20.toml")
    parser.add_argument("--dataset", help="dataset of every trial (default: the recipe's)")
    parser.add_argument("--image-size", type=int, help="input size of every trial")
    parser.add_argument("--epochs", type=int, help="epochs per trial (Hyperband: the maximum)")
    parser.add_argument(
        "--tuner",
        choices=TUNER_NAMES,
        default="random",
        help="keras-tuner search strategy (random)",
    )
    parser.add_argument(
        "--max-trials",
        type=int,
        default=10,
        help="trials to run (random, bayesian; hyperband ignores it) (10)",
    )
    parser.add_argument(
        "--modules",
        nargs="+",
        default=list(MODULES),
        help="recalibration choices ('none' for plain)",
    )
    parser.add_argument(
        "--depths", nargs="+", type=int, default=[20], help="ResNet depths to choose from (20)"
    )
    parser.add_argument(
        "--learning-rate",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        default=(0.01, 0.4),
        help="log-uniform range of the learning rate (default: 0.01 0.4)",
    )
    parser.add_argument(
        "--weight-decay",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        default=(1e-5, 1e-3),
        help="log-uniform range of the weight decay (default: 1e-5 1e-3)",
    )
    parser.add_argument(
        "--label-smoothing",
        nargs="+",
        type=float,
        default=[0.0, 0.1],
        help="label-smoothing values to choose from (default: 0 0.1)",
    )
    parser.add_argument(
        "--batch-sizes",
        nargs="+",
        type=int,
        default=[32, 64],
        help="batch sizes to choose from (default: 32 64)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the tuner's sampling and of every trial (0)"
    )
    parser.add_argument(
        "--output",
        default="runs/tune",
        help="search folder: trials, best model; the same folder resumes (default: runs/tune)",
    )
    parser.add_argument("--overwrite", action="store_true", help="start the search afresh")
    parser.set_defaults(func=run)


def run(args) -> int:
    from srm_keras.training import TrainConfig
    from srm_keras.tuning import SearchSpace, search

    overrides = {
        "dataset": args.dataset,
        "image_size": args.image_size,
        "epochs": args.epochs,
        "seed": args.seed,
    }
    if args.config:
        base = TrainConfig.from_file(args.config, **overrides)
    else:
        base = TrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    space = SearchSpace(
        recalibration=tuple(args.modules),
        depths=tuple(args.depths),
        learning_rate=tuple(args.learning_rate),
        weight_decay=tuple(args.weight_decay),
        label_smoothing=tuple(args.label_smoothing),
        batch_size=tuple(args.batch_sizes),
    )
    result = search(
        base,
        tuner=args.tuner,
        max_trials=args.max_trials,
        space=space,
        output=args.output,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    print((result.output / "trials.md").read_text())
    print(f"best model: {result.best_model}")
    print(f"export it with: srm-keras export {result.best_model} --output export/artifacts")
    return 0
