"""The epoch loop of a multi-worker run: ``fit``'s loop, driven by hand.

``Model.fit`` cannot run under ``MultiWorkerMirroredStrategy`` with TensorFlow 2.21 and Keras
3.15 (keras-team/keras#20585: its symbolic build reduces the first distributed batch as one
value and fails with "Attempt to convert a value (PerReplica...)"). The loop below does what
``fit`` does with the model's own ``train_step`` and ``test_step`` (the compiled loss, the
regularisation losses, loss scaling and the optimiser's gradient all-reduce), the same Keras
callbacks and the same logs, plus what several workers need:

* metrics are all-reduced before callbacks see them, so every worker sees the same logs and
  takes the same decisions (TerminateOnNaN, checkpoints, stopping);
* BatchNormalization moving statistics are averaged over the replicas at the end of each epoch
  (each replica updates them from its own slice of the batch), so the weights that are
  evaluated and saved are the same on every worker;
* on start the chief's weights, optimiser state and epoch are broadcast to every worker.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from srm_keras.distributed import collectives
from srm_keras.distributed.inputs import RunInputs
from srm_keras.distributed.watchdog import Watchdog
from srm_keras.training import runtime


class EpochLoop:
    """Trains ``model`` (built and compiled under ``strategy``) on ``inputs`` with ``callbacks``.

    ``progress`` is Keras' ``verbose`` ("0", "1", "2" or "auto"). The watchdog expects each
    step and each epoch's end within ``timeout`` seconds, and the first training and validation
    steps, which trace their functions, within ``first_step_timeout``.
    """

    def __init__(
        self,
        model: keras.Model,
        strategy: tf.distribute.Strategy,
        inputs: RunInputs,
        *,
        callbacks: Sequence[keras.callbacks.Callback],
        progress: str,
        watchdog: Watchdog,
        timeout: float,
        first_step_timeout: float,
    ) -> None:
        self.model = model
        self.strategy = strategy
        self.inputs = inputs
        self.watchdog = watchdog
        self.timeout = timeout
        self.first_step_timeout = first_step_timeout
        verbose = runtime.progress_verbosity(progress)
        self.callbacks = keras.callbacks.CallbackList(
            list(callbacks),
            add_history=True,
            add_progbar=verbose != 0,
            verbose=verbose,
            epochs=None,
            steps=inputs.steps,
            model=model,
        )
        self._train_step = self._make_train_step()
        self._test_step = self._make_test_step()
        self._test_step_traced = False

    def _make_train_step(self):
        model, strategy = self.model, self.strategy

        @tf.function
        def train_step(iterator):
            outputs = strategy.run(model.train_step, args=(next(iterator),))
            # Per-batch logs: running means of this epoch, averaged over the replicas.
            return {
                name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in outputs.items()
            }

        return train_step

    def _make_test_step(self):
        model, strategy = self.model, self.strategy

        @tf.function
        def test_step(batch):
            strategy.run(model.test_step, args=(batch,))

        return test_step

    def restore(self, timeout: float) -> int:
        """Start training (``on_train_begin``) and return the epoch to start from.

        On the chief, ``AtomicBackupAndRestore`` loads the backup of an interrupted run and sets
        the epoch to resume at, as in ``fit``; every worker then takes the chief's state.
        """
        self.model.stop_training = False
        self.watchdog.expect("restoring the chief's backup", timeout)
        self.callbacks.on_train_begin()
        model = self.model
        epoch = getattr(model, "_initial_epoch", None) or 0  # set by BackupAndRestore, as for fit
        collectives.broadcast_from_chief(
            self.strategy, [*model.variables, *model.optimizer.variables], timeout
        )
        return int(collectives.broadcast_number(self.strategy, epoch, timeout))

    def run(self, initial_epoch: int, epochs: int) -> dict[str, list[float]]:
        """Epochs ``initial_epoch`` to ``epochs - 1``; returns the History callback's record."""
        model, callbacks = self.model, self.callbacks
        callbacks.set_params({**callbacks.params, "epochs": epochs})
        iterator = iter(self.strategy.experimental_distribute_dataset(self.inputs.train))
        validation = self.strategy.experimental_distribute_dataset(self.inputs.validation)
        first = True
        epoch_logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            for step in range(self.inputs.steps):
                limit = self.first_step_timeout if first else self.timeout
                self.watchdog.expect(f"training step {step} of epoch {epoch}", limit)
                callbacks.on_train_batch_begin(step)
                logs = self._train_step(iterator)
                callbacks.on_train_batch_end(step, logs)
                first = False
                if model.stop_training:
                    break
            self.watchdog.expect(f"validating epoch {epoch}", self.timeout)
            collectives.average_across_replicas(self.strategy, model.non_trainable_variables)
            epoch_logs = self._results()
            epoch_logs.update(self._validate(validation))
            self.watchdog.expect(f"ending epoch {epoch}", self.timeout)
            callbacks.on_epoch_end(epoch, epoch_logs)
            if collectives.any_worker(self.strategy, bool(model.stop_training)):
                break
        callbacks.on_train_end(logs=epoch_logs)
        return model.history.history

    def _results(self) -> dict[str, float]:
        # Reading a metric in cross-replica context all-reduces it over every worker.
        return {name: float(value) for name, value in self.model.get_metrics_result().items()}

    def _validate(self, dataset) -> dict[str, float]:
        self.model.reset_metrics()
        # Iterating a distributed dataset agrees on its end across workers, so the last,
        # partial batch (empty on some replicas) is evaluated everywhere.
        for batch in dataset:
            limit = self.timeout if self._test_step_traced else self.first_step_timeout
            self.watchdog.expect("validating", limit)
            self._test_step(batch)
            self._test_step_traced = True
        return {f"val_{name}": value for name, value in self._results().items()}
