"""Throughput benchmarks: models (zoo, keras.applications, exported artifacts) and the input
pipeline, timed in interleaved rounds so that ratios between models survive a noisy machine.

    from srm_keras.benchmark import run_benchmark
    report = run_benchmark(["resnet50", "srm_resnet50"], modes=("inference", "train"),
                           jit_compile=(True, False), batch_sizes=16, repeats=10)
    report.write("results.json")   # also results.csv and results.md

Names are loaded on first use: timing Keras models needs no TensorFlow (they run on the
configured Keras backend); the input pipeline (``tf.data``) and SavedModels do.
"""

from srm_keras._lazy import attach

_NAMES = {
    "BenchmarkReport": "report",
    "Case": "harness",
    "Source": "sources",
    "Timing": "timing",
    "format_markdown": "report",
    "interleaved": "timing",
    "machine_info": "machine",
    "pipeline_benchmark": "pipeline",
    "resolve": "sources",
    "run_benchmark": "harness",
    "write_jpegs": "pipeline",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)
