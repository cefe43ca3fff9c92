"""The exported graphs of zoo models: ONNX and float32 TFLite files to time, and their op counts.

    .venv/bin/python benchmarks/deployed_graphs.py --artifacts /tmp/graphs \\
        --output benchmarks/results/<date>_cpu_deployed_graphs/cpu_deployed_graphs.json

Each model (untrained, seeded) goes through what ``srm_keras.export`` does before it converts:
the modules' inference forms (``srm_keras.export.folding.fold_model``), the serving model and
the frozen graph; then ``.onnx`` and float32 ``.tflite`` files are written under
``--artifacts`` (large: not for the repository) and each graph's operators are counted. Time
the files with the harness, one runtime per run, interleaved::

    srm-keras bench --models /tmp/graphs/{resnet50,se_resnet50,srm_resnet50,ge_resnet50}.onnx \\
        --batch-size 1 16 --repeats 15 --output .../cpu_onnx_resnet50.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_MODELS = ("resnet50", "se_resnet50", "srm_resnet50", "ge_resnet50", "mssar_resnet50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--artifacts", type=Path, required=True, help="where the files go")
    parser.add_argument("--output", type=Path, help="JSON of the op counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tflite-gather",
        choices=("sum", "depthwise"),
        default="sum",
        help="global GE's sum in the TFLite file (export writes 'sum'); 'depthwise' files are "
        "named <model>_gather_depthwise.tflite",
    )
    args = parser.parse_args()

    import keras
    import onnx

    import srm_keras
    from srm_keras import storage
    from srm_keras.benchmark.machine import machine_info
    from srm_keras.export.folding import fold_model
    from srm_keras.export.frozen import freeze
    from srm_keras.export.onnx_model import operator_counts, to_onnx
    from srm_keras.export.prepare import serving_model
    from srm_keras.export.tflite import convert_tflite
    from srm_keras.export.tflite import operator_counts as tflite_counts

    args.artifacts.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine_info(), "seed": args.seed, "models": {}}
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        model = srm_keras.create_model(name)
        folded, forms = fold_model(model, gather=args.tflite_gather)
        frozen = freeze(serving_model(folded))
        # As export() converts it: global GE's sum as a depthwise convolution for ONNX.
        proto = to_onnx(freeze(serving_model(fold_model(model, gather="depthwise")[0])), name=name)
        onnx_path = args.artifacts / f"{name}.onnx"
        onnx.save(proto, str(onnx_path))
        tflite_path, _ = convert_tflite(frozen, ["tflite_float32"], args.artifacts, basename=name)[
            "tflite_float32"
        ]
        suffix = "" if args.tflite_gather == "sum" else "_gather_depthwise"
        final = args.artifacts / f"{name}{suffix}.tflite"
        tflite_path.replace(final)
        onnx_ops = operator_counts(proto)
        tflite_ops = tflite_counts(final.read_bytes())
        result["models"][name] = {
            "inference_forms": len(forms),
            "onnx": {
                "nodes": sum(onnx_ops.values()),
                "operators": onnx_ops,
                "bytes": onnx_path.stat().st_size,
            },
            "tflite_float32": {
                "operators_run": sum(tflite_ops.values()),
                "operators": tflite_ops,
                "bytes": final.stat().st_size,
            },
        }
        print(f"{name}: ONNX {sum(onnx_ops.values())} nodes {onnx_ops}")
        print(f"{name}: TFLite {sum(tflite_ops.values())} operators {tflite_ops}")
        keras.backend.clear_session()
    if args.output:
        storage.write_json(args.output, result)


if __name__ == "__main__":
    main()
