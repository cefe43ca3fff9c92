"""A gate's pooling and product on an (N, H*W, C) reshape, on the map, and as average pooling.

    .venv/bin/python benchmarks/pooling_layouts.py \\
        --output benchmarks/results/<date>_cpu_pooling_layouts/cpu_pooling_layouts.json

The training forms of the modules reduce a reshape (one axis); the inference forms that exports
swap in reduce the map's two spatial axes with keepdims (docs/design.md §14). A third form takes
the mean as an average pooling with a window the size of the map (``tf.nn.avg_pool2d``, which
oneDNN runs without XLA). This times them on ResNet-50's first-stage block output
(16, 56, 56, 256), forward alone and forward with backward, with XLA on and off, in interleaved
rounds; medians in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    import tensorflow as tf

    from srm_keras.benchmark.machine import machine_info

    x = tf.random.stateless_normal((16, 56, 56, 256), seed=(0, 0))
    weight = tf.random.stateless_normal((256,), seed=(0, 1))

    def reshaped(x):
        flat = tf.reshape(x, (tf.shape(x)[0], -1, x.shape[-1]))
        gate = tf.sigmoid(tf.reduce_mean(flat, axis=1) * weight)
        return tf.reshape(flat * gate[:, None, :], tf.shape(x))

    def maps(x):
        return x * tf.sigmoid(tf.reduce_mean(x, axis=(1, 2), keepdims=True) * weight)

    def with_backward(form):
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.square(form(x)))
            return tape.gradient(loss, x)

        return step

    def pooled(x):
        mean = tf.nn.avg_pool2d(x, x.shape[1:3], strides=1, padding="VALID")
        return x * tf.sigmoid(mean * weight)

    functions = {}
    for xla in (False, True):
        for name, form in (("reshape", reshaped), ("maps", maps), ("avg_pool", pooled)):
            functions[f"{name} forward, XLA {'on' if xla else 'off'}"] = tf.function(
                form, jit_compile=xla
            )
            functions[f"{name} forward+backward, XLA {'on' if xla else 'off'}"] = tf.function(
                with_backward(form), jit_compile=xla
            )
    for function in functions.values():  # trace and compile
        function(x).numpy()
    times = {name: [] for name in functions}
    for _ in range(args.repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            function(x).numpy()
            times[name].append(time.perf_counter() - started)
    medians = {name: round(1e3 * statistics.median(t), 2) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name:40s} {median:8.2f} ms")
    if args.output:
        from srm_keras import storage

        result = {"machine": machine_info(), "repeats": args.repeats, "median_ms": medians}
        storage.write_json(args.output, {**result, "seconds": times})


if __name__ == "__main__":
    main()
