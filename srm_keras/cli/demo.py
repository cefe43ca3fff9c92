"""``srm-keras demo`` (``make demo``): the whole pipeline, offline, in a few minutes on a CPU.

Trains SRM-ResNet-20 (CIFAR layout) on the embedded scikit-learn digits, evaluates it on the
held-out split, and writes everything under the output folder in the layout of
``srm-keras train``; then exports and verifies the model when the export stage is installed.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

# The recipe of models/digits_srm_resnet20.toml, kept here so that the demo also runs from an
# installed package; tests/training/test_recipes.py keeps the two identical.
DEMO_RECIPE = {
    "model": "srm_resnet20",
    "dataset": "digits",
    "image_size": 32,
    "augment": "none",
    "epochs": 8,
    "batch_size": 64,
    "learning_rate": 0.1,
    "learning_rate_batch_size": 128,
    "momentum": 0.9,
    "schedule": "cosine",
    "warmup_epochs": 1,
    "weight_decay": 1e-4,
    "seed": 0,
    "output": "runs/demo",
}


def demo_config(**overrides):
    """The demo's TrainConfig; ``overrides`` (None values ignored) change single settings."""
    from srm_keras.training import TrainConfig

    # A finished demo is simply trained again; an interrupted one resumes.
    return TrainConfig(**DEMO_RECIPE, overwrite=True).replace(**overrides)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train, evaluate (and export) SRM-ResNet-20 on the embedded digits",
        description="Train SRM-ResNet-20 on scikit-learn's digits (no network needed), "
        "evaluate it on the held-out 20%, and write the run under --output.",
    )
    parser.add_argument("--output", default=DEMO_RECIPE["output"], help="run folder")
    parser.add_argument("--epochs", type=int, help=f"default: {DEMO_RECIPE['epochs']}")
    parser.add_argument("--data-dir", help="where the digits are prepared (tfds data dir)")
    parser.add_argument("--no-export", action="store_true", help="skip export + verification")
    parser.add_argument(
        "--no-zoo", action="store_true", help="skip the zoo table (parameters, GMACs vs paper)"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from srm_keras.training import train
    from srm_keras.training.run_folder import RunFolder

    if not args.no_zoo:
        from srm_keras.models.table import format_table, zoo_table

        print("The zoo against the SRM paper (srm-keras models):")
        print(format_table(zoo_table()), end="\n\n")
    config = demo_config(output=args.output, epochs=args.epochs, data_dir=args.data_dir)
    result = train(config)
    metrics = result.metrics
    output = result.output
    print(
        f"SRM-ResNet-20 on digits: held-out top-1 {metrics['val_accuracy']:.4f}, "
        f"top-5 {metrics['val_top5_accuracy']:.4f} ({metrics['num_examples']} images, "
        f"{metrics['train_seconds_this_process']:.0f} s of training)"
    )
    exported = None if args.no_export else export_step(result.model, config, output)
    run_folder = RunFolder(output)
    print(f"outputs in {output}/:")
    for path in (run_folder.final_metrics, run_folder.evaluation, run_folder.best_model):
        print(f"  {path}")
    print(f"  {run_folder.model}")
    print(f"  {run_folder.history}, {run_folder.curves}")
    print(f"  TensorBoard: tensorboard --logdir {run_folder.tensorboard}")
    if exported is not None:
        print(f"  exported and verified models: {exported}/ (see export_report.md)")
    return 0 if metrics["finished"] else 1


# --- Export and verification --------------------------------------------------------------


def export_step(model, config, output: Path) -> Path | None:
    """Export the trained model under ``output/export`` and verify every artifact against it.

    Skipped, with a log line, when the export stage (``srm_keras.export``) is not installed.
    """
    try:
        from srm_keras.export import ParityError, export
        from srm_keras.export.report import markdown
    except ImportError:
        logger.info("srm_keras.export is not available: skipping the export step")
        return None
    from srm_keras.data import load_datasets

    # Exported artifacts take raw 0-255 pixels and normalise inside.
    raw = load_datasets(
        config.dataset,
        image_size=config.image_size,
        batch_size=config.batch_size,
        augment="none",
        seed=config.seed,
        data_dir=config.data_dir,
        deterministic=True,
        normalize=False,
    )
    target = output / "export"
    try:
        export(model, target, representative_data=raw.train, verification_data=raw.validation)
    except ParityError as error:
        print(markdown(error.report))
        raise ValueError(f"an exported artifact missed its parity bound; see {target}") from None
    print((target / "export_report.md").read_text())
    return target
