"""ONNX export through tf2onnx, from the frozen graph of the serving model.

Neither ``tf2onnx.convert.from_function`` nor Keras' ``model.export(format="onnx")`` (which
calls it) works here: both treat the constants captured by the normalisation layer as extra
graph inputs, so the ONNX model would ask the caller for the mean and variance. The frozen
graph (see :mod:`srm_keras.export.frozen`) has every capture as a constant and ``images`` as
its one input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import tf2onnx

from srm_keras import storage
from srm_keras.export.frozen import FrozenGraph
from srm_keras.export.signatures import PIXELS_INPUT

logger = logging.getLogger(__name__)

MIN_OPSET = 17


def to_onnx(frozen: FrozenGraph, *, opset: int = MIN_OPSET, name: str = "model") -> onnx.ModelProto:
    """Convert the frozen serving graph to ONNX: input ``images`` with a symbolic batch
    dimension, outputs ``logits`` and ``probabilities``; checked with ``onnx.checker``."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be at least {MIN_OPSET}; got {opset}.")
    model, _ = tf2onnx.convert.from_graph_def(
        frozen.graph_def,
        name=name,
        input_names=[frozen.input_name],
        output_names=list(frozen.output_names),
        opset=opset,
        tensors_to_rename={frozen.input_name: PIXELS_INPUT, **frozen.output_names},
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(frozen: FrozenGraph, path: str | Path, *, opset: int = MIN_OPSET) -> Path:
    """Write :func:`to_onnx` of ``frozen`` to ``path`` through a temporary file."""
    path = Path(path)
    model = to_onnx(frozen, opset=opset, name=path.stem)
    with storage.replacing(path, ".onnx") as temporary:
        onnx.save(model, str(temporary))
    logger.info("wrote %s", path)
    return path
