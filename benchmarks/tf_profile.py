"""Where TensorFlow spends its time in zoo models: per op type, from its profiler.

    .venv/bin/python benchmarks/tf_profile.py --models resnet50 se_resnet50 srm_resnet50 \\
        ge_resnet50 --batch-size 16 \\
        --output benchmarks/results/<date>_cpu_tf_profile_b16/cpu_tf_profile_b16.json

Each model (untrained, seeded) runs inference in a ``tf.function`` (XLA off, as ``srm-keras
bench --jit-compile off``) at ``--batch-size`` on 224x224 images; after a warm-up, ``--runs``
calls run under ``tf.profiler.experimental``. From the trace (``*.xplane.pb``), every op the
executor ran is counted: milliseconds per call by op type (Grappler's fused ops included, e.g.
``_FusedConv2D``), and the part of it inside the modules' name scopes (the ops of layers named
``*_se``, ``*_srm``, ``*_ge``...). A name ending in ``:folded`` profiles the model's
inference forms, as the exported SavedModel runs them (``srm_keras.export.folding.fold_model``,
early means included). Op times are wall times on the executor's threads; two ops
that run at once both count, so the sums can exceed the call's time, which is reported beside
them.
"""

from __future__ import annotations

import argparse
import collections
import glob
import statistics
import tempfile
from pathlib import Path

import numpy as np


def _module_names(model) -> set[str]:
    from srm_keras.layers import names

    suffixes = {f"_{name}" for name in names()} | {"_srm", "_se", "_ge", "_mssar"}
    # The inference forms' early means (their pooling; the block's last convolution and BN on
    # the pooled vector stay in that convolution's scope) count as the module's.
    suffixes.add("_early_mean")
    return {layer.name for layer in model.layers if layer.name.endswith(tuple(suffixes))}


def profile_model(name: str, batch_size: int, runs: int, seed: int) -> dict:
    import keras
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    import srm_keras

    keras.utils.set_random_seed(seed)
    model = srm_keras.create_model(name.removesuffix(":folded"))
    if name.endswith(":folded"):
        from srm_keras.export.folding import fold_model

        model, _ = fold_model(model)
    modules = _module_names(model)
    call = tf.function(lambda x: model(x, training=False), jit_compile=False)
    images = np.random.default_rng(seed).uniform(0, 255, (batch_size, 224, 224, 3))
    images = tf.constant(images.astype("float32"))
    for _ in range(3):
        call(images).numpy()
    logdir = tempfile.mkdtemp(prefix="tf_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(runs):
        call(images).numpy()
    tf.profiler.experimental.stop()
    (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(path).read_bytes())
    (host,) = [plane for plane in space.planes if plane.name == "/host:CPU"]
    by_type: dict[str, float] = collections.Counter()
    in_modules: dict[str, float] = collections.Counter()
    calls = []
    for line in host.lines:
        for event in line.events:
            metadata = host.event_metadata[event.metadata_id]
            ms = event.duration_ps / 1e9
            # The call itself, on the Python thread (its line is named after the process:
            # "python", "python3"...), not on TensorFlow's own threads.
            if metadata.name == "<lambda>" and not line.name.startswith("tf_"):
                calls.append(ms)
            if not line.name.startswith("tf_Compute") or ":" not in metadata.name:
                continue
            if "::" in metadata.name:  # the executor's own regions, not ops
                continue
            kind = metadata.display_name or metadata.name.rsplit(":", 1)[1]
            by_type[kind] += ms / runs
            scopes = metadata.name.split("/")
            if any(scope.rsplit("_", 1)[0] in modules or scope in modules for scope in scopes):
                in_modules[kind] += ms / runs
    return {
        "call_ms": round(statistics.median(calls), 2) if calls else None,
        "ops_ms": round(sum(by_type.values()), 2),
        "modules_ms": round(sum(in_modules.values()), 2),
        "ms_by_type": {k: round(v, 3) for k, v in sorted(by_type.items(), key=lambda i: -i[1])},
        "module_ms_by_type": {
            k: round(v, 3) for k, v in sorted(in_modules.items(), key=lambda i: -i[1])
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "srm_resnet50"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    # Loaded first, so that the machine record lists TensorFlow's threads and settings.
    import tensorflow  # noqa: F401

    from srm_keras.benchmark.machine import machine_info

    result = {"machine": machine_info(), "batch_size": args.batch_size, "runs": args.runs}
    result["models"] = {}
    for name in args.models:
        entry = profile_model(name, args.batch_size, args.runs, args.seed)
        result["models"][name] = entry
        top = ", ".join(f"{k} {v:.1f}" for k, v in list(entry["ms_by_type"].items())[:8])
        inside = ", ".join(f"{k} {v:.1f}" for k, v in list(entry["module_ms_by_type"].items())[:8])
        print(f"{name}: call {entry['call_ms']} ms, ops {entry['ops_ms']} ms; {top}")
        if inside:
            print(f"  in the modules {entry['modules_ms']} ms: {inside}")
    if args.output:
        from srm_keras import storage

        storage.write_json(args.output, result)


if __name__ == "__main__":
    main()
