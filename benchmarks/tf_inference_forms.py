"""The modules' inference forms in TensorFlow: Keras models against their folded copies.

    .venv/bin/python benchmarks/tf_inference_forms.py --batch-size 16 --output \\
        benchmarks/results/<date>_cpu_tf_inference_forms_b16/cpu_tf_inference_forms_b16.json

The exported SavedModel (TF Serving) runs the modules' inference forms
(``srm_keras.export.folding.fold_model``). This times, in one interleaved run
(``srm_keras.benchmark.timing.interleaved``), plain ResNet-50 and each recalibrated ResNet-50 as
built (training forms, ``training=False``), folded with the means after the block's last
convolution (``early_mean=False``) and folded with them before it (the export's default). Each
is a ``tf.function`` on 224x224 float32 images, XLA off, untrained seeded weights. Reported:
median milliseconds per call and the ratio to plain ResNet-50.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

FORMS = ("keras", "folded_late_mean", "folded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["se_resnet50", "srm_resnet50"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    import srm_keras
    from srm_keras.benchmark.machine import machine_info
    from srm_keras.benchmark.timing import interleaved
    from srm_keras.export.folding import fold_model

    images = np.random.default_rng(args.seed).uniform(0, 255, (args.batch_size, 224, 224, 3))
    images = tf.constant(images.astype("float32"))
    contenders = {}

    def add(label, model):
        call = tf.function(lambda x: model(x, training=False), jit_compile=False)
        contenders[label] = lambda: call(images).numpy()

    keras.utils.set_random_seed(args.seed)
    add("resnet50", srm_keras.create_model("resnet50"))
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        model = srm_keras.create_model(name)
        add(f"{name}:keras", model)
        add(f"{name}:folded_late_mean", fold_model(model, early_mean=False)[0])
        add(f"{name}:folded", fold_model(model)[0])
    labels = list(contenders)
    timings = interleaved(
        [contenders[label] for label in labels],
        repeats=args.repeats,
        warmup=2,
        on_round=lambda i: print(f"round {i + 1}/{args.repeats}", flush=True),
    )
    plain = timings[0].median
    result = {"machine": machine_info(), "batch_size": args.batch_size, "repeats": args.repeats}
    result["models"] = {
        label: {
            "median_ms": round(timing.median * 1e3, 2),
            "min_ms": round(timing.minimum * 1e3, 2),
            "max_ms": round(timing.maximum * 1e3, 2),
            "ratio": round(timing.median / plain, 3),
            "cpu_ratio": round(timing.cpu_median / timings[0].cpu_median, 3),
        }
        for label, timing in zip(labels, timings)
    }
    for label, entry in result["models"].items():
        print(f"{label:32s} {entry['median_ms']:8.1f} ms  ratio {entry['ratio']:.3f}")
    if args.output:
        from srm_keras import storage

        storage.write_json(args.output, result)


if __name__ == "__main__":
    main()
