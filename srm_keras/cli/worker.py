"""``srm-keras worker``: one worker of a training run on several machines (or N on this one).

The recipe flags are those of ``srm-keras train``; the run is
``srm_keras.distributed.train_multi_worker``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from srm_keras import storage
from srm_keras.cli.train import add_config_flags, config_from_args
from srm_keras.distributed.cluster import TF_CONFIG, tf_config
from srm_keras.distributed.watchdog import EXIT_WORKER_LOST

# As srm_keras.distributed.DEFAULT_TIMEOUT and DEFAULT_STARTUP_TIMEOUT, which load TensorFlow.
DEFAULT_TIMEOUT = 300.0
DEFAULT_STARTUP_TIMEOUT = 900.0

EPILOG = """\
Run the same command on every machine; each finds its place in the cluster in TF_CONFIG. On the
first of two machines:

  TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
              "task": {"type": "worker", "index": 0}}' \\
  srm-keras worker --config models/RECIPE.toml --output runs/x

and "index": 1 on the second (or pass --workers 10.0.0.1:12345,10.0.0.2:12345 --index 1).
--batch-size is the global batch, split evenly over the workers; the learning rate is scaled
for it. Worker 0 (the chief) writes the output folder. If a worker dies or hangs, the others
stop within --timeout seconds with exit status 75: run the same commands again to resume from
the last finished epoch. --local N starts N workers on this machine (127.0.0.1, free ports).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="train on several machines (run it on each; TF_CONFIG says which worker)",
        description="Train one worker of a synchronous data-parallel run with the recipe of "
        "`srm-keras train` (tf.distribute.MultiWorkerMirroredStrategy).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster = parser.add_argument_group("cluster")
    where = cluster.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        metavar="HOST:PORT,...",
        help="every worker's address, the chief first, instead of TF_CONFIG; needs --index",
    )
    where.add_argument(
        "--local", type=int, metavar="N", help="start N workers on this machine and wait for them"
    )
    cluster.add_argument("--index", type=int, help="this worker's position in --workers")
    cluster.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for the other workers during training (default %(default)s)",
    )
    cluster.add_argument(
        "--startup-timeout",
        type=float,
        default=DEFAULT_STARTUP_TIMEOUT,
        help="seconds to wait for every worker to start and load its data (default %(default)s)",
    )
    parser.add_argument("--config", metavar="TOML", help="recipe file, e.g. models/X.toml")
    add_config_flags(parser, skip=("strategy",))
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.local is not None:
        return _run_local(args)
    if args.workers is not None:
        if args.index is None:
            raise ValueError("--workers needs --index (this worker's position, 0 for the chief).")
        os.environ[TF_CONFIG] = tf_config(args.workers.split(","), args.index)
    elif args.index is not None:
        raise ValueError("--index goes with --workers; with TF_CONFIG the index is in TF_CONFIG.")

    from srm_keras.distributed import WorkerLostError, read_cluster, train_multi_worker

    read_cluster()  # a clear error before TensorFlow starts
    config = config_from_args(args)
    try:
        result = train_multi_worker(
            config, timeout=args.timeout, startup_timeout=args.startup_timeout
        )
    except WorkerLostError as error:
        print(f"srm-keras worker: error: {error}", file=sys.stderr)
        return EXIT_WORKER_LOST
    metrics = result.metrics
    if not metrics:  # not the chief
        return 0
    print(
        f"{config.model}: val top-1 {metrics['val_accuracy']:.4f}, "
        f"top-5 {metrics['val_top5_accuracy']:.4f} after {metrics['epochs_completed']} epochs "
        f"on {metrics['workers']} workers"
    )
    print(f"outputs in {result.output}/")
    return 0 if metrics["finished"] else 1


def _run_local(args) -> int:
    """Resolve the recipe once, then start ``args.local`` workers that read it."""
    from srm_keras.distributed import launch_local
    from srm_keras.training.config import to_toml

    if args.local < 1:
        raise ValueError(f"--local needs a positive number of workers, got {args.local}.")
    config = config_from_args(args)
    with storage.scratch("srm_keras_launch") as folder:
        recipe = Path(folder) / "recipe.toml"
        recipe.write_text(to_toml(config.to_dict()))
        argv = [sys.executable, "-m", "srm_keras.cli"]
        argv += ["--verbose"] if args.verbose else []
        argv += ["worker", "--config", str(recipe)]
        argv += ["--timeout", str(args.timeout), "--startup-timeout", str(args.startup_timeout)]
        return launch_local(argv, args.local)
