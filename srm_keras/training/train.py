"""``train(config)``: one run of the paper's recipe, from data to a finished output folder.

The output folder of a run::

    config.toml, config.json   the resolved settings
    history.csv                one row per epoch (losses, accuracies, learning rate)
    best.keras, best.json      the model of the best validation accuracy, and its epoch
    model.keras                the final model
    evaluation.json            top-1/top-5, per-class accuracy, confusion matrix (final model)
    final_metrics.json         the summary: val_accuracy, val_top5_accuracy, loss, epochs, ...
    training_curves.png        loss / accuracy / learning-rate curves
    tensorboard/               TensorBoard logs
    backup/                    BackupAndRestore state until the final files are written
    .lock                      held by the one process that writes the folder (run_folder.py)

``best.keras`` and ``model.keras`` hold the architecture and weights only; they load with
``keras.models.load_model`` after ``import srm_keras``. The losses in ``history.csv`` include the
weight-decay term (as Keras logs them); ``evaluation.json``'s ``loss`` and ``final_metrics.json``'s
``val_cross_entropy`` are the plain cross-entropy.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from srm_keras.training import callbacks as run_callbacks
from srm_keras.training import files, plots, runtime
from srm_keras.training.config import TrainConfig
from srm_keras.training.evaluate import evaluate, outputs_probabilities
from srm_keras.training.run_folder import BACKUP, FINAL_METRICS, RunFolder
from srm_keras.training.schedules import schedule_from_config
from srm_keras.training.weight_decay import apply_weight_decay

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns: the final model, its output folder and its summary metrics."""

    model: keras.Model
    output: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]]


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


def make_callbacks(config: TrainConfig, output: Path) -> list[keras.callbacks.Callback]:
    # Order matters: the learning rate joins the logs before they are written, and the backup
    # (last) is saved only after everything else of the epoch is on disk.
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        run_callbacks.LearningRateLogger(),
        run_callbacks.HistoryCSV(output / plots.HISTORY),
        run_callbacks.BestModelCheckpoint(output / "best.keras", monitor="val_accuracy"),
    ]
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        logger.warning("TensorBoard logs are off: install the tensorboard package to get them.")
    elif config.tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(log_dir=str(output / "tensorboard"), write_graph=False)
        )
    # The backup outlives fit: the run retires it once its final files are written.
    callbacks.append(
        run_callbacks.AtomicBackupAndRestore(str(output / BACKUP), delete_checkpoint=False)
    )
    return callbacks


def train(
    config: TrainConfig,
    *,
    data: Any = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Train ``config.model`` on ``config.dataset`` and fill ``config.output`` (see module doc).

    ``data`` replaces the dataset loading: any object with ``train`` and ``validation``
    (batched ``tf.data`` of normalised images and integer labels), ``num_classes``,
    ``class_names`` and ``train_size``, like ``srm_keras.data.load_datasets`` returns.
    ``callbacks`` are added after the run's own. Running the same config again after the
    process died resumes from the last finished epoch. ``strategy="multi_worker"`` runs this
    process as one worker of the ``TF_CONFIG`` cluster (:mod:`srm_keras.distributed`).
    """
    if config.strategy == "multi_worker":
        from srm_keras.distributed import train_multi_worker

        return train_multi_worker(config, data=data, callbacks=callbacks)
    run = RunFolder(config.output)
    with run.lock():
        run.prepare(config)  # refuses a changed recipe before anything is written
        return _train(config, run, data, callbacks)


def _train(
    config: TrainConfig,
    run: RunFolder,
    data: Any,
    callbacks: Sequence[keras.callbacks.Callback],
) -> TrainResult:
    output = run.path
    with runtime.seeded(config.seed, config.is_deterministic):
        data = load_data(config) if data is None else data
        feeds = feeds_of(config, data)
        strategy = runtime.make_strategy(config.strategy)
        jit_compile = runtime.resolve_jit_compile(config.jit_compile, strategy)
        with runtime.precision_policy(config.precision), strategy.scope():
            model = build_model(config, data.num_classes)
            apply_weight_decay(model, config.weight_decay)
            compile_model(model, config, feeds.steps, jit_compile)
        logger.info(
            "training %s on %s: %d classes, %d steps/epoch, lr %.4g, %d replica(s), XLA %s, %s",
            config.model,
            config.dataset,
            data.num_classes,
            feeds.steps,
            config.scaled_learning_rate,
            strategy.num_replicas_in_sync,
            jit_compile,
            config.precision,
        )
        config.save(output)
        started = time.perf_counter()
        history = model.fit(
            feeds.train,
            steps_per_epoch=feeds.steps,
            validation_data=feeds.validation_repeated,
            validation_steps=feeds.validation_steps,
            epochs=config.epochs,
            callbacks=[*make_callbacks(config, output), *callbacks],
            shuffle=False,  # the tf.data pipeline shuffles
            verbose=config.progress if config.progress == "auto" else int(config.progress),
        )
        train_seconds = time.perf_counter() - started
        files.save_model(model, output / "model.keras")
        evaluation = evaluate(model, feeds.validation, class_names=data.class_names)
    files.write_json(output / "evaluation.json", evaluation)
    metrics = summarize(config, output, model, evaluation, train_seconds)
    files.write_json(output / FINAL_METRICS, metrics)
    if (output / plots.HISTORY).is_file():
        plots.plot_history(output, output / "training_curves.png")
    run.retire_backup()  # last: until here, the same command finishes the run again
    return TrainResult(model=model, output=output, metrics=metrics, history=history.history)


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
    output: Path,
    model: keras.Model,
    evaluation: dict[str, Any],
    train_seconds: float,
) -> dict[str, Any]:
    """The ``final_metrics.json`` of a run: the final model's validation metrics and context."""
    history = plots.read_history(output) if (output / plots.HISTORY).is_file() else {}
    best = output / "best.json"
    best_record = files.read_json(best) if best.is_file() else {}
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
