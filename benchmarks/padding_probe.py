"""Probe: does the explicit symmetric padding of strided convolutions cost time?

Builds ResNet-50 twice: as the zoo builds it (``ZeroPadding2D`` + ``"valid"`` convolution, the
PyTorch sampling grid) and with ``"same"`` padding on the strided convolutions instead (Keras'
grid: one pixel fewer on the top/left, so NOT the same function — for timing only). Times both
beside keras.applications.ResNet50 and the stride-on-1x1 layout, interleaved, in one run. The run
behind BENCHMARKS.md's comparison with keras.applications:

    python benchmarks/padding_probe.py --mode inference --jit-compile off on --repeats 8 --output \
        benchmarks/results/2026-11-23_cpu_plain_vs_keras_applications_inference/cpu_plain_vs_keras_applications_inference.json
"""

from __future__ import annotations

import argparse
from unittest import mock

import keras

from srm_keras.benchmark import run_benchmark
from srm_keras.models import blocks, resnet


def _conv_bn_same(x, filters, kernel_size, strides, conv_name, bn_name):
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid" if kernel_size == 1 else "same",
        use_bias=False,
        kernel_initializer=blocks.CONV_INITIALIZER,
        name=conv_name,
    )(x)
    return blocks.batch_norm(bn_name)(x)


def resnet50_same_padding(input_shape, classes):
    with mock.patch.object(blocks, "conv_bn", _conv_bn_same):
        return resnet(50, input_shape=input_shape, classes=classes, name="resnet50_same")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", nargs="+", default=["inference"])
    parser.add_argument("--jit-compile", nargs="+", choices=("on", "off"), default=["off"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--output")
    args = parser.parse_args()
    report = run_benchmark(
        [
            "resnet50",
            ("resnet50_same_padding", resnet50_same_padding),
            "resnet50:stride_on=1x1",
            "keras_applications_resnet50",
        ],
        modes=args.mode,
        jit_compile=[value == "on" for value in args.jit_compile],
        batch_sizes=args.batch_size,
        image_size=args.image_size,
        repeats=args.repeats,
    )
    print(report.to_markdown(), end="")
    if args.output:
        report.write(args.output)


if __name__ == "__main__":
    main()
