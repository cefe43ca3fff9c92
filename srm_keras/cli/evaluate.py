"""``srm-keras evaluate``: top-1, top-5, per-class accuracy and confusion matrix, as JSON, and
the confusion matrix as a PNG beside it (``--output m.json`` -> ``m.png``) or at ``--plot``."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a saved model on a dataset's held-out split",
        description="Evaluate MODEL (a .keras file, or a run folder made by `srm-keras train`, "
        "whose model.keras and data settings are used) on the validation split of a dataset.",
    )
    parser.add_argument("model", metavar="MODEL", help="MODEL.keras or a run folder")
    parser.add_argument("--dataset", help="tfds name, image folder or 'digits'")
    parser.add_argument("--data-dir", help="tensorflow-datasets data directory")
    parser.add_argument("--image-size", type=int, help="input size (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 256")
    parser.add_argument("--validation-split", type=float, help="held-out fraction (default 0.2)")
    parser.add_argument("--augment", help="selects the eval transform (default: auto)")
    parser.add_argument("--seed", type=int, help="split seed of a folder without split (0)")
    parser.add_argument(
        "--best", action="store_true", help="with a run folder: best.keras, not model.keras"
    )
    parser.add_argument(
        "--output",
        metavar="JSON",
        help="write the metrics here, and the confusion matrix beside it as a PNG of the same "
        "name (metrics.json -> metrics.png)",
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="write the confusion matrix picture here instead"
    )
    parser.set_defaults(func=run)


def _settings(args) -> tuple[Path, dict]:
    """The model file and the data settings: a run folder's config.json, then the flags."""
    from srm_keras.training.run_folder import RunFolder

    path = Path(args.model)
    settings: dict = {"batch_size": 256, "validation_split": 0.2, "augment": "auto", "seed": 0}
    # A run folder, or a model file inside one: the run's data settings hold its split.
    run = RunFolder.of(path)
    if path.is_dir() and run is None:
        raise ValueError(f"{str(path)!r} is not a run folder (no config.json).")
    if run is not None:
        settings.update(run.split_settings())
    if path.is_dir():
        path = run.best_model if args.best else run.model
    for key in (
        "dataset",
        "data_dir",
        "image_size",
        "batch_size",
        "validation_split",
        "augment",
        "seed",
    ):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if not settings.get("dataset"):
        raise ValueError("give --dataset (a tfds name, an image folder or 'digits').")
    return path, settings


def run(args) -> int:
    from srm_keras import storage
    from srm_keras.data import load_datasets
    from srm_keras.training import evaluate, load_model

    path, settings = _settings(args)
    model = load_model(path)
    size = settings.get("image_size") or model.input_shape[1]
    if size is None:
        raise ValueError("the model takes any input size; give --image-size.")
    data = load_datasets(
        settings["dataset"],
        image_size=int(size),
        batch_size=int(settings["batch_size"]),
        augment=settings["augment"],
        validation_split=float(settings["validation_split"]),
        seed=int(settings["seed"]),
        data_dir=settings.get("data_dir"),
        deterministic=True,
    )
    metrics = evaluate(model, data.validation, class_names=data.class_names)
    metrics.update(model=str(path), dataset=settings["dataset"])
    if args.output:
        storage.write_json(args.output, metrics)
    picture = args.plot or (Path(args.output).with_suffix(".png") if args.output else None)
    if picture:
        from srm_keras.training.plots import plot_confusion_matrix

        title = f"{path.name}: top-1 {metrics['accuracy']:.4f} on {metrics['num_examples']} images"
        plot_confusion_matrix(metrics["confusion_matrix"], picture, metrics["class_names"], title)
    print(
        f"{path}: top-1 {metrics['accuracy']:.4f}, top-5 {metrics['top5_accuracy']:.4f}, "
        f"loss {metrics['loss']:.4f} on {metrics['num_examples']} images"
        + (f"; metrics in {args.output}" if args.output else "")
        + (f"; confusion matrix in {picture}" if picture else "")
    )
    return 0
