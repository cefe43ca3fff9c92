"""The one rule for a classifier that does not fit the model, in every weight path.

A checkpoint (PyTorch state dict, ``.keras`` or ``.weights.h5``) whose classifier has another
number of classes than the model's, or that has none, is loaded without it: every other weight
is assigned and the model's classifier keeps its random initialisation. Unless the caller chose
a new head deliberately, a :class:`HeadMismatchWarning` says so, naming the skipped tensors with
both shapes and how to keep or replace the head. Any other mismatch is an error.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass

# The zoo's classifier: the Dense layer ``logits`` of srm_keras.resnet, ``fc`` in PyTorch.
HEAD_LAYER = "logits"


class HeadMismatchWarning(UserWarning):
    """A checkpoint's classifier was not loaded: the model's head keeps its initialisation."""


@dataclass(frozen=True)
class HeadMismatch:
    """A classifier left out of a load.

    Attributes:
        source: the checkpoint, as the message names it.
        tensors: ``"fc.weight: checkpoint (3, 64), model (10, 64)"`` for each skipped tensor.
        checkpoint_classes: the checkpoint's number of classes, or None when it has no head.
        model_classes: the model's number of classes.
    """

    source: str
    tensors: tuple[str, ...]
    checkpoint_classes: int | None
    model_classes: int

    def message(self) -> str:
        if self.checkpoint_classes is None:
            what = f"it has no classifier and the model has {self.model_classes} classes"
            keep = (
                "To use it as a backbone, build the model with include_top=False; to train a "
                f"new head, pass classes={self.model_classes} (or the classes you want) "
                "explicitly"
            )
        else:
            what = (
                f"its classifier has {self.checkpoint_classes} classes and the model's "
                f"{self.model_classes}"
            )
            keep = (
                f"To keep the checkpoint's head, build the model with "
                f"classes={self.checkpoint_classes}; to replace it deliberately, build it with "
                "include_top=False or pass the classes you want explicitly"
            )
        return (
            f"Classifier not loaded from {self.source}: {what}. Skipped: "
            f"{'; '.join(self.tensors)}. The model's {HEAD_LAYER!r} layer keeps its random "
            f"initialisation; every other weight was loaded. {keep} (srm-keras convert: "
            "--classes; the loaders: replace_head=True), and this warning is not given."
        )


def warn_head_mismatch(mismatch: HeadMismatch) -> None:
    """Warn (visible by default) at the first caller outside srm_keras."""
    warnings.warn(mismatch.message(), HeadMismatchWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package (1: the caller of warn)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1
