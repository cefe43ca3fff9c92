"""ONNX export through tf2onnx, from the frozen graph of the serving model.

Neither ``tf2onnx.convert.from_function`` nor Keras' ``model.export(format="onnx")`` (which
calls it) works here: both treat the constants captured by the normalisation layer as extra
graph inputs, so the ONNX model would ask the caller for the mean and variance. The frozen
graph (see :mod:`srm_keras.export.frozen`) has every capture as a constant and ``images`` as
its one input.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from pathlib import Path

import onnx
import onnx.numpy_helper
import tf2onnx

from srm_keras import storage
from srm_keras.export.frozen import FrozenGraph
from srm_keras.export.signatures import PIXELS_INPUT

logger = logging.getLogger(__name__)

MIN_OPSET = 17

# tf2onnx reads this variable at each conversion; while it is set, an optimiser pass that
# raises is not undone (see _optimizer_fall_back_off).
CATCH_ERRORS = "TF2ONNX_CATCH_ERRORS"
_CONVERSION = threading.Lock()  # the variable is process-wide: one conversion at a time


def to_onnx(frozen: FrozenGraph, *, opset: int = MIN_OPSET, name: str = "model") -> onnx.ModelProto:
    """Convert the frozen serving graph to ONNX: input ``images`` with a symbolic batch
    dimension, outputs ``logits`` and ``probabilities``; checked with ``onnx.checker``.

    Sets ``TF2ONNX_CATCH_ERRORS`` while tf2onnx converts, unless the caller has set it (see
    ``_optimizer_fall_back_off``); conversions in other threads wait for this one.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be at least {MIN_OPSET}; got {opset}.")
    convert = functools.partial(
        tf2onnx.convert.from_graph_def,
        frozen.graph_def,
        name=name,
        input_names=[frozen.input_name],
        output_names=list(frozen.output_names),
        opset=opset,
        tensors_to_rename={frozen.input_name: PIXELS_INPUT, **frozen.output_names},
    )
    with _CONVERSION:
        if CATCH_ERRORS in os.environ:  # the caller's choice, for tf2onnx to read
            model, _ = convert()
        else:
            model = None
            try:
                with _optimizer_fall_back_off():
                    model, _ = convert()
            except Exception as error:  # a pass raised (or the graph cannot convert at all)
                logger.warning("tf2onnx failed (%s); converting again with its fall-back", error)
            if model is None:  # outside the handler: a second failure is reported on its own
                model, _ = convert()
    drop_identity_reshapes(model)
    asymmetric_integral_resizes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


@contextlib.contextmanager
def _optimizer_fall_back_off():
    """Convert without tf2onnx's fall-back for an optimiser pass that raises.

    By default tf2onnx deep-copies the whole graph before each of its optimiser passes, so that
    a pass that raises can be undone and the conversion go on with a less optimised graph. The
    copies are a large part of a conversion's time, and the passes produce the same graph
    either way. While ``TF2ONNX_CATCH_ERRORS`` is set, tf2onnx makes no copies: it tests the
    variable's presence, whatever its value (tf2onnx 1.17), and ``FALSE`` also means "off" if
    it ever reads the value. ``to_onnx`` converts again without the variable when a pass
    raises, so a graph that needs the fall-back still converts.
    """
    os.environ[CATCH_ERRORS] = "FALSE"
    try:
        yield
    finally:
        os.environ.pop(CATCH_ERRORS, None)


def drop_identity_reshapes(model: onnx.ModelProto) -> int:
    """Remove the Reshape nodes whose output has their input's shape; return how many.

    tf2onnx writes the transpose of a tensor whose moved axes have size 1, such as a pooled
    ``(N, C, 1, 1)`` vector, as a reshape, and merges a pair of them into one reshape to the
    shape the tensor already has. Such a node copies nothing, but it is a node for every
    runtime to schedule, and how many of them tf2onnx leaves varies from one conversion to the
    next. Shapes come from ONNX shape inference; a node is removed only when every axis but
    the batch is known and equal, and the batch is kept (-1 or 0).
    """
    inferred = onnx.shape_inference.infer_shapes(model).graph
    shapes = {
        info.name: [
            d.dim_value if d.HasField("dim_value") else None
            for d in info.type.tensor_type.shape.dim
        ]
        for info in (*inferred.value_info, *inferred.input)
    }
    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    graph_outputs = {output.name for output in model.graph.output}
    replaced: dict[str, str] = {}
    kept = []
    for node in model.graph.node:
        node.input[:] = [replaced.get(name, name) for name in node.input]
        if _is_identity_reshape(node, shapes, constants) and node.output[0] not in graph_outputs:
            replaced[node.output[0]] = node.input[0]
        else:
            kept.append(node)
    if replaced:
        used = {name for node in kept for name in node.input}
        del model.graph.node[:]
        model.graph.node.extend(kept)
        unused = [t for t in model.graph.initializer if t.name not in used]
        for tensor in unused:
            model.graph.initializer.remove(tensor)
    return len(replaced)


