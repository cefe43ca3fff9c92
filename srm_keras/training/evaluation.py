"""Classification metrics of a model on a labelled dataset: top-1, top-5, per class, confusion."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Keras' cross-entropy clips probabilities the same way.
_EPSILON = 1e-7


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved ``.keras`` model for inference (its training configuration is not needed)."""
    import srm_keras.layers  # noqa: F401  (registers the recalibration layers)
    import srm_keras.models  # noqa: F401

    if not os.path.isfile(path):
        raise ValueError(f"model file {str(path)!r} does not exist.")
    return keras.models.load_model(path, compile=False)


def outputs_probabilities(model: keras.Model) -> bool:
    """Whether the model ends in a softmax (the zoo's default) rather than returning logits."""
    last = model.layers[-1]
    return getattr(last, "activation", None) is keras.activations.softmax


def _in_top_k(scores: np.ndarray, picked: np.ndarray, k: int) -> np.ndarray:
    """Whether each label's score is among the ``k`` largest, with ``tf.math.in_top_k``'s rule.

    A label counts when fewer than ``k`` classes score strictly higher, so classes tied at the
    boundary are all in the top ``k`` (a saturated softmax often ties many classes at 0). That is
    the rule of Keras' ``SparseTopKCategoricalAccuracy``, so the figure here equals the
    ``val_top5_accuracy`` logged during training. A non-finite label score never counts.
    """
    higher = (scores > picked[:, None]).sum(axis=-1)
    return (higher < k) & np.isfinite(picked)


def evaluate(
    model_or_path: keras.Model | str | os.PathLike,
    dataset: Iterable,
    *,
    class_names: Sequence[str] | None = None,
    top_k: int = 5,
) -> dict[str, Any]:
    """Evaluate a classifier on batches of ``(images, labels)``.

    ``labels`` are integer class indices or one-hot rows. The dataset is read once, so a
    shuffled dataset is fine. Returns a JSON-ready dict: ``num_examples``, ``accuracy`` (top-1),
    ``top5_accuracy`` (top-``top_k``, under the key ``f"top{top_k}_accuracy"``), ``loss`` (mean
    cross-entropy), ``per_class_accuracy`` (class name to recall; None for a class with no
    examples), ``confusion_matrix`` (rows: true class, columns: predicted class) and
    ``class_names``.
    """
    model = model_or_path if isinstance(model_or_path, keras.Model) else load_model(model_or_path)
    num_classes = int(model.outputs[0].shape[-1])
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(
            f"the model predicts {num_classes} classes but {len(class_names)} class names were "
            "given; evaluate on the dataset the model was trained for."
        )
    probabilities = outputs_probabilities(model)
    # One traced inference function on the default device. (Model.predict_on_batch returns
    # each replica's copy of the batch under MirroredStrategy.)
    predict = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    in_top_k = 0
    loss_sum = 0.0
    for images, labels in dataset:
        scores = np.asarray(predict(images), dtype=np.float64)
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels.argmax(axis=-1)
        labels = labels.astype(np.int64)
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= num_classes:
            raise ValueError(
                f"labels lie outside [0, {num_classes}); the dataset does not match the model."
            )
        if not probabilities:
            scores = _softmax(scores)
        np.add.at(confusion, (labels, scores.argmax(axis=-1)), 1)
        picked = scores[np.arange(len(labels)), labels]
        in_top_k += int(_in_top_k(scores, picked, top_k).sum())
        loss_sum += float(-np.log(np.clip(picked, _EPSILON, 1.0 - _EPSILON)).sum())
    total = int(confusion.sum())
    if total == 0:
        raise ValueError("the dataset is empty; nothing to evaluate.")
    support = confusion.sum(axis=1)
    per_class = {
        name: (float(confusion[i, i] / support[i]) if support[i] else None)
        for i, name in enumerate(class_names)
    }
    return {
        "num_examples": total,
        "accuracy": float(np.trace(confusion) / total),
        f"top{top_k}_accuracy": float(in_top_k / total),
        "loss": loss_sum / total,
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "class_names": list(class_names),
    }


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
