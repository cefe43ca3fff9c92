"""``train(config)``: one run of the paper's recipe, from data to a finished output folder.

The folder's files, and the guarantees of a run, are those of
:mod:`srm_keras.training.run_folder`. ``best.keras`` and ``model.keras`` hold the architecture
and weights only; they load with ``keras.models.load_model`` after ``import srm_keras``. The
losses in ``history.csv`` include the weight-decay term (as Keras logs them);
``evaluation.json``'s ``loss`` and ``final_metrics.json``'s ``val_cross_entropy`` are the plain
cross-entropy.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from srm_keras.training import files, runtime
from srm_keras.training.config import TrainConfig
from srm_keras.training.recipe import compiled_model, feeds_of, finish, load_data, make_callbacks
from srm_keras.training.run_folder import RunFolder

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns: the final model, its output folder and its summary metrics."""

    model: keras.Model
    output: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]]


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
    process died resumes from the last finished epoch. A run on several machines
    (``strategy="multi_worker"``) is :func:`srm_keras.distributed.train_multi_worker`.
    """
    if config.strategy == "multi_worker":
        raise ValueError(
            "strategy 'multi_worker' trains one worker of a cluster: call "
            "srm_keras.distributed.train_multi_worker(config) on every machine, or run "
            "srm-keras worker (srm-keras train --strategy multi_worker does this)."
        )
    with RunFolder(config.output).lock() as run:
        run.prepare(config)  # refuses a changed recipe before anything is written
        return _train(config, run, data, callbacks)


def _train(
    config: TrainConfig,
    run: RunFolder,
    data: Any,
    callbacks: Sequence[keras.callbacks.Callback],
) -> TrainResult:
    with runtime.seeded(config.seed, config.is_deterministic):
        data = load_data(config) if data is None else data
        feeds = feeds_of(config, data)
        strategy = runtime.make_strategy(config.strategy)
        jit_compile = runtime.resolve_jit_compile(config.jit_compile, strategy)
        with strategy.scope():
            model = compiled_model(config, data.num_classes, feeds.steps, jit_compile)
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
        config.save(run.path)
        started = time.perf_counter()
        history = model.fit(
            feeds.train,
            steps_per_epoch=feeds.steps,
            validation_data=feeds.validation_repeated,
            validation_steps=feeds.validation_steps,
            epochs=config.epochs,
            callbacks=[*make_callbacks(config, run), *callbacks],
            shuffle=False,  # the tf.data pipeline shuffles
            verbose=runtime.progress_verbosity(config.progress),
        )
        train_seconds = time.perf_counter() - started
        files.save_model(model, run.model)
        metrics = finish(run, config, model, data, feeds.validation, train_seconds)
    return TrainResult(model=model, output=run.path, metrics=metrics, history=history.history)
