"""The interleaved timing loop, with steps that record when they run."""

import time

import pytest

from srm_keras.benchmark.timing import interleaved, steps_for


def _recorder(log, name, seconds=0.0):
    def step():
        log.append(name)
        if seconds:
            time.sleep(seconds)

    return step


def test_rounds_interleave_and_rotate():
    log = []
    steps = [_recorder(log, name) for name in "ABC"]
    timings = interleaved(steps, repeats=3, warmup=1)
    # Warm-up: each step alone (first call + 1), then rounds A B C, B C A, C A B.
    assert log[:6] == ["A", "A", "B", "B", "C", "C"]
    assert log[6:] == list("ABCBCACAB")
    assert [len(t.per_step) for t in timings] == [3, 3, 3]
    assert all(t.steps_per_repeat == 1 for t in timings)


def test_statistics_and_slower_steps_measure_slower():
    fast, slow = _recorder([], "fast", 0.001), _recorder([], "slow", 0.02)
    timings = interleaved([fast, slow], repeats=3, warmup=0)
    assert timings[1].median > timings[0].median
    for timing in timings:
        assert timing.minimum <= timing.median <= timing.maximum
        assert len(timing.cpu_per_step) == 3
        # Sleeping uses no CPU: the process CPU time stays far below the wall time.
        assert timing.cpu_median < timing.median


def test_min_repeat_seconds_runs_several_steps_per_repetition(monkeypatch):
    # A clock that only the steps advance, 2 ms each: how long a step takes on a loaded machine
    # (2 ms of sleep once took 5.5 ms under CI load) does not enter the count.
    now = [0.0]
    monkeypatch.setattr("srm_keras.benchmark.timing.time.perf_counter", lambda: now[0])
    log = []

    def step():
        log.append("A")
        now[0] += 0.002

    (timing,) = interleaved([step], repeats=2, warmup=1, min_repeat_seconds=0.02)
    assert timing.steps_per_repeat == 10
    assert len(log) == 2 + 2 * 10
    assert timing.per_step == pytest.approx((0.002, 0.002))


def test_steps_for_bounds():
    assert steps_for(0.5, 0.0) == 1
    assert steps_for(0.01, 0.1) == 10
    assert steps_for(1e-9, 10.0) == 1000


@pytest.mark.parametrize(
    "bad, message", [({"repeats": 0}, "repeats"), ({"repeats": 1, "warmup": -1}, "warmup")]
)
def test_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        interleaved([lambda: None], **bad)
