"""Time SRM's moment forms on ResNet-50's block outputs (TensorFlow, one process, interleaved).

The sixteen bottleneck outputs of ResNet-50 at 224x224 (3 of 56x56x256, 4 of 28x28x512, 6 of
14x14x1024, 3 of 7x7x2048) are pooled by each form in turn, round after round; the medians and
each form's ratio to the centred form are printed as a Markdown table and written as JSON:

    python benchmarks/srm_moments.py --batch-size 16 --jit-compile off on \
        --output benchmarks/results/2026-11-23_cpu_srm_moments_b16/cpu_srm_moments_b16.json

With TensorFlow's BFC CPU allocator, as ``srm-keras`` runs (the ``per_sample`` form came later
and is only in this file):

    TF_CPU_ALLOCATOR_USE_BFC=true python benchmarks/srm_moments.py --jit-compile off on \
        --repeats 9 \
        --output benchmarks/results/2026-11-23_cpu_srm_moments_b16_bfc/cpu_srm_moments_b16_bfc.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from srm_keras import storage
from srm_keras.benchmark.machine import machine_info

BLOCKS = [((56, 56, 256), 3), ((28, 28, 512), 4), ((14, 14, 1024), 6), ((7, 7, 2048), 3)]


def keras_ops(x):
    """The centred variance as StyleRecalibration.style_pool computes it (ddof 1)."""
    spatial = tf.cast(tf.shape(x)[1], tf.float32)
    mean = tf.reduce_mean(x, axis=1, keepdims=True)
    squares = tf.reduce_sum(tf.square(x - tf.stop_gradient(mean)), axis=1)
    return tf.squeeze(mean, axis=1), squares / (spatial - 1.0)


def fused(x):
    """The same centred variance, difference and square as one TensorFlow kernel."""
    spatial = tf.cast(tf.shape(x)[1], tf.float32)
    mean = tf.reduce_mean(x, axis=1, keepdims=True)
    squares = tf.reduce_sum(tf.math.squared_difference(x, tf.stop_gradient(mean)), axis=1)
    return tf.squeeze(mean, axis=1), squares / (spatial - 1.0)


def one_pass(x):
    """The rejected form: sum of squares minus the squared mean, with EuclideanNorm."""
    spatial = tf.cast(tf.shape(x)[1], tf.float32)
    mean = tf.reduce_mean(x, axis=1)
    squares = tf.square(tf.math.reduce_euclidean_norm(x, axis=1))
    return mean, (squares - spatial * tf.square(mean)) / (spatial - 1.0)


def per_sample(x):
    """The centred form one sample at a time (``tf.map_fn``), so that the squared differences
    of a sample are still in cache when they are summed."""

    def moments(sample):  # (S, C)
        mean = tf.reduce_mean(sample, axis=0, keepdims=True)
        squares = tf.reduce_sum(tf.square(sample - mean), axis=0)
        return tf.squeeze(mean, axis=0), squares

    spatial = tf.cast(tf.shape(x)[1], tf.float32)
    mean, squares = tf.map_fn(
        moments, x, fn_output_signature=(tf.float32, tf.float32), parallel_iterations=2
    )
    return mean, squares / (spatial - 1.0)


def mean_only(x):
    return tf.reduce_mean(x, axis=1)


FORMS = {
    "keras_ops": keras_ops,
    "fused": fused,
    "one_pass": one_pass,
    "per_sample": per_sample,
    "mean_only": mean_only,
}


def one_pass_accuracy() -> list[dict]:
    """The one-pass and keras.ops standard deviations against float64, by conditioning."""
    rng = np.random.default_rng(0)
    rows = []
    for spatial in (49, 784, 3136):
        for ratio in (16, 128, 1024):
            offset = np.sqrt(ratio / spatial * (spatial - 1))  # unit spread: S mean^2/centred
            sign = rng.choice([-1, 1], size=(8, 1, 256))
            spread = offset * sign * rng.uniform(0.5, 1, (8, 1, 256))
            x = rng.normal(size=(8, spatial, 256)) + spread
            x = x.astype("float32")
            exact = np.sqrt(x.astype("float64").var(axis=1, ddof=1) + 1e-5)
            row = {"S": spatial, "r": ratio}
            for name, form in (("one_pass", one_pass), ("keras_ops", keras_ops)):
                std = np.sqrt(form(tf.constant(x))[1].numpy().astype("float64") + 1e-5)
                row[name] = float(np.abs(std / exact - 1).max())
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--jit-compile", nargs="+", choices=["on", "off"], default=["off", "on"])
    parser.add_argument("--forms", nargs="+", choices=list(FORMS), default=list(FORMS))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--output")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    inputs = [
        (tf.constant(rng.random((args.batch_size, h * w, c), dtype="float32")), count)
        for (h, w, c), count in BLOCKS
    ]
    rows = []
    for jit in args.jit_compile:
        forms = {
            name: tf.function(form, jit_compile=jit == "on")
            for name, form in FORMS.items()
            # keras_ops is the reference; XLA has no EuclideanNorm kernel.
            if name == "keras_ops"
            or (name in args.forms and (jit == "off" or name in ("mean_only", "per_sample")))
        }
        for form in forms.values():  # trace and warm up
            for x, _ in inputs:
                tf.nest.map_structure(lambda t: t.numpy(), form(x))
        times = {name: [] for name in forms}
        for _ in range(args.repeats):
            for name, form in forms.items():
                start = time.perf_counter()
                for x, count in inputs:
                    for _ in range(count):
                        result = form(x)
                tf.nest.map_structure(lambda t: t.numpy(), result)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["keras_ops"])
        for name, values in times.items():
            median = statistics.median(values)
            rows.append(
                {
                    "form": name,
                    "xla": jit,
                    "median_ms": 1000 * median,
                    "min_ms": 1000 * min(values),
                    "max_ms": 1000 * max(values),
                    "ratio_to_keras_ops": median / base,
                }
            )
    print(f"batch {args.batch_size}; {os.cpu_count()} CPUs; TensorFlow {tf.__version__}")
    print("| form | XLA | median ms (16 blocks) | min–max ms | ratio to keras_ops |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['form']} | {r['xla']} | {r['median_ms']:.1f} | "
            f"{r['min_ms']:.1f}–{r['max_ms']:.1f} | {r['ratio_to_keras_ops']:.3f} |"
        )
    print("\nstd, max relative error against float64 (S positions, r = S mean^2 / centred sum)")
    accuracy = one_pass_accuracy()
    print("| S | r | one-pass | keras_ops |")
    print("|---:|---:|---:|---:|")
    for a in accuracy:
        print(f"| {a['S']} | {a['r']} | {a['one_pass']:.1e} | {a['keras_ops']:.1e} |")
    if args.output:
        payload = {
            "batch_size": args.batch_size,
            # Date, CPU model, load and versions, as the other benchmarks record them.
            "machine": machine_info(),
            "results": rows,
            "one_pass_accuracy": accuracy,
        }
        # Atomic write; the run's folder is created if it is new.
        storage.write_json(args.output, payload)


if __name__ == "__main__":
    main()
