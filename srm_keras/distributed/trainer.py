"""``train_multi_worker(config)``: one worker's share of a data-parallel run on several machines.

Start it on every machine with the same configuration and that machine's ``TF_CONFIG``; each
worker builds the model and optimiser of ``srm_keras.training`` and trains on its slice of every
global batch, with gradients all-reduced between workers after each step (see
:mod:`srm_keras.distributed`). The chief (worker 0) fills the output folder exactly as
single-machine ``train`` does; the other workers write the same files into a temporary folder
that is deleted at the end.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import keras
import tensorflow as tf

from srm_keras import storage
from srm_keras.data.source import is_folder_source
from srm_keras.distributed import collectives
from srm_keras.distributed.cluster import Cluster, read_cluster
from srm_keras.distributed.inputs import check_batch_size, run_inputs
from srm_keras.distributed.loop import EpochLoop
from srm_keras.distributed.watchdog import Watchdog
from srm_keras.training import files, runtime
from srm_keras.training.config import TrainConfig
from srm_keras.training.evaluation import load_model
from srm_keras.training.recipe import compiled_model, finish, load_data, make_callbacks
from srm_keras.training.run_folder import RunFolder
from srm_keras.training.trainer import TrainResult

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
DEFAULT_STARTUP_TIMEOUT = 900.0
T = TypeVar("T")

# What a collective raises when a peer dies (Unavailable; FailedPrecondition when it restarted),
# stops answering (DeadlineExceeded) or after the strategy aborted collectives (Cancelled, Aborted).
LOST_WORKER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.FailedPreconditionError,
)


class WorkerLostError(RuntimeError):
    """Another worker died or stopped answering; every worker must be restarted."""


def train_multi_worker(
    config: TrainConfig,
    *,
    data: Any = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    timeout: float = DEFAULT_TIMEOUT,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
) -> TrainResult:
    """Run this process's worker of the cluster in ``TF_CONFIG``; return when all are done.

    ``config.batch_size`` is the global batch: each of R replicas (one per worker, or one per
    GPU of each worker) trains on ``batch_size / R`` examples per step, and the learning rate is
    scaled for ``batch_size`` as on one machine. ``data`` and ``callbacks`` are as in
    ``srm_keras.training.train``; callbacks run on every worker and must take the same decisions
    everywhere (they see the same, all-reduced logs).

    A collective that waits more than ``timeout`` seconds for another worker fails, and so does
    one whose peer died; joining the cluster and loading the data may take ``startup_timeout``.
    Either way this raises :class:`WorkerLostError`; a watchdog ends the process (exit status
    ``EXIT_WORKER_LOST``, 75) if it makes no progress for longer still. Restarting every worker
    resumes from the last epoch the chief backed up in ``OUTPUT/backup``.
    """
    if timeout <= 0 or startup_timeout <= 0:
        raise ValueError(f"timeouts must be positive, got {timeout} and {startup_timeout}.")
    cluster = read_cluster()
    grace = max(60.0, 0.2 * timeout)  # collectives time out first, with a clearer error
    hint = (
        "Restart every worker with the same command: training resumes from the last epoch "
        f"backed up in {RunFolder(config.output).backup}."
    )
    with Watchdog(cluster.describe(), hint) as watchdog:
        watchdog.expect("waiting for every worker to join the cluster", startup_timeout + grace)
        strategy = collectives.make_strategy(timeout)
        if strategy.num_replicas_in_sync < cluster.num_workers:
            raise ValueError(
                f"the strategy found {strategy.num_replicas_in_sync} replicas for "
                f"{cluster.num_workers} workers; check TF_CONFIG."
            )
        logger.info("%s joined the cluster: %s", cluster.describe(), list(cluster.addresses))
        scratch = None if cluster.is_chief else storage.scratch_folder(SCRATCH_PREFIX)
        stack = contextlib.ExitStack()  # the chief's lock on the run folder, for the whole run
        try:
            output = _agree(
                strategy,
                "preparing the output folder",
                startup_timeout,
                (lambda: _prepare(config, stack)) if cluster.is_chief else (lambda: scratch),
            )
            with runtime.seeded(config.seed, config.is_deterministic):
                return _train(
                    config,
                    cluster,
                    strategy,
                    output,
                    data,
                    callbacks,
                    watchdog,
                    timeout=timeout,
                    startup_timeout=startup_timeout,
                    grace=grace,
                )
        except LOST_WORKER_ERRORS as error:
            raise WorkerLostError(
                f"{cluster.describe()}: lost contact with another worker "
                f"({type(error).__name__}: {_reason(error)}). {hint}"
            ) from error
        finally:
            watchdog.clear()
            stack.close()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


SCRATCH_PREFIX = "srm_keras_worker"


def _prepare(config: TrainConfig, stack: contextlib.ExitStack) -> Path:
    """The chief's part of starting: hold the run folder and check it (see ``RunFolder``)."""
    run = stack.enter_context(RunFolder(config.output).lock())
    run.prepare(config)
    return run.path


