"""Load PyTorch checkpoints into the zoo's Keras models, and export Keras weights to PyTorch."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import keras
import numpy as np

from srm_keras.weights.backbones import backbone_of_names
from srm_keras.weights.head import HeadMismatch, warn_head_mismatch
from srm_keras.weights.layouts import (
    Binding,
    bindings,
    canonical_state,
    check_layout,
    classifier_prefix,
    default_layout,
)
from srm_keras.weights.torch_io import read_state_dict, write_state_dict

logger = logging.getLogger(__name__)

# Buffers of PyTorch batch norms that Keras has no counterpart for.
_IGNORED_SUFFIXES = (".num_batches_tracked",)
# The dtypes a weight may have in a checkpoint; each is cast to the variable's dtype (float64
# rounds to float32). bfloat16 is widened to float32 on reading (numpy has no bfloat16).
_FLOAT_DTYPES = ("float16", "float32", "float64")


@dataclass
class LoadReport:
    """What :func:`load_torch_state_dict` did.

    Attributes:
        layout: the layout used (given or detected).
        loaded: PyTorch names whose tensors were assigned.
        skipped: PyTorch names not loaded: the classifier, for a model without one or a head
            that does not fit (see ``head``).
        missing: names the model needs that the checkpoint lacks.
        unexpected: names in the checkpoint that the model has no weight for.
        mismatched: ``"name: checkpoint (...), model expects (...)"`` for each shape mismatch.
        refused: ``"name: dtype int32, ..."`` or ``"name: 2 NaN and 1 inf in 64 values ..."``
            for each tensor the model needs whose dtype is not a floating one or whose values
            are not all finite.
        head: the checkpoint's classifier when it was left out because it does not fit the
            model's (another number of classes, or none at all); None otherwise.
    """

    layout: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    head: HeadMismatch | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.refused)


def detect_layout(names: Iterable[str], model: keras.Model | None = None) -> str:
    """The layout of a checkpoint, from its tensor names.

    ``.rclb.`` names mean the SRM release's layout and ``.se.fc1.`` names timm's. A checkpoint
    with neither is a plain ResNet, named alike in every layout: the model's own default layout
    is then returned (so that missing module tensors are reported as such).
    """
    names = list(names)
    if any(".rclb." in name for name in names):
        return "srm_reference"
    if any(".se.fc1." in name for name in names):
        return "timm"
    return default_layout(model) if model is not None else "torchvision"


def load_torch_state_dict(
    model: keras.Model,
    source,
    layout: str | None = None,
    strict: bool = True,
    replace_head: bool = False,
) -> LoadReport:
    """Load a PyTorch state dict into a model built by :func:`srm_keras.resnet` or
    :func:`srm_keras.densenet`.

    Convolution kernels are transposed from (out, in, h, w) to Keras' (h, w, in, out), linear
    layers from (out, in) to (in, out), batch norms mapped (weight, bias, running mean and
    variance; ``num_batches_tracked`` ignored). Nothing is assigned unless every check passes
    (in strict mode).

    The classifier (``fc``; ``classifier`` in DenseNets) is skipped when the model has none
    (``include_top=False``, logged), and when it does not fit the model's: another number of
    classes, or no classifier in the checkpoint. Every other tensor is then loaded and a
    :class:`~srm_keras.weights.HeadMismatchWarning` names the skipped tensors with both shapes
    (``report.head``), unless ``replace_head`` says the new head is deliberate.

    Tensors stored as float16, bfloat16, float32 or float64 are cast to the variables' dtype
    (float32 unless the model was built otherwise; float64 values are then rounded to float32).
    Any other dtype (integers, bool, complex, float8) is refused, and so is a tensor holding NaN
    or inf: casting would load garbage and the model would predict NaN. Integer buffers the
    loader ignores (``num_batches_tracked``) and tensors it skips are not checked.

    Predictions match PyTorch only for the same architecture: the stride of bottleneck blocks on
    the 3x3 convolution (``stride_on="3x3"``, the default, as in torchvision, timm and the SRM
    release) and, for GE-θ, the input size the checkpoint was trained at.

    Args:
        model: the Keras model to fill.
        source: a ``.safetensors`` path (no PyTorch needed), a ``.pth``/``.pt``/``.bin`` path
            (PyTorch needed) or a mapping of names to arrays.
        layout: ``"torchvision"``, ``"timm"``, ``"srm_reference"``, or None to detect it from the
            names (see :func:`detect_layout`).
        strict: raise unless every checkpoint tensor is used and every model weight assigned;
            with False, load what matches and log the rest.
        replace_head: the model's classifier is meant to differ from the checkpoint's (a new
            number of classes chosen on purpose): skip it with a log message, not a warning.

    Returns:
        A :class:`LoadReport`.

    Raises:
        ValueError: in strict mode, one error listing every missing tensor, unused tensor,
            shape mismatch, wrong dtype and non-finite tensor; or for an unreadable source or a
            layout that cannot hold the model.
    """
    state = canonical_state(model, read_state_dict(source))
    layout = detect_layout(state, model) if layout is None else check_layout(layout)
    report = LoadReport(layout=layout)
    plan = _match(model, state, bindings(model, layout), report, _where(source))
    if strict and not report.ok:
        raise ValueError(_problems_message(model, source, report))
    for problem, names in (
        ("missing from the checkpoint", report.missing),
        ("in the checkpoint but unused", report.unexpected),
        ("with mismatched shapes", report.mismatched),
        ("refused (dtype or non-finite values)", report.refused),
    ):
        if names:
            logger.warning("%d tensors %s: %s", len(names), problem, ", ".join(names))
    for binding, array in plan:
        dtype = keras.backend.standardize_dtype(binding.variable.dtype)
        binding.variable.assign(binding.to_keras(array).astype(dtype))
        report.loaded.append(binding.key)
    logger.info("Loaded %d tensors into %r (layout %r).", len(report.loaded), model.name, layout)
    if report.head is not None:
        if replace_head:
            logger.info("New classifier, as asked: %s", "; ".join(report.head.tensors))
        else:
            warn_head_mismatch(report.head)
    return report


def _where(source) -> str:
    return repr(os.fspath(source)) if isinstance(source, str | os.PathLike) else "the state dict"


def _match(
    model, state: Mapping[str, np.ndarray], found: list[Binding], report: LoadReport, where: str
):
    """The (binding, array) pairs to assign; problems are recorded in ``report``."""
    used = {name for name in state if name.endswith(_IGNORED_SUFFIXES)}
    classifier = [b for b in found if b.is_classifier]
    prefix = classifier_prefix(model) + "."
    in_checkpoint = [name for name in state if name.startswith(prefix)]
    if not classifier:
        if in_checkpoint:
            logger.info(
                "Classifier not loaded (the model has no classifier, include_top=False): %s.",
                ", ".join(in_checkpoint),
            )
    else:
        report.head = _head_mismatch(state, classifier, in_checkpoint, where)
    if not classifier or report.head is not None:
        report.skipped.extend(in_checkpoint)
        used.update(in_checkpoint)
        found = [b for b in found if not b.is_classifier]
    plan = []
    for binding in found:
        if binding.key not in state:
            report.missing.append(f"{binding.key} (for {binding.variable.path})")
            continue
        used.add(binding.key)
        array = state[binding.key]
        usable = True
        if tuple(array.shape) != binding.torch_shape:
            report.mismatched.append(
                f"{binding.key}: checkpoint {tuple(array.shape)}, model expects "
                f"{binding.torch_shape} (for {binding.variable.path})"
            )
            usable = False
        refusal = _refusal(array)
        if refusal:
            report.refused.append(f"{binding.key}: {refusal} (for {binding.variable.path})")
            usable = False
        if usable:
            plan.append((binding, array))
    report.unexpected.extend(name for name in state if name not in used)
    return plan


def _refusal(array: np.ndarray) -> str | None:
    """Why a tensor's values cannot be assigned to a weight, or None if they can."""
    if array.dtype.name not in _FLOAT_DTYPES:
        return f"dtype {array.dtype.name}, not float16, bfloat16, float32 or float64"
    if np.isfinite(array).all():
        return None
    counts = [
        f"{count} {kind}"
        for kind, count in (("NaN", np.isnan(array).sum()), ("inf", np.isinf(array).sum()))
        if count
    ]
    return f"{' and '.join(counts)} in {array.size} values"


