"""Where LiteRT spends its time in a model: every operator timed on its own.

LiteRT's Python package has no operator profiler, so this module builds one. Each operator of a
model's main subgraph is cut out into a model of its own (:func:`one_operator_models`): the same
operator, options and weights, its inputs at the shapes and values they have when the whole model
runs at the batch size asked for (read from one run of the whole model that keeps every tensor).
Each one-operator model gets an interpreter with the settings ``srm-keras bench`` uses (the
default XNNPack delegate, ``threads`` threads). Then all of them, and each whole model, are timed
in interleaved rounds (:func:`srm_keras.benchmark.timing.interleaved`). An operator's time is its
median less that of an empty invoke (a one-element ADD timed the same way).

An operator timed alone is not exactly that operator in the graph: its input is as warm in the
caches as its own previous invocation left it, where in the graph it is what the operator before
it left. The sum of the operators against the whole model's time says how well the parts account
for it. ``benchmarks/tflite_profile.py`` is the command line.

For float32 models whose weights sit in the flatbuffer (what ``srm_keras.export`` writes):
a weight stored outside it, or made at run time (a float16 model's DEQUANTIZE), would become an
input of its operator's model, which the XNNPack delegate then does not take.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from srm_keras.benchmark.timing import interleaved


def _interpreter(content: bytes, threads: int | None, **kwargs):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=bytes(content), num_threads=threads, **kwargs)


def _allocated(interpreter, shapes: dict[int, Sequence[int]]):
    """Resize the inputs named in ``shapes`` (tensor index -> shape), then allocate."""
    for detail in interpreter.get_input_details():
        shape = list(shapes[detail["index"]])
        if list(detail["shape"]) != shape:
            interpreter.resize_tensor_input(detail["index"], shape, strict=False)
    interpreter.allocate_tensors()
    return interpreter


def traced_tensors(
    content: bytes, batch_size: int, *, threads: int | None = None, seed: int = 0
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One run of the model on a random image batch: the image and every tensor's value."""
    with warnings.catch_warnings():  # "for debugging purposes only": this is what it is for
        warnings.filterwarnings("ignore", "Warning: Enabling `experimental_preserve_all_tensors`")
        interpreter = _interpreter(content, threads, experimental_preserve_all_tensors=True)
    (given,) = interpreter.get_input_details()
    shape = [batch_size, *given["shape"][1:]]
    _allocated(interpreter, {given["index"]: shape})
    image = np.random.default_rng(seed).uniform(0, 255, shape).astype(given["dtype"])
    interpreter.set_tensor(given["index"], image)
    interpreter.invoke()
    tensors = {}
    for detail in interpreter.get_tensor_details():
        try:
            tensors[detail["index"]] = interpreter.get_tensor(detail["index"]).copy()
        except ValueError:  # no data: an optional input left empty
            continue
    return image, tensors


def one_operator_models(content: bytes) -> Iterator[tuple[int, str, bytes]]:
    """``(operator index, operator type, model)`` for each operator of the main subgraph.

    Each model holds that operator alone: its non-constant inputs are the model's inputs, its
    outputs the model's outputs, its constant inputs keep their buffers; the other buffers are
    emptied. The tensor table is kept whole, so tensor indices are those of ``content``.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = model.subgraphs[0]
    names = [flatbuffer_utils.opcode_to_name(model, i) for i in range(len(model.operatorCodes))]

    def constant(index: int) -> bool:
        data = model.buffers[graph.tensors[index].buffer].data
        return data is not None and len(data) > 0

    empty = schema.BufferT()
    for position, operator in enumerate(graph.operators):
        used = [index for index in operator.inputs if index >= 0]
        kept = {0} | {graph.tensors[index].buffer for index in used if constant(index)}
        single = schema.SubGraphT()
        single.tensors = graph.tensors
        single.operators = [operator]
        single.inputs = list(dict.fromkeys(index for index in used if not constant(index)))
        single.outputs = list(operator.outputs)
        single.name = graph.name
        cut = schema.ModelT()
        cut.version = model.version
        cut.operatorCodes = model.operatorCodes
        cut.subgraphs = [single]
        cut.buffers = [b if i in kept else empty for i, b in enumerate(model.buffers)]
        cut.description = model.description
        serialised = flatbuffer_utils.convert_object_to_bytearray(cut)
        yield position, names[operator.opcodeIndex], bytes(serialised)


def operator_interpreter(single: bytes, tensors: dict[int, np.ndarray], threads: int | None):
    """An allocated interpreter of a one-operator model, its inputs set from ``tensors``."""
    interpreter = _interpreter(single, threads)
    inputs = interpreter.get_input_details()
    _allocated(interpreter, {d["index"]: tensors[d["index"]].shape for d in inputs})
    for detail in inputs:
        interpreter.set_tensor(detail["index"], tensors[detail["index"]])
    return interpreter


def _one_add_model() -> bytes:
    """A model of one ADD of two one-element float32 inputs, written with LiteRT's own schema
    (no TensorFlow: the profile runs where only LiteRT is installed)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    code.version = 1
    tensors = [schema.TensorT() for _ in range(3)]
    for tensor, name in zip(tensors, ("a", "b", "sum")):
        tensor.name, tensor.shape, tensor.type = name, [1], schema.TensorType.FLOAT32
        tensor.buffer = 0  # the empty buffer: no constant data
    add = schema.OperatorT()
    add.opcodeIndex, add.inputs, add.outputs = 0, [0, 1], [2]
    add.builtinOptionsType = schema.BuiltinOptions.AddOptions
    add.builtinOptions = schema.AddOptionsT()
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0, 1], [2], [add]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [schema.BufferT()]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _empty_invoke(threads: int | None):
    """An interpreter whose invoke does almost nothing: one ADD of two one-element tensors."""
    interpreter = _interpreter(_one_add_model(), threads)
    inputs = interpreter.get_input_details()
    _allocated(interpreter, {d["index"]: [1] for d in inputs})
    for detail in inputs:
        interpreter.set_tensor(detail["index"], np.ones([1], np.float32))
    return interpreter


