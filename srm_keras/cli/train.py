"""``srm-keras train``: train a model with the paper's recipe; every recipe setting is a flag.

Flags are generated from :class:`srm_keras.training.TrainConfig`'s fields, so a recipe key
``warmup_epochs`` is the flag ``--warmup-epochs``. Precedence: defaults < ``--config`` < flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import json


def _flag_kwargs(field: dataclasses.Field) -> dict:
    """argparse options for one config field, from its type annotation and metadata."""
    kind = str(field.type)
    options = {"help": field.metadata["help"], "default": argparse.SUPPRESS}
    if "choices" in field.metadata:
        options["choices"] = field.metadata["choices"]
    if kind.startswith("bool"):
        options["action"] = argparse.BooleanOptionalAction
    elif kind.startswith("list"):
        options.update(nargs="*", type=float, metavar="EPOCH")
    elif kind.startswith("dict"):
        options.update(type=json.loads, metavar="JSON")
    elif kind.startswith("int"):
        options["type"] = int
    elif kind.startswith("float"):
        options["type"] = float
    if field.default is not dataclasses.MISSING and field.default is not None:
        options["help"] += f" (default: {field.default})"
    return options


def add_config_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    from srm_keras.training.config import TrainConfig

    for field in dataclasses.fields(TrainConfig):
        if field.name in skip:
            continue
        flags = field.metadata.get("flags", ("--" + field.name.replace("_", "-"),))
        parser.add_argument(*flags, dest=field.name, **_flag_kwargs(field))


def config_from_args(args: argparse.Namespace):
    """The run's TrainConfig: ``--config`` recipe (if any), then the flags that were given."""
    from srm_keras.training.config import TrainConfig, field_names

    overrides = {name: getattr(args, name) for name in field_names() if hasattr(args, name)}
    if args.config:
        return TrainConfig.from_file(args.config, **overrides)
    return TrainConfig(**overrides)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (the paper's SGD recipe, resumable)",
        description="Train a zoo model. Defaults are the SRM paper's ImageNet recipe; "
        "--config models/<recipe>.toml loads a recipe, and flags override it. Running the "
        "same command again after an interruption resumes from the last finished epoch.",
    )
    parser.add_argument("--config", metavar="TOML", help="recipe file, e.g. models/X.toml")
    add_config_flags(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    config = config_from_args(args)
    if config.strategy == "multi_worker":  # this process is one worker of TF_CONFIG's cluster
        from srm_keras.distributed import train_multi_worker as train
    else:
        from srm_keras.training import train
    result = train(config)
    metrics = result.metrics
    print(
        f"{config.model}: val top-1 {metrics['val_accuracy']:.4f}, "
        f"top-5 {metrics['val_top5_accuracy']:.4f} after {metrics['epochs_completed']} epochs"
    )
    print(f"outputs in {result.output}/ (final_metrics.json, best.keras, history.csv, plots)")
    if not metrics["finished"]:
        print("training stopped early (non-finite loss); see history.csv")
        return 1
    return 0
