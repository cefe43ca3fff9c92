"""The cross-worker operations of a run, on top of ``tf.distribute.MultiWorkerMirroredStrategy``.

Every function here but ``fingerprint`` is a collective: each worker must call it, in the same
order, or the call blocks until its timeout. Values travel by all-reduce (the ring of
``MultiWorkerMirroredStrategy``, gRPC between machines), so no worker needs another's files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf


def make_strategy(timeout: float) -> tf.distribute.MultiWorkerMirroredStrategy:
    """The strategy of a worker whose cluster ``TF_CONFIG`` describes.

    Its constructor blocks until every worker has started. Any collective that then waits for
    another worker longer than ``timeout`` seconds fails with ``DeadlineExceededError``; one whose
    peer has died fails with ``UnavailableError`` as soon as the connection breaks.
    """
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=float(timeout))
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _options(timeout: float | None) -> tf.distribute.experimental.CommunicationOptions | None:
    if timeout is None:
        return None
    return tf.distribute.experimental.CommunicationOptions(timeout_seconds=float(timeout))


def _tensor(variable) -> tf.Tensor:
    # keras.Variable wraps a tf.Variable; in replica context this reads the local copy. The
    # identity places the value on the replica's device, which the all-reduce needs.
    return tf.identity(getattr(variable, "value", variable))


def _first_local(strategy: tf.distribute.Strategy, values):
    return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], values)


def barrier(strategy: tf.distribute.Strategy, timeout: float | None = None) -> None:
    """Return once every worker has reached this call (or raise after ``timeout`` seconds)."""
    options = _options(timeout)

    def replica_fn():
        return tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, tf.ones([]), options=options
        )

    strategy.run(replica_fn)


def broadcast_from_chief(
    strategy: tf.distribute.Strategy,
    variables: Sequence[keras.Variable],
    timeout: float | None = None,
) -> None:
    """Give every copy of ``variables`` the chief's value.

    An all-reduce sum in which every replica but the chief's first contributes zeros. Values
    travel as float64, which holds float32 and 53-bit integers (the optimiser's step counter)
    exactly. Assigned in cross-replica context, so the copies on every local device change.
    """
    variables = list(variables)
    if not variables:
        return
    options = _options(timeout)

    @tf.function
    def reduce():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            keep = tf.cast(tf.equal(context.replica_id_in_sync_group, 0), tf.float64)
            values = [tf.cast(_tensor(v), tf.float64) * keep for v in variables]
            return context.all_reduce(tf.distribute.ReduceOp.SUM, values, options=options)

        return strategy.run(replica_fn)

    for variable, value in zip(variables, _first_local(strategy, reduce())):
        variable.assign(tf.cast(value, variable.dtype))


def average_across_replicas(
    strategy: tf.distribute.Strategy, variables: Sequence[keras.Variable]
) -> None:
    """Replace every copy of floating-point ``variables`` by their mean over all replicas.

    For BatchNormalization's moving statistics, which each replica updates from its own batch:
    they are exponential moving averages, linear in the batch statistics, so their mean equals
    the moving average of the replicas' mean batch statistics.
    """
    variables = [v for v in variables if keras.backend.is_float_dtype(v.dtype)]
    if not variables:
        return

    @tf.function
    def reduce():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            return context.all_reduce(tf.distribute.ReduceOp.MEAN, [_tensor(v) for v in variables])

        return strategy.run(replica_fn)

    for variable, value in zip(variables, _first_local(strategy, reduce())):
        variable.assign(value)


def any_worker(strategy: tf.distribute.Strategy, flag: bool, timeout: float | None = None) -> bool:
    """Whether ``flag`` is true on at least one worker (so that all of them act together)."""
    return _sum_over_replicas(strategy, float(flag), timeout, chief_only=False) > 0


def broadcast_number(strategy: tf.distribute.Strategy, value: float, timeout: float | None = None):
    """The chief's ``value`` (a number exact in float64), on every worker."""
    return _sum_over_replicas(strategy, float(value), timeout, chief_only=True)


def _sum_over_replicas(
    strategy: tf.distribute.Strategy, value: float, timeout: float | None, chief_only: bool
) -> float:
    options = _options(timeout)

    @tf.function
    def reduce(value):
        def replica_fn():
            context = tf.distribute.get_replica_context()
            if chief_only:
                first = tf.equal(context.replica_id_in_sync_group, 0)
                contribution = tf.where(first, value, tf.zeros_like(value))
            else:
                contribution = tf.identity(value)
            return context.all_reduce(tf.distribute.ReduceOp.SUM, contribution, options=options)

        return strategy.run(replica_fn)

    result = reduce(tf.constant(value, tf.float64))
    return float(_first_local(strategy, result))


def fingerprint(variables: Sequence[keras.Variable]) -> str:
    """SHA-256 of the variables' local values: equal on two workers iff their copies agree."""
    digest = hashlib.sha256()
    for variable in variables:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable.value)).tobytes())
    return digest.hexdigest()
