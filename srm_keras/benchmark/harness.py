"""The benchmark: every contender in every configuration, timed in one interleaved run."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from srm_keras.benchmark import runners
from srm_keras.benchmark.machine import machine_info, set_threads
from srm_keras.benchmark.report import BenchmarkReport
from srm_keras.benchmark.sources import Source, resolve
from srm_keras.benchmark.timing import interleaved
from srm_keras.models import count_params
from srm_keras.training.config import FAST_PRECISIONS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Case:
    """One configuration. Artifacts have no ``precision`` or ``jit_compile`` of ours (None):
    they run as exported."""

    mode: str
    precision: str | None
    jit_compile: bool | None
    batch_size: int
    image_size: int


@dataclass
class _Entry:
    source: Source
    case: Case
    step: Callable[[], object]
    params: int | None


def _as_tuple(value, name: str) -> tuple:
    values = tuple(value) if isinstance(value, list | tuple) else (value,)
    if not values:
        raise ValueError(f"{name} needs at least one value.")
    return values


def _check(modes, precisions, jit_settings, batch_sizes, image_size, classes) -> None:
    for mode in modes:
        if mode not in runners.MODES:
            raise ValueError(f"mode must be one of {runners.MODES}; received {mode!r}.")
    for precision in precisions:
        if precision not in FAST_PRECISIONS:
            raise ValueError(f"precision must be one of {FAST_PRECISIONS}; received {precision!r}.")
    for jit in jit_settings:
        if not isinstance(jit, bool):
            raise ValueError(f"jit_compile values must be True or False; received {jit!r}.")
    for name, value in [*(("batch_size", b) for b in batch_sizes), ("image_size", image_size)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; received {value!r}.")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive integer; received {classes!r}.")


def _entries(
    sources,
    modes,
    precisions,
    jit_settings,
    batch_sizes,
    image_size,
    classes,
    seed,
    tflite_threads,
    onnx_threads,
) -> list[_Entry]:
    entries = []
    for source in sources:
        if source.is_artifact:
            if "inference" not in modes:
                logger.warning(
                    "%s is an exported model: it is timed in inference only.", source.label
                )
            for batch in batch_sizes if "inference" in modes else ():
                step = runners.artifact_step(
                    source, batch, image_size, seed, tflite_threads, onnx_threads
                )
                case = Case("inference", None, None, batch, image_size)
                entries.append(_Entry(source, case, step, None))
            continue
        for precision, jit in itertools.product(precisions, jit_settings):
            # One model serves every mode and batch size of a (precision, XLA) pair.
            model = runners.build_keras_model(
                source,
                image_size=image_size,
                classes=classes,
                precision=precision,
                jit_compile=jit,
            )
            params = count_params(model)
            for batch, mode in itertools.product(batch_sizes, modes):
                step = runners.keras_step(model, mode, batch, seed)
                entries.append(
                    _Entry(source, Case(mode, precision, jit, batch, image_size), step, params)
                )
    return entries


def _baseline_of(entry: _Entry, by_key: dict, baseline: str, first: tuple) -> _Entry | None:
    case = entry.case
    same = by_key.get((baseline, case))
    if same is not None:
        return same
    # Artifacts (no precision/XLA of ours) compare with the baseline's first configuration,
    # and Keras models with an artifact baseline compare with it.
    for precision, jit in (first, (None, None)):
        key = (baseline, Case(case.mode, precision, jit, case.batch_size, case.image_size))
        if key in by_key:
            return by_key[key]
    return None


def run_benchmark(
    models: Sequence,
    *,
    modes: str | Sequence[str] = "inference",
    precisions: str | Sequence[str] = "float32",
    jit_compile: bool | Sequence[bool] | None = None,
    batch_sizes: int | Sequence[int] = 16,
    image_size: int = 224,
    repeats: int = 10,
    warmup: int = 1,
    min_repeat_seconds: float = 0.0,
    baseline: str | None = None,
    classes: int = 1000,
    seed: int = 0,
    tflite_threads: int | None = None,
    threads: int | None = None,
    onnx_threads: int | None = None,
) -> BenchmarkReport:
    """Time inference and/or training steps of ``models`` in one interleaved run.

    Every combination of ``modes`` x ``precisions`` x ``jit_compile`` x ``batch_sizes`` is a
    configuration; each model is built once per (precision, XLA) pair. All (model,
    configuration) pairs are warmed up, then timed in ``repeats`` interleaved rounds (see
    :func:`srm_keras.benchmark.timing.interleaved`). Each row's ``ratio`` is its median time per
    step over the baseline's in the same configuration and the same run: 1.05 means 5% slower.

    Args:
        models: contenders (see :mod:`srm_keras.benchmark.sources`): zoo names with optional
            options, ``"keras_applications_resnet50"``, artifact paths, or (label, builder)
            pairs.
        modes: ``"inference"`` and/or ``"train"`` (artifacts are timed in inference only).
        precisions: Keras dtype policies: ``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"``.
        jit_compile: XLA compilation of the Keras step functions, True and/or False (default:
            on with JAX, where a step without it runs op by op; off on other backends).
        batch_sizes: images per step.
        image_size: square input side in pixels.
        repeats: timed rounds; the tables report the median, minimum and maximum.
        warmup: untimed steps after the first (tracing/compiling) one.
        min_repeat_seconds: one repetition runs as many steps as take this long (0: one step).
        baseline: the label of the baseline model (default: the first of ``models``).
        classes: classifier width of the Keras models.
        seed: seed of the random inputs.
        tflite_threads: LiteRT interpreter threads (default: the cores this process may use).
        onnx_threads: ONNX Runtime intra-op threads (default: ONNX Runtime's own choice).
        threads: TensorFlow intra-/inter-op threads (default: TensorFlow's, one per core); must
            be set before TensorFlow runs its first op in this process.

    Returns:
        A :class:`~srm_keras.benchmark.report.BenchmarkReport` (rows, machine and settings).
    """
    modes, precisions = _as_tuple(modes, "modes"), _as_tuple(precisions, "precisions")
    if jit_compile is None:
        import keras

        jit_compile = keras.backend.backend() == "jax"
    jit_settings = _as_tuple(jit_compile, "jit_compile")
    batch_sizes = _as_tuple(batch_sizes, "batch_sizes")
    _check(modes, precisions, jit_settings, batch_sizes, image_size, classes)
    sources = [resolve(model) for model in _as_tuple(models, "models")]
    labels = [source.label for source in sources]
    if len(set(labels)) != len(labels):
        raise ValueError(f"Each model may appear once; received {labels}.")
    baseline = labels[0] if baseline is None else baseline
    if baseline not in labels:
        raise ValueError(f"baseline {baseline!r} is not one of the models {labels}.")

    counts = {"threads": threads, "tflite_threads": tflite_threads, "onnx_threads": onnx_threads}
    for name, value in counts.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; received {value!r}.")
    if threads is not None:
        set_threads(threads)
    machine_before = machine_info()
    entries = _entries(
        sources,
        modes,
        precisions,
        jit_settings,
        batch_sizes,
        image_size,
        classes,
        seed,
        tflite_threads,
        onnx_threads,
    )
    logger.info("timing %d (model, configuration) pairs, %d rounds", len(entries), repeats)
    timings = interleaved(
        [entry.step for entry in entries],
        repeats=repeats,
        warmup=warmup,
        min_repeat_seconds=min_repeat_seconds,
        on_round=lambda i: logger.info("round %d/%d done", i + 1, repeats),
    )
    by_key = {(entry.source.label, entry.case): entry for entry in entries}
    by_id = {id(entry): timing for entry, timing in zip(entries, timings)}
    first = (precisions[0], jit_settings[0])
    rows = []
    for entry, timing in zip(entries, timings):
        reference = _baseline_of(entry, by_key, baseline, first)
        case = entry.case
        rows.append(
            {
                "model": entry.source.label,
                "kind": entry.source.kind,
                "mode": case.mode,
                "precision": case.precision,
                "jit_compile": case.jit_compile,
                "batch_size": case.batch_size,
                "image_size": case.image_size,
                "params": entry.params,
                "repeats": len(timing.per_step),
                "steps_per_repeat": timing.steps_per_repeat,
                "median_s": timing.median,
                "min_s": timing.minimum,
                "max_s": timing.maximum,
                "cpu_median_s": timing.cpu_median,
                "first_step_s": timing.first_step,
                "images_per_s": case.batch_size / timing.median,
                "baseline": None if reference is None else reference.source.label,
                "ratio": None if reference is None else timing.median / by_id[id(reference)].median,
                "cpu_ratio": None
                if reference is None
                else timing.cpu_median / by_id[id(reference)].cpu_median,
                "per_step_s": list(timing.per_step),
                "cpu_per_step_s": list(timing.cpu_per_step),
            }
        )
    settings = {
        "models": labels,
        "baseline": baseline,
        "modes": list(modes),
        "precisions": list(precisions),
        # Exported files run in their own runtimes: no Keras step, no XLA setting.
        "jit_compile": list(jit_settings)
        if any(not source.is_artifact for source in sources)
        else None,
        "batch_sizes": list(batch_sizes),
        "image_size": image_size,
        "repeats": repeats,
        "warmup": warmup,
        "min_repeat_seconds": min_repeat_seconds,
        "classes": classes,
        "seed": seed,
        "threads": threads,
        "tflite_threads": tflite_threads,
        "onnx_threads": onnx_threads,
    }
    return BenchmarkReport(
        rows=rows, settings=settings, machine=machine_before, machine_after=machine_info()
    )
