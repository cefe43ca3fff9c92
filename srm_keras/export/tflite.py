"""TFLite (LiteRT) variants: float32, float16, dynamic-range and full-integer int8.

Every variant is converted with builtin operators only (no Flex/select TensorFlow ops) and is
checked for it afterwards by reading the operator codes of the flatbuffer. All variants keep a
float32 interface: ``images`` in 0-255 in, ``logits`` and ``probabilities`` out (the int8
variant quantises and dequantises at its edges).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from srm_keras import storage
from srm_keras.export.frozen import FrozenGraph
from srm_keras.export.signatures import PIXELS_SIGNATURE

logger = logging.getLogger(__name__)

VARIANTS = ("tflite_float32", "tflite_float16", "tflite_dynamic", "tflite_int8")


def _write_frozen_savedmodel(frozen: FrozenGraph, path: str) -> None:
    """A SavedModel of the frozen graph alone: converters read names from its signature."""
    module = tf.Module()
    module.predict = frozen.predict
    tf.saved_model.save(module, path, signatures={PIXELS_SIGNATURE: frozen.predict})


def _converter(saved_model: str, variant: str, calibration: np.ndarray | None):
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model, signature_keys=[PIXELS_SIGNATURE]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "tflite_float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "tflite_dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "tflite_int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError(
                "tflite_int8 needs representative images for calibration; pass "
                "representative_data (--data), or leave tflite_int8 out of the formats."
            )
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

        def representative_dataset():
            for image in calibration:
                yield [image[None].astype(np.float32)]

        converter.representative_dataset = representative_dataset
    elif variant != "tflite_float32":
        raise ValueError(f"Unknown TFLite variant {variant!r}; expected one of {VARIANTS}.")
    return converter


def operators_by_index(flatbuffer) -> list[str]:
    """The name of each operator code of a parsed flatbuffer, in the order operators index
    them; custom (e.g. Flex) ops keep their names."""
    builtin_names = {
        value: name for name, value in vars(schema.BuiltinOperator).items() if name.isupper()
    }
    names = []
    for i in range(flatbuffer.OperatorCodesLength()):
        code = flatbuffer.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.append((code.CustomCode() or b"CUSTOM").decode())
        else:
            names.append(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    return names


def operators(model: bytes) -> list[str]:
    """The operator names a TFLite flatbuffer uses; custom (e.g. Flex) ops keep their names."""
    return sorted(set(operators_by_index(schema.Model.GetRootAsModel(bytearray(model), 0))))


def operator_counts(model: bytes) -> dict[str, int]:
    """How many times each operator runs in the main subgraph of a TFLite flatbuffer."""
    flatbuffer = schema.Model.GetRootAsModel(bytearray(model), 0)
    codes = operators_by_index(flatbuffer)
    graph = flatbuffer.Subgraphs(0)
    counts: dict[str, int] = {}
    for i in range(graph.OperatorsLength()):
        name = codes[graph.Operators(i).OpcodeIndex()]
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def check_builtin_only(model: bytes, variant: str) -> list[str]:
    """The operators of ``model``; raises ValueError when any is a custom or Flex op."""
    names = operators(model)
    custom = [name for name in names if not name.isupper() or name == "CUSTOM"]
    if custom:
        raise ValueError(f"{variant} uses non-builtin operators {custom}; it would need Flex.")
    return names


def convert_tflite(
    frozen: FrozenGraph,
    variants: Iterable[str],
    output_dir: str | Path,
    *,
    basename: str,
    calibration: np.ndarray | None = None,
) -> dict[str, tuple[Path, list[str]]]:
    """Convert the frozen serving graph to each TFLite variant; return variant -> (path, operators).

    ``calibration`` (N, height, width, 3) in 0-255 drives the int8 quantisation ranges.
    Files are written as ``<output_dir>/<basename>_<suffix>.tflite`` via a temporary name.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    with storage.scratch("srm_keras_tflite") as staging:
        saved_model = str(Path(staging) / "frozen")
        _write_frozen_savedmodel(frozen, saved_model)
        for variant in variants:
            model = _converter(saved_model, variant, calibration).convert()
            names = check_builtin_only(model, variant)
            suffix = variant.removeprefix("tflite_")
            path = output_dir / f"{basename}_{suffix}.tflite"
            storage.write_bytes(path, model)
            logger.info("wrote %s (%d bytes)", path, len(model))
            results[variant] = (path, names)
    return results
