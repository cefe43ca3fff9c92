"""The epoch schedules: step drops, cosine, warm-up, and serialisation inside saved optimisers."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from srm_keras.training import EpochSchedule


def rates(schedule: EpochSchedule, steps) -> np.ndarray:
    return np.array([float(schedule(step)) for step in steps])


def test_step_schedule_drops_tenfold_at_each_decay_epoch():
    # The ImageNet recipe at 10 steps per epoch: epochs 0-29, 30-59 and 60-89.
    schedule = EpochSchedule(0.1, steps_per_epoch=10, decay_epochs=(30, 60), total_epochs=90)
    got = rates(schedule, [0, 299, 300, 599, 600, 899])
    np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_fractional_decay_epochs_fall_on_the_nearest_step():
    schedule = EpochSchedule(0.1, steps_per_epoch=391, decay_epochs=(81.8414,), total_epochs=164)
    np.testing.assert_allclose(rates(schedule, [31_999, 32_000]), [0.1, 0.01], rtol=1e-6)


def test_warmup_ramps_linearly_then_hands_over():
    schedule = EpochSchedule(
        0.4, steps_per_epoch=4, decay_epochs=(3,), total_epochs=5, warmup_epochs=1
    )
    np.testing.assert_allclose(
        rates(schedule, [0, 1, 2, 3, 4, 11, 12]), [0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.04], rtol=1e-6
    )


def test_cosine_anneals_from_the_peak_to_zero_after_warmup():
    schedule = EpochSchedule(
        1.0, steps_per_epoch=10, schedule="cosine", total_epochs=11, warmup_epochs=1
    )
    got = rates(schedule, [10, 60, 110])
    np.testing.assert_allclose(got, [1.0, 0.5, 0.0], atol=1e-6)
    assert np.all(np.diff(rates(schedule, range(10, 111))) <= 1e-7)


def test_constant_schedule_stays():
    schedule = EpochSchedule(0.3, steps_per_epoch=5, schedule="constant", total_epochs=3)
    np.testing.assert_allclose(rates(schedule, [0, 7, 14]), [0.3] * 3, rtol=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="schedule"):
        EpochSchedule(0.1, steps_per_epoch=5, schedule="exponential")
    with pytest.raises(ValueError, match="steps_per_epoch"):
        EpochSchedule(0.1, steps_per_epoch=0)


def test_round_trips_through_a_saved_optimizer_config():
    schedule = EpochSchedule(
        0.2, steps_per_epoch=7, decay_epochs=(2, 4.5), total_epochs=6, warmup_epochs=0.5
    )
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert restored.get_config()["learning_rate"] == optimizer.get_config()["learning_rate"]
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(copy, EpochSchedule) and copy.get_config() == schedule.get_config()
    np.testing.assert_allclose(rates(copy, range(50)), rates(schedule, range(50)))
