"""The recipe every kind of training assembles: single-process ``train``, the multi-worker
trainer (:mod:`srm_keras.distributed`) and the tuner (:mod:`srm_keras.tuning`).

From a :class:`~srm_keras.training.config.TrainConfig`: the data (:func:`load_data`), the model
(:func:`build_model`), SGD on the epoch schedule with the losses and metrics
(:func:`compile_model`), the datasets as ``fit`` reads them (:func:`feeds_of`), the run's
callbacks (:func:`make_callbacks`), and the end of a run in the order that keeps it safe
(:func:`finish`).
"""

from __future__ import annotations

import importlib.util
import logging
import math
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from srm_keras import storage
from srm_keras.training import callbacks as run_callbacks
from srm_keras.training import plots
from srm_keras.training.config import TrainConfig
from srm_keras.training.evaluation import evaluate, outputs_probabilities
from srm_keras.training.precision import precision_policy
from srm_keras.training.run_folder import RunFolder
from srm_keras.training.schedules import schedule_from_config
from srm_keras.training.weight_decay import apply_weight_decay

logger = logging.getLogger(__name__)


def load_data(config: TrainConfig):
    """The run's datasets, from ``srm_keras.data.load_datasets``."""
    from srm_keras.data import load_datasets

    return load_datasets(
        config.dataset,
        image_size=config.image_size,
        batch_size=config.batch_size,
        augment=config.augment,
        validation_split=config.validation_split,
        seed=config.seed if config.seed is not None else 0,
        data_dir=config.data_dir,
        download=config.download,
        deterministic=config.is_deterministic,
        cache=config.cache,
        strict=config.strict,
    )


def build_model(config: TrainConfig, num_classes: int) -> keras.Model:
    from srm_keras.models import create_model

    size = config.image_size
    return create_model(
        config.model, input_shape=(size, size, 3), classes=num_classes, **config.model_kwargs
    )


def compiled_model(
    config: TrainConfig, num_classes: int, steps_per_epoch: int, jit_compile: bool
) -> keras.Model:
    """The run's model under its precision policy, with weight decay, compiled (enter the
    strategy's scope first, if any)."""
    with precision_policy(config.precision):
        model = build_model(config, num_classes)
        apply_weight_decay(model, config.weight_decay)
        compile_model(model, config, steps_per_epoch, jit_compile)
    return model


def compile_model(
    model: keras.Model, config: TrainConfig, steps_per_epoch: int, jit_compile: bool
) -> None:
    """SGD with momentum on the epoch schedule; cross-entropy (label smoothing needs one-hot
    labels, see ``one_hot_labels``); top-1 and top-5 accuracy. Weight decay is in the model's
    losses."""
    optimizer = keras.optimizers.SGD(
        learning_rate=schedule_from_config(config, steps_per_epoch),
        momentum=config.momentum,
        nesterov=False,
    )
    from_logits = not outputs_probabilities(model)
    if config.label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(
            from_logits=from_logits, label_smoothing=config.label_smoothing
        )
        metrics = [
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(k=5, name="top5_accuracy"),
        ]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"),
        ]
    if model.compute_dtype == "float64":
        # TensorFlow's in_top_k ranks float32 scores only.
        top5 = float32_top5 if config.label_smoothing > 0 else float32_sparse_top5
        metrics[1] = keras.metrics.MeanMetricWrapper(top5, name="top5_accuracy")
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile)
    create_training_variables(model, one_hot=config.label_smoothing > 0)


def create_training_variables(model: keras.Model, one_hot: bool) -> None:
    """Create a compiled model's optimizer and metric variables now, not in the first step.

    Variables created inside a ``tf.function`` make TensorFlow trace it twice, once to create
    them and once to run; left to ``fit``, the optimizer's slots and the compiled metrics'
    counts cost every run a second trace of its training step (and a second XLA compilation
    with ``jit_compile``): 3-4 s of a short ResNet-20 run here. Built from symbolic labels and
    predictions, in the caller's strategy scope like the model, the step is traced once.
    """
    model.optimizer.build(model.trainable_variables)
    classes = model.output_shape[-1]
    labels = keras.KerasTensor(
        (None, classes) if one_hot else (None,), "float32" if one_hot else "int32"
    )
    predictions = keras.KerasTensor((None, classes), model.outputs[0].dtype)
    for metric in model.metrics:  # the loss tracker is built; the compiled metrics are not
        if getattr(metric, "built", True) is False:
            metric.build(labels, predictions)


@keras.saving.register_keras_serializable(package="srm_keras")
def float32_top5(y_true, y_pred):
    """Top-5 accuracy of one-hot labels, ranking the scores in float32."""
    return keras.metrics.top_k_categorical_accuracy(y_true, keras.ops.cast(y_pred, "float32"))


@keras.saving.register_keras_serializable(package="srm_keras")
def float32_sparse_top5(y_true, y_pred):
    """Top-5 accuracy of integer labels, ranking the scores in float32."""
    return keras.metrics.sparse_top_k_categorical_accuracy(
        y_true, keras.ops.cast(y_pred, "float32")
    )


