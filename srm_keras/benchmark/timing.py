"""Interleaved timing: every contender runs once per round, so load drifts hit all of them alike.

On a shared machine the speed of a core changes from second to second. Timing model A for a
minute and then model B for a minute compares two different machines; timing A, B, C, A, B, C,
... compares the models. Each round also starts one contender later than the previous one
(A B C, B C A, C A B, ...), so that no contender always runs right after the same other one.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Step = Callable[[], object]


@dataclass(frozen=True)
class Timing:
    """Seconds per step of one contender: one value per round, and the warm-up.

    ``per_step`` is wall-clock time; ``cpu_per_step`` is the CPU time of the whole process
    (every thread) over the same steps. On a machine shared with other work the wall time
    includes waiting for a core, the CPU time mostly does not, so its ratios are steadier.
    """

    per_step: tuple[float, ...]
    cpu_per_step: tuple[float, ...]
    steps_per_repeat: int
    first_step: float
    warmup: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.per_step)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_per_step)

    @property
    def minimum(self) -> float:
        return min(self.per_step)

    @property
    def maximum(self) -> float:
        return max(self.per_step)


def _timed(step: Step, count: int) -> tuple[float, float]:
    """Wall and process CPU seconds per call, over ``count`` calls."""
    cpu_start, start = time.process_time(), time.perf_counter()
    for _ in range(count):
        step()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return wall / count, cpu / count


def steps_for(seconds_per_step: float, min_repeat_seconds: float, max_steps: int = 1000) -> int:
    """How many steps make one repetition last at least ``min_repeat_seconds``."""
    if min_repeat_seconds <= 0 or seconds_per_step <= 0:
        return 1
    return max(1, min(max_steps, math.ceil(min_repeat_seconds / seconds_per_step)))


def interleaved(
    steps: Sequence[Step],
    *,
    repeats: int,
    warmup: int = 1,
    min_repeat_seconds: float = 0.0,
    on_round: Callable[[int], None] | None = None,
) -> list[Timing]:
    """Time each of ``steps`` in interleaved rounds.

    Every step first runs ``1 + warmup`` times on its own (the first call traces and compiles,
    and is reported as ``first_step``). The last warm-up time sets how many calls make one
    repetition (at least ``min_repeat_seconds`` long, so that timer and Python overhead do not
    dominate tiny models). Then ``repeats`` rounds run every step once each, in rotating order.

    Args:
        steps: callables that run one step synchronously (they return when the work is done).
        repeats: rounds of timing; each contender gets one value per round.
        warmup: untimed calls after the first one.
        min_repeat_seconds: target length of one repetition.
        on_round: called with the round index after each round (progress reporting).

    Returns:
        One :class:`Timing` per step, in the order given.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1; received repeats={repeats!r}.")
    if warmup < 0:
        raise ValueError(f"warmup must be 0 or more; received warmup={warmup!r}.")
    first, warm, counts = [], [], []
    for step in steps:
        first.append(_timed(step, 1)[0])
        times = tuple(_timed(step, 1)[0] for _ in range(warmup))
        warm.append(times)
        counts.append(steps_for(times[-1] if times else first[-1], min_repeat_seconds))
    wall: list[list[float]] = [[] for _ in steps]
    cpu: list[list[float]] = [[] for _ in steps]
    n = len(steps)
    for round_index in range(repeats):
        for offset in range(n):
            i = (round_index + offset) % n
            seconds, cpu_seconds = _timed(steps[i], counts[i])
            wall[i].append(seconds)
            cpu[i].append(cpu_seconds)
        if on_round is not None:
            on_round(round_index)
    return [
        Timing(tuple(w), tuple(c), count, start, times)
        for w, c, count, start, times in zip(wall, cpu, counts, first, warm)
    ]