def _head_mismatch(
    state, classifier: list[Binding], in_checkpoint: list[str], where: str
) -> HeadMismatch | None:
    """The checkpoint's classifier, if it does not fit the model's: another number of classes
    (same features) or none at all. Other shapes are ordinary mismatches."""
    kernel = next(b for b in classifier if b.key.endswith(".weight"))
    expected = kernel.torch_shape
    weight = state.get(kernel.key)
    if in_checkpoint:
        if weight is None or weight.ndim != 2 or weight.shape[1] != expected[1]:
            return None
        if weight.shape[0] == expected[0]:
            return None
    tensors = []
    for binding in classifier:
        array = state.get(binding.key)
        found = "absent" if array is None else str(tuple(array.shape))
        tensors.append(f"{binding.key}: checkpoint {found}, model {binding.torch_shape}")
    return HeadMismatch(
        source=where,
        tensors=tuple(tensors),
        checkpoint_classes=None if weight is None else int(weight.shape[0]),
        model_classes=int(expected[0]),
    )


def _problems_message(model, source, report: LoadReport) -> str:
    where = os.fspath(source) if isinstance(source, str | os.PathLike) else "the state dict"
    groups = (
        ("Missing from the checkpoint", report.missing),
        ("In the checkpoint but not in the model", report.unexpected),
        ("Shape mismatches", report.mismatched),
        ("Wrong dtypes or non-finite values", report.refused),
    )
    lines = [
        f"Cannot load {where} into model {model.name!r} (layout {report.layout!r}): "
        f"{sum(len(names) for _, names in groups)} problems."
    ]
    for title, names in groups:
        if names:
            lines.append(f"{title} ({len(names)}):")
            lines.extend(f"  {name}" for name in names)
    lines.extend(_hints(report))
    lines.append(
        "Check that the model matches the checkpoint (depth, recalibration module, classes) and "
        "the layout; strict=False loads what matches."
    )
    return "\n".join(lines)