def one_hot_labels(dataset: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    return dataset.map(
        lambda images, labels: (images, tf.one_hot(labels, num_classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def steps_per_epoch_of(dataset: tf.data.Dataset, size: int, batch_size: int) -> int:
    cardinality = int(dataset.cardinality())
    return cardinality if cardinality > 0 else max(1, math.ceil(size / batch_size))


def make_callbacks(config: TrainConfig, run: RunFolder) -> list[keras.callbacks.Callback]:
    """The run's own callbacks, which write its folder epoch by epoch."""
    # Order matters: the learning rate joins the logs before they are written, and the backup
    # (last) is saved only after everything else of the epoch is on disk.
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        run_callbacks.LearningRateLogger(),
        run_callbacks.HistoryCSV(run.history),
        run_callbacks.BestModelCheckpoint(run.best_model, monitor="val_accuracy"),
    ]
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        logger.warning("TensorBoard logs are off: install the tensorboard package to get them.")
    elif config.tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(log_dir=str(run.tensorboard), write_graph=False)
        )
    # The backup outlives fit: finish() retires it once the final files are written.
    callbacks.append(run_callbacks.AtomicBackupAndRestore(str(run.backup), delete_checkpoint=False))
    return callbacks


def finish(
    run: RunFolder,
    config: TrainConfig,
    model: keras.Model,
    data: Any,
    validation: tf.data.Dataset,
    train_seconds: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the end of a run whose ``model.keras`` is written, and return its summary.

    ``evaluation.json`` (``model`` on ``validation``, one pass), ``final_metrics.json`` (with
    ``extra``), the curves, and only then the backup is retired: until that last step, running
    the same command again finishes the run without training it again.
    """
    evaluation = evaluate(model, validation, class_names=data.class_names)
    storage.write_json(run.evaluation, evaluation)
    metrics = summarize(config, run, model, evaluation, train_seconds)
    metrics.update(extra or {})
    storage.write_json(run.final_metrics, metrics)
    if run.history.is_file():
        plots.plot_history(run.history, run.curves)
    run.retire_backup()
    return metrics


class Feeds(NamedTuple):
    """The datasets as ``fit`` reads them (repeated, a fixed number of steps per epoch)."""

    train: tf.data.Dataset
    steps: int
    validation: tf.data.Dataset  # one pass, for the final evaluation
    validation_repeated: tf.data.Dataset
    validation_steps: int | None


def feeds_of(config: TrainConfig, data: Any) -> Feeds:
    """Training and validation data as ``fit`` takes them.

    Both are repeated and read for a fixed number of steps, so ``fit`` keeps one iterator each
    for the whole run: a fresh iterator every epoch discards tf.data's unfinished in-memory
    cache, which stalled every epoch start by seconds (15 s on a busy 2-core machine).
    """
    train, validation = data.train, data.validation
    steps = config.steps_per_epoch or steps_per_epoch_of(train, data.train_size, config.batch_size)
    validation_size = getattr(data, "validation_size", None)
    validation_steps = None
    if validation_size is not None:
        validation_steps = steps_per_epoch_of(validation, validation_size, config.batch_size)
    if config.label_smoothing > 0:
        train = one_hot_labels(train, data.num_classes)
        validation = one_hot_labels(validation, data.num_classes)
    repeated = validation.repeat() if validation_steps else validation
    return Feeds(train.repeat(), steps, validation, repeated, validation_steps)


def summarize(
    config: TrainConfig,
    run: RunFolder,
    model: keras.Model,
    evaluation: dict[str, Any],
    train_seconds: float,
) -> dict[str, Any]:
    """The ``final_metrics.json`` of a run: the final model's validation metrics and context."""
    history = plots.read_history(run.history) if run.history.is_file() else {}
    best_record = storage.read_json(run.best_record) if run.best_record.is_file() else {}
    last = {key: values[-1] for key, values in history.items() if values}
    completed = len(history.get("epoch", []))
    return {
        "model": config.model,
        "dataset": config.dataset,
        "val_accuracy": evaluation["accuracy"],
        "val_top5_accuracy": evaluation["top5_accuracy"],
        # The plain cross-entropy; history.csv's val_loss adds the weight-decay term.
        "val_cross_entropy": evaluation["loss"],
        "loss": last.get("loss"),
        "accuracy": last.get("accuracy"),
        "epochs": config.epochs,
        "epochs_completed": completed,
        "best_epoch": best_record.get("epoch"),
        "best_val_accuracy": best_record.get("value"),
        # False when TerminateOnNaN (or a caller's callback) stopped the run early.
        "finished": completed == config.epochs and math.isfinite(evaluation["loss"]),
        "num_examples": evaluation["num_examples"],
        "class_names": evaluation["class_names"],
        "precision": config.precision,
        "trainable_params": int(sum(math.prod(v.shape) for v in model.trainable_variables)),
        "train_seconds_this_process": round(train_seconds, 1),
        "config": config.to_dict(),
    }
