"""Throughput benchmarks: models (zoo, keras.applications, exported artifacts) and the input
pipeline, timed in interleaved rounds so that ratios between models survive a noisy machine.

    from srm_keras.benchmark import run_benchmark
    report = run_benchmark(["resnet50", "srm_resnet50"], modes=("inference", "train"),
                           jit_compile=(True, False), batch_sizes=16, repeats=10)
    report.write("results.json")   # also results.csv and results.md
"""

from srm_keras.benchmark.harness import Case, run_benchmark
from srm_keras.benchmark.machine import machine_info
from srm_keras.benchmark.pipeline import pipeline_benchmark, write_jpegs
from srm_keras.benchmark.report import BenchmarkReport, format_markdown
from srm_keras.benchmark.sources import Source, resolve
from srm_keras.benchmark.timing import Timing, interleaved

__all__ = [
    "BenchmarkReport",
    "Case",
    "Source",
    "Timing",
    "format_markdown",
    "interleaved",
    "machine_info",
    "pipeline_benchmark",
    "resolve",
    "run_benchmark",
    "write_jpegs",
]
