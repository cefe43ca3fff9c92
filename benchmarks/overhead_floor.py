"""Where a recalibration module's time goes: ResNet-50 with stripped-down modules, one run.

Every residual block of ResNet-50 gets one of these in place of a full module, each a strict
subset of the next one's work:

* ``gate_only``: rescale the block output by a per-(sample, channel) gate taken from its first
  position, ``x * sigmoid(x[:, :1, :1, :])``. No pooling: the cost of the rescaling pass alone,
  which every module here pays (SE, GE, SRM);
* ``mean_gate``: ``x * sigmoid(mean(x))``, the spatial mean and the rescaling. This is the least
  work any pool-then-rescale module can do (SE is this plus two small dense layers);
* ``srm_pool_gate``: ``x * sigmoid(mean + std)`` with SRM's own pooling (centred variance in
  float32). SRM is this plus its CFC and batch normalisation on (N, C) tensors;

and the full SE, SRM and GE-θ modules for comparison, and SRM with its batched pooling in every
configuration (``srm_batched_pool``; the package pools one sample at a time in XLA-compiled CPU
inference). The stripped modules are timing instruments: they are not trained and not part of
the package. All contenders are interleaved repetition by repetition in one process by
``srm_keras.benchmark.run_benchmark`` (the harness behind ``srm-keras bench``); the ratios are
to plain ResNet-50 in the same run and configuration:

    python benchmarks/overhead_floor.py --jit-compile off on --repeats 10 \
        --output benchmarks/results/2026-11-23_cpu_overhead_floor_b16/cpu_overhead_floor_b16.json

The ``srm-keras`` command runs TensorFlow with its BFC CPU allocator; this script, like any
Python program, does so only when ``TF_CPU_ALLOCATOR_USE_BFC=true`` is set in its environment:

    TF_CPU_ALLOCATOR_USE_BFC=true python benchmarks/overhead_floor.py --mode inference train \
        --jit-compile off on --repeats 8 --output \
        benchmarks/results/2026-11-23_cpu_overhead_floor_b16_bfc/cpu_overhead_floor_b16_bfc.json
"""

from __future__ import annotations

import argparse
import logging

import keras
from keras import ops

from srm_keras import resnet
from srm_keras.benchmark import run_benchmark
from srm_keras.layers import StyleRecalibration


class GateOnly(keras.layers.Layer):
    """``x * sigmoid(x at the first position)``: the rescaling pass without any pooling."""

    def call(self, inputs):
        return inputs * ops.sigmoid(inputs[:, :1, :1, :])


class MeanGate(keras.layers.Layer):
    """``x * sigmoid(spatial mean)``: the least work of a pool-then-rescale module."""

    def call(self, inputs):
        mean = ops.mean(ops.cast(inputs, "float32"), axis=(1, 2), keepdims=True)
        return inputs * ops.cast(ops.sigmoid(mean), inputs.dtype)


class SRMPoolGate(keras.layers.Layer):
    """``x * sigmoid(mean + std)`` with SRM's pooling; no CFC, no batch normalisation."""

    ddof = 1
    epsilon = 1e-5

    def call(self, inputs, training=None):
        # (N, C) each, float32; ``training`` picks the same pooling form as in SRM.
        mean, std = StyleRecalibration.style_pool(self, inputs, training=training)
        gate = ops.cast(ops.sigmoid(mean + std), inputs.dtype)
        return inputs * gate[:, None, None, :]


class BatchedPoolSRM(StyleRecalibration):
    """SRM with the batched centred pooling everywhere, as before the per-sample form."""

    def style_pool(self, inputs, training=None):
        return super().style_pool(inputs, training=True)  # training selects the batched form


def _builder(recalibration):
    def build(input_shape, classes):
        return resnet(50, recalibration, input_shape=input_shape, classes=classes)

    return build


CONTENDERS = [
    ("resnet50", _builder(None)),
    ("gate_only_resnet50", _builder(GateOnly)),
    ("mean_gate_resnet50", _builder(MeanGate)),
    ("se_resnet50", _builder("se")),
    ("srm_pool_gate_resnet50", _builder(SRMPoolGate)),
    ("srm_resnet50", _builder("srm")),
    ("ge_resnet50", _builder("ge")),
    ("srm_batched_pool_resnet50", _builder(BatchedPoolSRM)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--mode", nargs="+", choices=["inference", "train"], default=["inference"])
    parser.add_argument("--jit-compile", nargs="+", choices=["on", "off"], default=["off", "on"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--contenders", nargs="+", choices=[name for name, _ in CONTENDERS], help="default: all"
    )
    parser.add_argument("--output", help="JSON path; CSV and Markdown are written beside it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    chosen = args.contenders or [name for name, _ in CONTENDERS]
    report = run_benchmark(
        [(name, build) for name, build in CONTENDERS if name in chosen],
        modes=args.mode,
        jit_compile=[value == "on" for value in args.jit_compile],
        batch_sizes=args.batch_size,
        image_size=args.image_size,
        repeats=args.repeats,
    )
    print(report.to_markdown())
    if args.output:
        for path in report.write(args.output):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
