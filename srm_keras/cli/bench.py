"""``srm-keras bench``: throughput of models and of the input pipeline, in one interleaved run."""

from __future__ import annotations

from srm_keras.training.config import FAST_PRECISIONS

ON_OFF = {"on": True, "off": False}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="time inference/training steps and the input pipeline",
        description="Time inference and training steps of models in interleaved rounds (A B C "
        "A B C ...) and report each one's median time per step, images/s and ratio to a "
        "baseline measured in the same run. Every combination of --mode, --precision, "
        "--jit-compile and --batch-size is a configuration. Keras models run on the configured "
        "backend (KERAS_BACKEND or keras.json), e.g. KERAS_BACKEND=jax on a GPU machine.",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        required=True,
        metavar="MODEL",
        help="zoo names (srm_resnet50; options after a colon: resnet50:stride_on=1x1), "
        "keras_applications_resnet50, or paths of exported models (SavedModel folder, .onnx, "
        ".tflite; inference only)",
    )
    parser.add_argument("--baseline", help="the model the ratios refer to (default: the first)")
    parser.add_argument(
        "--batch-size",
        type=int,
        nargs="+",
        default=[16],
        metavar="N",
        help="batch sizes to time (default: 16)",
    )
    parser.add_argument(
        "--image-size", type=int, default=224, metavar="PIXELS", help="square input (224)"
    )
    parser.add_argument(
        "--mode",
        nargs="+",
        choices=("inference", "train"),
        default=["inference"],
        help="steps to time: inference, train or both (default: inference)",
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=FAST_PRECISIONS,
        default=["float32"],
        help="precisions to time (default: float32)",
    )
    parser.add_argument(
        "--jit-compile",
        nargs="+",
        choices=tuple(ON_OFF),
        help="XLA (default: on with JAX, where off would run each op eagerly; off elsewhere)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="interleaved timed rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first")
    parser.add_argument(
        "--min-repeat-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="run as many steps per repetition as take S seconds (for small models)",
    )
    parser.add_argument(
        "--classes", type=int, default=1000, help="classifier size of zoo models (1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (0)")
    parser.add_argument(
        "--threads",
        type=int,
        help="TensorFlow intra-/inter-op threads (default: one per core); with 1, the CPU "
        "ratio measures work alone on a shared machine",
    )
    parser.add_argument("--tflite-threads", type=int, help="LiteRT threads (default: all cores)")
    parser.add_argument(
        "--onnx-threads",
        type=int,
        help="ONNX Runtime intra-op threads (default: ONNX Runtime's choice)",
    )
    parser.add_argument(
        "--input-pipeline",
        action="store_true",
        help="also time the tf.data training pipeline on generated JPEGs",
    )
    parser.add_argument(
        "--pipeline-threads",
        type=int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="tf.data private thread-pool sizes to compare",
    )
    parser.add_argument(
        "--pipeline-images", type=int, default=128, help="JPEGs to generate for the pipeline"
    )
    parser.add_argument(
        "--output",
        metavar="PATH.json",
        help="write JSON, and CSV, Markdown and a bar chart of the ratios (PNG) beside it",
    )
    parser.set_defaults(func=run, any_backend=True)


def run(args) -> int:
    from srm_keras.benchmark import run_benchmark

    if args.input_pipeline:  # before any model is timed
        try:
            from srm_keras.benchmark import pipeline_benchmark  # tf.data
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] != "tensorflow":
                raise
            raise ValueError(
                "--input-pipeline times tf.data, which needs TensorFlow: install it "
                "(pip install tensorflow) or leave the option out."
            ) from error
    report = run_benchmark(
        args.models,
        modes=args.mode,
        precisions=args.precision,
        jit_compile=None  # the harness's default: on with JAX, off elsewhere
        if args.jit_compile is None
        else [ON_OFF[value] for value in args.jit_compile],
        batch_sizes=args.batch_size,
        image_size=args.image_size,
        repeats=args.repeats,
        warmup=args.warmup,
        min_repeat_seconds=args.min_repeat_seconds,
        baseline=args.baseline,
        classes=args.classes,
        seed=args.seed,
        tflite_threads=args.tflite_threads,
        onnx_threads=args.onnx_threads,
        threads=args.threads,
    )
    if args.input_pipeline:
        report.pipeline, report.pipeline_settings = pipeline_benchmark(
            threads=args.pipeline_threads,
            image_size=args.image_size,
            batch_size=args.batch_size[0],
            images=args.pipeline_images,
            repeats=max(1, min(args.repeats, 5)),
            seed=args.seed,
        )
    print(report.to_markdown(), end="")
    if args.output:
        for path in report.write(args.output):
            print(f"wrote {path}")
        chart = report.write_chart(args.output)
        if chart is not None:
            print(f"wrote {chart}")
    return 0
