"""Learning-rate schedules counted in epochs: step decay or cosine, with linear warm-up."""

from __future__ import annotations

import math

import keras
from keras import ops

from srm_keras.training.config import SCHEDULES, TrainConfig


@keras.saving.register_keras_serializable(package="srm_keras")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate that follows the epoch count, evaluated per optimiser step.

    ``schedule="step"`` multiplies ``learning_rate`` by ``decay_factor`` once for each entry of
    ``decay_epochs`` that has been reached; epochs are counted from 0, so ``decay_epochs=[30, 60]``
    trains epochs 0-29 at the full rate (the official ImageNet script's epochs 1-30). Entries may
    be fractional, to place a drop at an exact iteration. ``"cosine"`` anneals from
    ``learning_rate`` to 0 between the end of warm-up and ``total_epochs``. ``"constant"`` keeps
    it. Warm-up ramps linearly from ``learning_rate / warmup_steps`` to the scheduled value over
    ``warmup_epochs``, multiplying whichever schedule applies.
    """

    def __init__(
        self,
        learning_rate: float,
        steps_per_epoch: int,
        schedule: str = "step",
        decay_epochs: tuple[float, ...] = (),
        decay_factor: float = 0.1,
        total_epochs: float = 1.0,
        warmup_epochs: float = 0.0,
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(
                f"schedule={schedule!r} is not supported; use one of {list(SCHEDULES)}."
            )
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}.")
        self.learning_rate = float(learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.schedule = schedule
        self.decay_epochs = [float(e) for e in decay_epochs]
        self.decay_factor = float(decay_factor)
        self.total_epochs = float(total_epochs)
        self.warmup_epochs = float(warmup_epochs)

    def _steps(self, epochs: float) -> int:
        return int(round(epochs * self.steps_per_epoch))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = ops.convert_to_tensor(self.learning_rate, "float32")
        warmup_steps = self._steps(self.warmup_epochs)
        if self.schedule == "step":
            for epoch in self.decay_epochs:
                reached = ops.cast(step >= self._steps(epoch), "float32")
                lr = lr * (1.0 + reached * (self.decay_factor - 1.0))
        elif self.schedule == "cosine":
            span = max(self._steps(self.total_epochs) - warmup_steps, 1)
            progress = ops.clip((step - warmup_steps) / span, 0.0, 1.0)
            lr = lr * 0.5 * (1.0 + ops.cos(math.pi * progress))
        if warmup_steps > 0:
            lr = lr * ops.minimum((step + 1.0) / warmup_steps, 1.0)
        return lr

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "schedule": self.schedule,
            "decay_epochs": list(self.decay_epochs),
            "decay_factor": self.decay_factor,
            "total_epochs": self.total_epochs,
            "warmup_epochs": self.warmup_epochs,
        }


def schedule_from_config(config: TrainConfig, steps_per_epoch: int) -> EpochSchedule:
    """The schedule of a run, at the batch-scaled peak learning rate."""
    return EpochSchedule(
        learning_rate=config.scaled_learning_rate,
        steps_per_epoch=steps_per_epoch,
        schedule=config.schedule,
        decay_epochs=config.decay_epochs,
        decay_factor=config.decay_factor,
        total_epochs=config.epochs,
        warmup_epochs=config.warmup_epochs,
    )
