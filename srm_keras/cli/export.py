"""``srm-keras export``: a trained model to SavedModel (TF Serving), TFLite and ONNX, verified."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMAT_HELP = (
    "formats to write, comma- or space-separated: savedmodel, tflite_float32, tflite_float16, "
    "tflite_dynamic, tflite_int8, onnx (default: all; tflite_int8 needs calibration data)"
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model to SavedModel, TFLite and ONNX and verify each against Keras",
        description="Export SOURCE (a .keras file, or a training output folder holding "
        "model.keras or best.keras) to every deployment format; each artifact takes float32 "
        "RGB 0-255 pixels named 'images'. The artifacts are then checked against the Keras "
        "model before anything is published; a missed bound publishes nothing (the previous "
        "version stays the one served), exits with status 1 and prints the numbers and where "
        "the rejected files are.",
    )
    parser.add_argument("source", help=".keras file or training output folder")
    parser.add_argument(
        "--output", required=True, help="export folder (new, empty or earlier export)"
    )
    parser.add_argument("--formats", nargs="+", metavar="FORMAT", help=FORMAT_HELP)
    parser.add_argument(
        "--force", action="store_true", help="replace an existing SavedModel version"
    )
    parser.add_argument(
        "--image-size", type=int, metavar="N", help="input size for models without one"
    )
    parser.add_argument("--model-name", help="TF Serving model name (default: the model's name)")
    parser.add_argument(
        "--version", type=int, help="SavedModel version (default: the next free one)"
    )
    parser.add_argument(
        "--data",
        help="dataset for int8 calibration and verification (e.g. digits, cifar10, an image "
        "folder); default: the dataset recorded in the training folder's config.json",
    )
    parser.add_argument("--data-dir", help="tensorflow-datasets data directory for --data")
    parser.add_argument("--top-k", type=int, default=5, help="classes returned by the SavedModel")
    parser.add_argument(
        "--no-fold", dest="fold", action="store_false", help="keep the modules' batch norm unfolded"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        metavar="N",
        help="largest image (width x height) the SavedModel's serving_bytes decodes; larger "
        "files are refused from their header (default: 40000000)",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="publish without verification (a verified export publishes nothing that fails)",
    )
    parser.set_defaults(func=run)


def _formats(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part for value in values for part in value.replace(",", " ").split()]


def run(args: argparse.Namespace) -> int:
    from srm_keras.export import ParityError, export, load_model
    from srm_keras.export.prepare import input_size
    from srm_keras.export.report import markdown
    from srm_keras.export.sources import export_data, run_data_settings

    model = load_model(args.source)
    size = input_size(model, args.image_size)
    recorded = run_data_settings(args.source)
    if args.data is not None and args.data != recorded.get("dataset"):
        recorded = {}  # another dataset than the run's: its split settings do not apply
    dataset = args.data or recorded.get("dataset")
    representative = verification = None
    if dataset is not None:
        representative, verification = export_data(
            dataset,
            size,
            data_dir=args.data_dir or recorded.get("data_dir"),
            seed=recorded.get("seed", 0),
            validation_split=recorded.get("validation_split", 0.2),
        )
    try:
        report = export(
            model,
            args.output,
            _formats(args.formats),
            model_name=args.model_name,
            version=args.version,
            force=args.force,
            representative_data=representative,
            verification_data=verification,
            image_size=args.image_size,
            top_k=args.top_k,
            verify=args.verify,
            fold_batchnorm=args.fold,
            **({"max_pixels": args.max_pixels} if args.max_pixels is not None else {}),
        )
    except ParityError as error:
        print(markdown(error.report))
        print(error)
        return 1
    print(markdown(report))
    print(f"export folder: {Path(args.output).resolve()}")
    return 0
