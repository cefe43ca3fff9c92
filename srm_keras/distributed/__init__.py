"""Data-parallel training on several machines, with the single-machine recipe.

    # on every machine, with that machine's TF_CONFIG (see srm_keras.distributed.cluster)
    from srm_keras.distributed import train_multi_worker
    from srm_keras.training import TrainConfig
    train_multi_worker(TrainConfig.from_file("models/cifar10_srm_resnet56.toml", output="runs/x"))

or ``srm-keras worker --config RECIPE.toml --output runs/x`` on each machine (the flags of
``srm-keras train``), or the same with ``--local 2`` to start two workers on this one.

The engine is ``tf.distribute.MultiWorkerMirroredStrategy`` (synchronous all-reduce over gRPC,
set up by ``TF_CONFIG``), driven by a hand-written epoch loop around the model's own
``train_step`` (:mod:`srm_keras.distributed.loop`), because ``Model.fit`` fails under that
strategy with TensorFlow 2.21 / Keras 3.15 (keras-team/keras#20585). Why this engine rather than
the Keras distribution API on JAX (``keras.distribution.DataParallel`` with
``jax.distributed.initialize``):

* one recipe: the model, optimiser, schedule, coupled L2, label smoothing, precision policy,
  callbacks and output folder come unchanged from :mod:`srm_keras.training`, on the same
  TensorFlow backend and ``tf.data`` pipelines as single-machine training; a JAX worker would
  run another backend with its own numerics and checkpoint handling;
* the paper's BatchNormalization: each replica normalises with the statistics of its own slice
  of the batch (the official script's 8 GPUs x 32 images), exactly as single-machine
  ``MirroredStrategy`` does, whereas a JAX data-parallel array computes global-batch statistics;
* failures are reported rather than hung on: a dead peer breaks the gRPC connection at once,
  and every collective has a timeout (``CommunicationOptions(timeout_seconds=...)``).

What a run does (see the README section "Training on several machines"):

* ``batch_size`` is the global batch, split evenly over the replicas (one per worker, or per
  GPU); the learning rate is scaled for the global batch, as on one machine;
* every worker builds the same input pipeline and keeps its slice of each global batch, so the
  batches are those of a single machine with as many replicas;
* the chief (worker 0) writes the output folder; other workers write to a temporary folder that
  is removed; the chief's backup (``OUTPUT/backup``, written atomically after every epoch) is
  broadcast to all workers when the job restarts, so only the chief needs the folder;
* a worker that dies or hangs makes the others raise :class:`WorkerLostError` within the
  timeout; restarting every worker resumes at the last backed-up epoch.
"""

from __future__ import annotations

from srm_keras.distributed.cluster import Cluster, free_addresses, read_cluster, tf_config
from srm_keras.distributed.launch import launch_local
from srm_keras.distributed.watchdog import EXIT_WORKER_LOST

# Imported on first use: they load TensorFlow, which a launcher process does not need.
_TRAINER_NAMES = (
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "WorkerLostError",
    "train_multi_worker",
)

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "EXIT_WORKER_LOST",
    "Cluster",
    "WorkerLostError",
    "free_addresses",
    "launch_local",
    "read_cluster",
    "tf_config",
    "train_multi_worker",
]


def __getattr__(name: str):
    if name in _TRAINER_NAMES:
        from srm_keras.distributed import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
