"""``srm-keras convert``: PyTorch checkpoints to ``.keras`` models, and back.

srm-keras convert seresnet50.safetensors --model se_resnet50 --output se_resnet50.keras
srm-keras convert srm_resnet50.keras --output srm_resnet50.safetensors
"""

from __future__ import annotations

import os
import warnings

#: The checkpoint layouts of ``srm_keras.weights.LAYOUTS`` (which loads Keras), for ``--help``;
#: a test keeps the two equal.
LAYOUT_NAMES = ("srm_reference", "timm", "torchvision")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a PyTorch checkpoint to a .keras model, or a .keras model to PyTorch",
        description="Build a zoo model and fill it from a PyTorch checkpoint (.safetensors, "
        ".pth, .pt, .bin), saving a .keras file; or, given a .keras SOURCE and a checkpoint "
        "--output, export the model's weights in a PyTorch layout.",
    )
    parser.add_argument("source", metavar="SOURCE", help="checkpoint or .keras file")
    parser.add_argument("--output", required=True, metavar="FILE", help=".keras or checkpoint")
    parser.add_argument("--model", metavar="NAME", help="zoo model to build, e.g. se_resnet50")
    parser.add_argument(
        "--layout",
        choices=LAYOUT_NAMES,
        help="checkpoint naming (default: detected from the names, or the model's modules)",
    )
    parser.add_argument(
        "--classes",
        type=int,
        help="classifier size (default: the model's); required when the checkpoint's "
        "classifier has another size or is absent: its size keeps it, another starts a new one",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        metavar="PIXELS",
        help="square input size to build at (default: 224 for ImageNet depths); GE-θ "
        "checkpoints only load at the size they were trained at",
    )
    parser.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="load the tensors that match and report the rest, instead of failing",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from srm_keras.models import create_model
    from srm_keras.weights import (
        SUFFIXES,
        HeadMismatchWarning,
        is_checkpoint_path,
        load_torch_state_dict,
    )

    if args.source.lower().endswith(".keras"):
        return _export(args)
    if not is_checkpoint_path(args.source):
        raise ValueError(
            f"SOURCE {args.source!r} must be a PyTorch checkpoint ({', '.join(SUFFIXES)}) or a "
            ".keras model."
        )
    if not args.model:
        raise ValueError("--model is required to convert a checkpoint, e.g. --model se_resnet50.")
    if not args.output.lower().endswith(".keras"):
        raise ValueError(f"--output must end with .keras; received {args.output!r}.")
    kwargs = {}
    if args.classes is not None:
        kwargs["classes"] = args.classes
    if args.input_size is not None:
        kwargs["input_shape"] = (args.input_size, args.input_size, 3)
    model = create_model(args.model, **kwargs)
    with warnings.catch_warnings():
        # Without --classes a head that does not fit is an error here, below.
        warnings.simplefilter("ignore", HeadMismatchWarning)
        report = load_torch_state_dict(
            model,
            args.source,
            layout=args.layout,
            strict=args.strict,
            replace_head=args.classes is not None,
        )
    if report.head is not None and args.classes is None:
        raise ValueError(_head_error(args, report.head))
    _save_keras(model, args.output)
    print(
        f"{args.model}: {len(report.loaded)} tensors loaded ({report.layout} layout), "
        f"{len(report.skipped)} skipped -> {args.output}"
    )
    for title, names in (
        ("skipped", report.skipped),
        ("missing", report.missing),
        ("unused", report.unexpected),
        ("shape mismatch", report.mismatched),
        ("refused", report.refused),
    ):
        for name in names:
            print(f"  {title}: {name}")
    return 0


def _head_error(args, head) -> str:
    """One line: a converted model with a random head must be asked for."""
    if head.checkpoint_classes is None:
        return (
            f"{args.source} has no classifier and {args.model} has {head.model_classes} classes: "
            "pass --classes N to give the model a new N-class head (left untrained)."
        )
    return (
        f"{args.source} has a {head.checkpoint_classes}-class classifier and {args.model} has "
        f"{head.model_classes} classes by default: pass --classes {head.checkpoint_classes} to "
        "keep the checkpoint's head, or --classes N for a new, untrained N-class head."
    )


def _export(args) -> int:
    import keras

    from srm_keras.weights import (
        SUFFIXES,
        default_layout,
        is_checkpoint_path,
        save_torch_state_dict,
    )

    if not is_checkpoint_path(args.output):
        raise ValueError(
            f"Exporting {args.source!r}: --output must end with {', '.join(SUFFIXES)}; "
            f"received {args.output!r}."
        )
    if not os.path.isfile(args.source):
        raise ValueError(f"Model file not found: {args.source!r}.")
    model = keras.models.load_model(args.source, compile=False)
    layout = args.layout or default_layout(model)
    save_torch_state_dict(model, args.output, layout=layout)
    print(f"{model.name}: weights written in the {layout} layout -> {args.output}")
    return 0


def _save_keras(model, path: str) -> None:
    """Save atomically: a temporary ``.keras`` file beside the target, then a rename."""
    from srm_keras import storage

    with storage.replacing(path, ".keras") as temporary:
        model.save(temporary)