def profile(
    paths: Sequence[str | Path],
    *,
    batch_size: int,
    runs: int,
    threads: int | None = None,
    seed: int = 0,
    progress=print,
) -> dict:
    """Time every operator of each ``.tflite`` model, and each whole model, interleaved.

    Returns ``{"empty_invoke_ms", "models": {stem: {"whole_ms", "operators_sum_ms", "by_type",
    "operators"}}}``; ``by_type`` maps each operator type to its count and summed milliseconds
    (largest first), ``operators`` lists ``index``, ``type``, ``output`` shape and ``ms``.
    """
    paths = [Path(path) for path in paths]
    stems = [path.stem for path in paths]
    if len(set(stems)) < len(stems):
        raise ValueError(f"the models are reported by file name; these repeat: {stems}.")
    contenders = {("empty",): _empty_invoke(threads)}
    layout: dict[str, list[tuple[int, str, list[int]]]] = {}
    for path in paths:
        content = path.read_bytes()
        image, tensors = traced_tensors(content, batch_size, threads=threads, seed=seed)
        whole = _interpreter(content, threads)
        (given,) = whole.get_input_details()
        _allocated(whole, {given["index"]: image.shape})
        whole.set_tensor(given["index"], image)
        contenders[path.stem] = whole
        layout[path.stem] = []
        for position, kind, single in one_operator_models(content):
            interpreter = operator_interpreter(single, tensors, threads)
            output = list(interpreter.get_output_details()[0]["shape"])
            contenders[(path.stem, position)] = interpreter
            layout[path.stem].append((position, kind, output))
        del tensors
        progress(f"{path.stem}: {len(layout[path.stem])} operators cut out")
    keys = list(contenders)
    timings = interleaved(
        [contenders[key].invoke for key in keys],
        repeats=runs,
        warmup=2,  # XNNPack packs the weights on the first invoke
        on_round=lambda i: progress(f"round {i + 1}/{runs}"),
    )
    ms = {key: timing.median * 1e3 for key, timing in zip(keys, timings)}
    overhead = ms[("empty",)]
    result = {"empty_invoke_ms": round(overhead, 4), "models": {}}
    for name, operators in layout.items():
        rows, by_type = [], {}
        for position, kind, output in operators:
            spent = max(ms[(name, position)] - overhead, 0.0)
            rows.append({"index": position, "type": kind, "output": output, "ms": round(spent, 4)})
            entry = by_type.setdefault(kind, {"count": 0, "ms": 0.0})
            entry["count"] += 1
            entry["ms"] += spent
        result["models"][name] = {
            "whole_ms": round(ms[name], 3),
            "operators_sum_ms": round(sum(row["ms"] for row in rows), 3),
            "by_type": {
                kind: {"count": entry["count"], "ms": round(entry["ms"], 3)}
                for kind, entry in sorted(by_type.items(), key=lambda item: -item[1]["ms"])
            },
            "operators": rows,
        }
    return result
