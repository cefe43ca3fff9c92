"""Where LiteRT spends its time in exported models: per operator, each timed on its own.

    .venv/bin/python benchmarks/tflite_profile.py /tmp/graphs/{resnet50,se_resnet50}.tflite \\
        --batch-size 16 --output benchmarks/results/<date>_cpu_tflite_profile/b16_se.json

LiteRT's Python package has no operator profiler; :mod:`srm_keras.benchmark.litert_profile`
cuts every operator out into a model of its own, with its inputs as the whole model computes
them at ``--batch-size``, and times all of them and the whole models in interleaved rounds with
the interpreter settings of ``srm-keras bench``. Printed per model: the whole model's time, the
sum of its operators' and the operator types that take most.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help=".tflite files")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="interpreter threads (default: the cores this process may use, as srm-keras bench)",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    from srm_keras.benchmark.litert_profile import profile
    from srm_keras.benchmark.machine import machine_info

    result = {
        "machine": machine_info(),
        "batch_size": args.batch_size,
        "runs": args.runs,
        "threads": args.threads,
        "seed": args.seed,
    }
    result.update(
        profile(
            args.models,
            batch_size=args.batch_size,
            runs=args.runs,
            threads=args.threads,
            seed=args.seed,
        )
    )
    for name, model in result["models"].items():
        top = ", ".join(f"{k} {e['ms']:.1f}" for k, e in list(model["by_type"].items())[:8])
        print(
            f"{name}: whole {model['whole_ms']:.1f} ms, operators "
            f"{model['operators_sum_ms']:.1f} ms; {top}"
        )
    if args.output:
        from srm_keras import storage

        storage.write_json(args.output, result)


if __name__ == "__main__":
    main()
