"""ONNX files with a fixed batch, and optionally each gate expanded to its map: what ONNX
Runtime's NCHWc rewrite does with them.

    .venv/bin/python benchmarks/onnx_static_batch.py /tmp/graphs2/{resnet50,se_resnet50}.onnx \\
        --batch-size 16 --artifacts /tmp/graphs3

ONNX Runtime keeps a block's output in its blocked NCHWc layout only through operators it has
NCHWc kernels for; the product with a ``(N, C, 1, 1)`` gate is not one. For each file this
writes ``<name>_b<batch>.onnx``, the same graph with the batch fixed (every shape static), and,
where the graph has gate products, ``<name>_b<batch>_expanded.onnx``, where each gate is first
resized (nearest) to its map's size so that the product multiplies two maps of one shape. With a
fixed batch ONNX Runtime then keeps SE's and GE's networks in NCHWc (SRM's centring, a broadcast
subtraction, keeps its reorders); ``--output`` records the machine and, per file, the operators
of the graph ONNX Runtime runs after its own rewrites, reorders included. Time the files
with ``srm-keras bench`` (BENCHMARKS.md, "What bounds ONNX Runtime").
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

import numpy as np

from srm_keras import storage


def _shapes(model) -> dict[str, list[int]]:
    infos = [*model.graph.value_info, *model.graph.input, *model.graph.output]
    return {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in infos}


def fixed_batch(model, batch_size: int):
    """``model`` with its input's and outputs' batch dimension fixed, shapes inferred."""
    from onnx import shape_inference

    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_value = batch_size
    return shape_inference.infer_shapes(model)


def expand_gates(model) -> int:
    """Resize every ``(N, C, 1, 1)`` factor of a product with an ``(N, C, H, W)`` map to the
    map's size (nearest, integral scales), in place; return how many."""
    from onnx import helper, numpy_helper

    shapes = _shapes(model)
    nodes, count = [], 0
    for node in model.graph.node:
        pair = [shapes.get(name) for name in node.input]
        if node.op_type != "Mul" or len(pair) != 2 or not all(s and len(s) == 4 for s in pair):
            nodes.append(node)
            continue
        gates = [i for i, shape in enumerate(pair) if shape[2:] == [1, 1]]
        if len(gates) != 1 or pair[1 - gates[0]][2] <= 1:
            nodes.append(node)
            continue
        gate, full = node.input[gates[0]], node.input[1 - gates[0]]
        height, width = shapes[full][2:]
        scales = numpy_helper.from_array(
            np.array([1, 1, height, width], np.float32), name=f"{node.name}_scales"
        )
        model.graph.initializer.append(scales)
        expanded = f"{gate}_expanded_{count}"
        nodes.append(
            helper.make_node(
                "Resize",
                [gate, "", scales.name],
                [expanded],
                mode="nearest",
                # The only nearest resize ONNX Runtime's NCHWc rewrite turns into its blocked
                # Upsample; with the defaults (half_pixel, round_prefer_floor) the resize and
                # the product stay in NCHW and the reorders stay with them.
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
                name=f"{node.name}_expand",
            )
        )
        node.input[:] = [full, expanded]
        nodes.append(node)
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return count


def _save(model, path: Path) -> Path:
    """Check ``model`` and write it to ``path`` through a temporary file; return ``path``."""
    import onnx

    onnx.checker.check_model(model)
    with storage.replacing(path, ".onnx") as temporary:
        onnx.save(model, str(temporary))
    return path


def runtime_operators(path: Path) -> dict[str, int]:
    """The operators of the graph ONNX Runtime (CPU, default optimisations) runs for ``path``."""
    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory() as scratch:
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(Path(scratch) / "optimized.onnx")
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        graph = onnx.load(options.optimized_model_filepath).graph
    kinds = (f"{n.domain}:{n.op_type}" if n.domain else n.op_type for n in graph.node)
    return dict(sorted(collections.Counter(kinds).items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help=".onnx files")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="0 keeps the batch symbolic (files *_bN)"
    )
    parser.add_argument("--artifacts", type=Path, required=True, help="where the files go")
    parser.add_argument("--output", type=Path, help="a JSON file: each file's runtime operators")
    args = parser.parse_args()
    if args.batch_size < 0:
        parser.error(f"--batch-size must be 0 (symbolic) or more; got {args.batch_size}")
    import onnx

    args.artifacts.mkdir(parents=True, exist_ok=True)
    written = []
    for path in args.models:
        stem = f"{path.stem}_b{args.batch_size or 'N'}"
        if args.batch_size:
            model = fixed_batch(onnx.load(str(path)), args.batch_size)
        else:
            model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
        written.append(_save(model, args.artifacts / f"{stem}.onnx"))
        expanded = onnx.ModelProto()
        expanded.CopyFrom(model)
        count = expand_gates(expanded)
        if count:
            written.append(_save(expanded, args.artifacts / f"{stem}_expanded.onnx"))
        batch = f"fixed at {args.batch_size}" if args.batch_size else "symbolic"
        print(f"{path.name}: batch {batch}; {count} gates expanded")
    if args.output:
        from srm_keras.benchmark.machine import machine_info

        record = {
            "machine": machine_info(),  # the NCHWc rewrite depends on the CPU and the version
            "runtime_operators": {p.name: runtime_operators(p) for p in written},
        }
        for name, operators in record["runtime_operators"].items():
            reorders = sum(n for op, n in operators.items() if "Reorder" in op)
            print(f"{name}: {reorders} NCHWc reorders in the graph ONNX Runtime runs")
        storage.write_json(args.output, record)


if __name__ == "__main__":
    main()