def _is_identity_reshape(node, shapes, constants) -> bool:
    if node.op_type != "Reshape" or node.input[1] not in constants:
        return False
    shape = shapes.get(node.input[0])
    target = onnx.numpy_helper.to_array(constants[node.input[1]]).tolist()
    allow_zero = any(a.name == "allowzero" and a.i for a in node.attribute)
    return (
        shape is not None
        and len(shape) == len(target)
        and target[0] in ((-1,) if allow_zero else (-1, 0))
        and all(size is not None and size == t for size, t in zip(shape[1:], target[1:]))
    )


def asymmetric_integral_resizes(model: onnx.ModelProto) -> int:
    """Give every nearest upsampling by whole factors the ``asymmetric`` coordinates; return
    how many Resize nodes changed.

    tf2onnx writes TensorFlow's nearest resize with half-pixel centres (MS-SAR's upsampling of
    its pooled scales) as ``coordinate_transformation_mode="tf_half_pixel_for_nn"`` with
    ``nearest_mode="floor"``. That mode was dropped from the ONNX specification with Resize-13;
    ONNX Runtime still runs it, but warns once per node at every session start, and its NCHWc
    layout rewrite leaves such a resize in plain NCHW, with a layout change on each side.

    For a whole factor ``s`` both modes read the same pixel: output ``i = k s + r``
    (``0 <= r < s``) reads ``floor((i + 0.5) / s) = k`` with half-pixel centres, since
    ``(r + 0.5) / s < 1``, and ``floor(i / s) = k`` with asymmetric ones. Only nodes with that
    mode, floor rounding, an empty ``roi`` and constant scales that are all positive whole
    numbers change; the resize's result is the same to the bit.
    """
    fed = {value.name for value in model.graph.input}  # an initializer a caller may override
    constants = {t.name: t for t in model.graph.initializer if t.name not in fed}
    changed = 0
    for node in model.graph.node:
        attributes = {a.name: a for a in node.attribute}
        if (
            node.op_type != "Resize"
            or len(node.input) != 3
            or node.input[2] not in constants
            or not _empty(node.input[1], constants)
            or _string(attributes.get("mode")) != "nearest"
            or _string(attributes.get("nearest_mode")) != "floor"
            or _string(attributes.get("coordinate_transformation_mode")) != "tf_half_pixel_for_nn"
        ):
            continue
        scales = onnx.numpy_helper.to_array(constants[node.input[2]])
        if scales.size and (scales >= 1).all() and (scales == scales.round()).all():
            attributes["coordinate_transformation_mode"].s = b"asymmetric"
            changed += 1
    return changed


def _empty(name: str, constants) -> bool:
    """``name`` is an omitted optional input, or a constant with no elements."""
    return not name or (name in constants and onnx.numpy_helper.to_array(constants[name]).size == 0)


def _string(attribute) -> str | None:
    return None if attribute is None else attribute.s.decode()


def operator_counts(model: onnx.ModelProto) -> dict[str, int]:
    """How many nodes of each operator type the main graph of ``model`` has."""
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def export_onnx(frozen: FrozenGraph, path: str | Path, *, opset: int = MIN_OPSET) -> Path:
    """Write :func:`to_onnx` of ``frozen`` to ``path`` through a temporary file."""
    path = Path(path)
    model = to_onnx(frozen, opset=opset, name=path.stem)
    with storage.replacing(path, ".onnx") as temporary:
        onnx.save(model, str(temporary))
    logger.info("wrote %s", path)
    return path