def _train(
    config: TrainConfig,
    cluster: Cluster,
    strategy: tf.distribute.Strategy,
    output: Path,
    data: Any,
    callbacks: Sequence[keras.callbacks.Callback],
    watchdog: Watchdog,
    *,
    timeout: float,
    startup_timeout: float,
    grace: float,
) -> TrainResult:
    replicas = strategy.num_replicas_in_sync
    per_replica = check_batch_size(config.batch_size, replicas, cluster.num_workers)
    watchdog.expect("loading the data", startup_timeout + grace)
    if data is None:
        data = _load_data(config, strategy, cluster, startup_timeout)
    inputs = run_inputs(config, data)

    watchdog.expect("building the model", startup_timeout + grace)
    jit_compile = runtime.resolve_jit_compile(config.jit_compile, strategy)
    if jit_compile:
        logger.warning("jit_compile is ignored: multi-worker training steps run without XLA.")
    with strategy.scope():
        model = compiled_model(config, data.num_classes, inputs.steps, jit_compile=False)
        model.optimizer.build(model.trainable_variables)
    logger.info(
        "training %s on %s: %d classes, %d steps/epoch, global batch %d = %d replicas x %d, "
        "lr %.4g, %s",
        config.model,
        config.dataset,
        data.num_classes,
        inputs.steps,
        config.batch_size,
        replicas,
        per_replica,
        config.scaled_learning_rate,
        config.precision,
    )
    run = RunFolder(output)
    if cluster.is_chief:
        config.save(run.path)

    loop = EpochLoop(
        model,
        strategy,
        inputs,
        callbacks=[*make_callbacks(config, run), *callbacks],
        progress=config.progress if cluster.is_chief else "0",
        watchdog=watchdog,
        timeout=timeout + grace,
        first_step_timeout=startup_timeout + grace,
    )
    started = time.perf_counter()
    initial_epoch = loop.restore(startup_timeout)
    if initial_epoch:
        logger.info(
            "%s: resuming at epoch %d, optimizer step %d, from the chief's backup",
            cluster.describe(),
            initial_epoch,
            int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        )
    history = loop.run(initial_epoch, config.epochs)
    train_seconds = time.perf_counter() - started

    watchdog.expect("saving the final model", timeout + grace)
    files.save_model(model, run.model)
    weights = collectives.fingerprint([*model.weights, *model.optimizer.variables])
    logger.info("%s: finished; weights fingerprint %s", cluster.describe(), weights)
    collectives.barrier(strategy, timeout)  # no worker leaves while another still needs it
    watchdog.clear()

    final = load_model(run.model)  # a plain copy: no collectives to predict
    metrics: dict[str, Any] = {}
    if cluster.is_chief:
        extra = {
            "workers": cluster.num_workers,
            "replicas": replicas,
            "per_replica_batch_size": per_replica,
            "weights_fingerprint": weights,
        }
        metrics = finish(run, config, final, data, data.validation, train_seconds, extra)
    return TrainResult(model=final, output=output, metrics=metrics, history=history)


def _load_data(
    config: TrainConfig, strategy: tf.distribute.Strategy, cluster: Cluster, timeout: float
):
    """Every worker's ``load_data(config)``. A tensorflow-datasets source is prepared on first
    use; when workers share its ``data_dir``, the chief prepares it before the others read it."""
    if is_folder_source(config.dataset):
        return _agree(strategy, "loading the data", timeout, lambda: load_data(config))
    chief = _agree(
        strategy,
        "loading the data",
        timeout,
        (lambda: load_data(config)) if cluster.is_chief else (lambda: None),
    )
    others = _agree(
        strategy,
        "loading the data",
        timeout,
        (lambda: None) if cluster.is_chief else (lambda: load_data(config)),
    )
    return chief if cluster.is_chief else others


def _agree(
    strategy: tf.distribute.Strategy, what: str, timeout: float, function: Callable[[], T]
) -> T:
    """``function()`` on this worker; if it raised ValueError on any worker, raise on all.

    Without this, a worker that stops on bad input leaves the others waiting for it until
    their timeout, with a message that does not say why.
    """
    try:
        result, failure = function(), None
    except ValueError as error:
        result, failure = None, error
    if collectives.any_worker(strategy, failure is not None, timeout):
        if failure is not None:
            raise failure
        raise ValueError(f"another worker failed while {what}; its log says why.")
    return result


def _reason(error: Exception) -> str:
    """The lines of a TensorFlow collective error that say what happened."""
    text = getattr(error, "message", None) or str(error)
    text = text.split("Collective ops is aborted by: ", 1)[-1]
    skip = ("Graph execution error", "Detected at node", "File ", "[[", "^", "Additional GRPC")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(skip)]
    if not lines:
        return "no details"
    reason = lines[0]
    if reason.endswith(":") and len(lines) > 1:  # "unhealthy tasks:" then the tasks
        reason += " " + lines[1]
    return reason[:300]
