"""The 1000 ImageNet classes, and decoding a model's predictions into them.

The class list ships with the package (``imagenet_classes.txt``): nothing is downloaded. Its order
is the class-index order of torchvision, timm and the SRM release checkpoints (sorted WordNet IDs).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import NamedTuple

import keras
import numpy as np

NUM_CLASSES = 1000


class ImageNetClass(NamedTuple):
    wnid: str  # WordNet ID, e.g. "n01440764"
    lemmas: str  # e.g. "tench, Tinca tinca"

    @property
    def name(self) -> str:
        """The short name: the first lemma, e.g. ``"tench"``."""
        return self.lemmas.split(",")[0].strip()


class Prediction(NamedTuple):
    class_id: int
    name: str
    score: float


@functools.cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The ImageNet-1K classes in class-index order."""
    text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    classes = tuple(ImageNetClass(wnid, lemmas) for wnid, lemmas in rows)
    if len(classes) != NUM_CLASSES:
        raise ValueError(f"imagenet_classes.txt holds {len(classes)} classes, not {NUM_CLASSES}.")
    return classes


def decode_predictions(predictions, top: int = 5) -> list[list[Prediction]]:
    """The ``top`` ImageNet classes of each image, best first.

    Args:
        predictions: ``(batch, 1000)`` scores (probabilities or logits; any array or tensor).
        top: how many classes per image.

    Returns:
        One list per image of ``Prediction(class_id, name, score)`` tuples, e.g.
        ``Prediction(class_id=0, name="tench", score=0.93)``. Equal scores keep index order.
    """
    scores = np.asarray(keras.ops.convert_to_numpy(predictions))
    if scores.ndim != 2 or scores.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"decode_predictions expects a batch of {NUM_CLASSES} ImageNet scores, shape "
            f"(batch, {NUM_CLASSES}); received shape {scores.shape}. Use a model built with "
            "classes=1000 (add a batch axis for a single image)."
        )
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= NUM_CLASSES:
        raise ValueError(f"top must be an integer from 1 to {NUM_CLASSES}; received {top!r}.")
    classes = imagenet_classes()
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return [
        [Prediction(int(i), classes[i].name, float(row[i])) for i in indices]
        for row, indices in zip(scores, order)
    ]