def _hints(report: LoadReport) -> list[str]:
    hints = []
    model_family = backbone_of_names(m.split(" ", 1)[0] for m in report.missing)
    checkpoint_family = backbone_of_names(report.unexpected)
    if model_family and checkpoint_family and model_family != checkpoint_family:
        hints.append(
            f"The checkpoint holds a {checkpoint_family.family} and the model is a "
            f"{model_family.family}: build the model of the checkpoint's family."
        )
    if any(".rclb.conv.0.weight" in m for m in report.mismatched):
        hints.append(
            "GE-θ kernels cover the whole feature map: build the model at the checkpoint's "
            "input size, e.g. input_shape=(224, 224, 3)."
        )
    if any(".se.fc1.weight" in m for m in report.mismatched):
        hints.append(
            "timm rounds the SE width up to a multiple of 8 (channels // 16 otherwise): its "
            "SE-ResNet-18/34 have wider SE layers in the first stages than the paper's."
        )
    if report.missing and all((".se." in m or ".rclb." in m) for m in report.missing):
        hints.append(
            "Only recalibration-module tensors are missing: the checkpoint may be a plain "
            "ResNet (build the model with recalibration=None) or use another layout."
        )
    if any(re.search(r": \d+ (NaN|inf) ", m) for m in report.refused):
        hints.append(
            "NaN or inf weights usually come from a training run that diverged: take an "
            "earlier checkpoint."
        )
    if report.unexpected and all((".se." in m or ".rclb." in m) for m in report.unexpected):
        hints.append(
            "Only recalibration-module tensors are unused: the checkpoint has modules the model "
            "lacks (build it with recalibration='srm', 'se' or 'ge', e.g. 'srm_resnet50')."
        )
    return hints


def export_torch_state_dict(model: keras.Model, layout: str | None = None) -> dict[str, np.ndarray]:
    """The model's weights as a PyTorch state dict of numpy arrays, in a given layout.

    Batch norms get a ``num_batches_tracked`` of 0, so that ``load_state_dict(strict=True)``
    of the PyTorch model accepts the dict (after ``torch.from_numpy`` on each value).

    Args:
        model: a model built by :func:`srm_keras.resnet` or :func:`srm_keras.densenet`.
        layout: ``"torchvision"``, ``"timm"`` or ``"srm_reference"``; default: the one that
            can hold the model's modules (torchvision for plain networks, timm for SE, the SRM
            release's for SRM and GE).
    """
    layout = default_layout(model) if layout is None else check_layout(layout)
    state: dict[str, np.ndarray] = {}
    for binding in bindings(model, layout):
        state[binding.key] = binding.to_torch(keras.ops.convert_to_numpy(binding.variable.value))
        if binding.key.endswith(".running_var"):
            prefix = binding.key[: -len(".running_var")]
            state[f"{prefix}.num_batches_tracked"] = np.zeros((), np.int64)
    return state


def save_torch_state_dict(model: keras.Model, path, layout: str | None = None) -> str:
    """Export the model's weights (see :func:`export_torch_state_dict`) to a file, atomically.

    ``.safetensors`` is written without PyTorch; ``.pth``/``.pt`` needs it. Returns the path.
    """
    return write_state_dict(export_torch_state_dict(model, layout), path)
