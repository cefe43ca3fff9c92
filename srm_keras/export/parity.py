"""Verification: every artifact must answer like the Keras model, within a stated bound.

The same images go through the Keras model and through every artifact. Bounds:

* float32 formats (SavedModel, TFLite float32, ONNX): the probabilities differ by at most
  ``1e-4`` in absolute value. Only the order of float32 operations differs between runtimes,
  which moves probabilities by about ``1e-7``; ``1e-4`` catches any real mismatch (a missing
  normalisation, a wrong layer, a quantised weight) while leaving room for reordering.
* TFLite float16: weights are stored in float16 (11 significant bits: relative rounding error
  up to ``u = 2**-11``, about ``4.9e-4``) and expanded to float32 at load time; activations stay
  float32. Each weighted layer moves its output by about ``u`` relative; over ``L`` layers the
  independent roundings add up like a random walk, to about ``sqrt(L) * u`` of a logit
  (``L`` = 20 to 50 for the zoo's CIFAR and ImageNet ResNets: 2e-3 to 3.5e-3), and a softmax
  probability moves by at most half the largest logit change. With the logits of trained
  classifiers below about 12 in magnitude this gives ``2e-2``, the bound used on the
  probabilities. Measured on ResNet-20s (plain, SE, GE, SRM) trained on digits: 1.5e-3 to
  8.5e-3. No top-1 agreement is required of float16: when every probability is within ``e`` of
  Keras', the top class can change only on an image whose two best Keras probabilities are
  within ``2 * e`` of each other, a tie at this precision. Requiring agreement there as well
  would only make the check fail by chance (one such image in 96 decided it on some CPUs).
* quantised formats (TFLite dynamic-range and int8): their probabilities carry quantisation
  error by design, so what is checked is the decision. The requirement is that the artifact
  disagrees with the Keras model's top-1 class on at most 1% of images like the held-out ones.
  The verification images are a sample: an artifact that meets the requirement exactly still
  disagrees on a binomially distributed number of them (on 360 images 3.6 on average, and 4 or
  more, below 99% agreement, in 49% of samples). Demanding 99% agreement on the sample itself
  rejects good artifacts by chance, more often the fewer the images. Instead, an artifact fails
  when it disagrees on more images than one that meets the requirement would exceed once in
  1000 samples (``FALSE_ALARM_RATE``, see :func:`allowed_disagreements`): 11 of 360, 21 of 1000.
  What a broken export does is far beyond that: int8 calibrated on images a quarter as bright
  as the real ones disagreed on 271 of the 360 held-out digits (tests/export/test_formats.py).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from srm_keras import storage
from srm_keras.export import publish, runners
from srm_keras.export.report import read_report, write_report

logger = logging.getLogger(__name__)

FLOAT32_MAX_ABS_DIFF = 1e-4
FLOAT16_MAX_ABS_DIFF = 2e-2
QUANTIZED_TOP1_AGREEMENT = 0.99
FALSE_ALARM_RATE = 1e-3

BOUNDS = {
    "savedmodel": {"max_abs_diff": FLOAT32_MAX_ABS_DIFF},
    "tflite_float32": {"max_abs_diff": FLOAT32_MAX_ABS_DIFF},
    "onnx": {"max_abs_diff": FLOAT32_MAX_ABS_DIFF},
    "tflite_float16": {"max_abs_diff": FLOAT16_MAX_ABS_DIFF},
    "tflite_dynamic": {
        "top1_agreement": QUANTIZED_TOP1_AGREEMENT,
        "false_alarm_rate": FALSE_ALARM_RATE,
    },
    "tflite_int8": {
        "top1_agreement": QUANTIZED_TOP1_AGREEMENT,
        "false_alarm_rate": FALSE_ALARM_RATE,
    },
}

REFERENCE_FILE = "verification.npz"


class ParityError(RuntimeError):
    """An artifact missed its bound; ``report`` holds every number."""

    def __init__(self, report: dict, note: str | None = None):
        self.report = report
        self.note = note
        failures = [
            f"{artifact['format']}: {'; '.join(artifact['failures'])}"
            for artifact in report["artifacts"]
            if artifact.get("failures")
        ]
        text = "export verification failed:\n  " + "\n  ".join(failures)
        super().__init__(text + (f"\n{note}." if note else ""))


def save_reference(output_dir: Path, images: np.ndarray, reference: dict, origin: str) -> Path:
    """Store the verification images (uint8) and the Keras outputs beside the artifacts."""
    path = Path(output_dir) / REFERENCE_FILE
    with storage.replacing(path, ".npz") as temporary:
        np.savez_compressed(
            temporary,
            images=images.astype(np.uint8),
            logits=reference["logits"],
            probabilities=reference["probabilities"],
            origin=np.array(origin),
        )
    return path


def load_reference(output_dir: Path) -> tuple[np.ndarray, dict]:
    path = Path(output_dir) / REFERENCE_FILE
    if not path.is_file():
        raise ValueError(f"{output_dir} holds no {REFERENCE_FILE}; export again to create it.")
    with np.load(path) as stored:
        images = stored["images"].astype(np.float32)
        reference = {"logits": stored["logits"], "probabilities": stored["probabilities"]}
    return images, reference


def compare(reference: dict, outputs: dict) -> dict:
    """Parity numbers of ``outputs`` against ``reference`` (both: logits, probabilities)."""
    probabilities = np.asarray(outputs["probabilities"], np.float64)
    expected = np.asarray(reference["probabilities"], np.float64)
    if probabilities.shape != expected.shape:
        raise ValueError(f"Output shape {probabilities.shape} differs from {expected.shape}.")
    agreement = np.argmax(probabilities, -1) == np.argmax(expected, -1)
    return {
        "samples": int(agreement.size),
        "disagreements": int(agreement.size - np.count_nonzero(agreement)),
        "max_abs_diff": float(np.max(np.abs(probabilities - expected))),
        "logits_max_abs_diff": float(
            np.max(np.abs(np.asarray(outputs["logits"], np.float64) - reference["logits"]))
        ),
        "top1_agreement": float(np.mean(agreement)),
    }


def failures(format_name: str, metrics: dict, held_out: bool) -> list[str]:
    """The bounds ``metrics`` misses, as readable sentences (empty when all hold)."""
    bound = BOUNDS[format_name]
    missed = []
    if "max_abs_diff" in bound and not metrics["max_abs_diff"] <= bound["max_abs_diff"]:
        diff, limit = metrics["max_abs_diff"], bound["max_abs_diff"]
        missed.append(f"max abs diff of probabilities {diff:.3e} > {limit:g}")
    if "top1_agreement" in bound:
        samples, differ = metrics["samples"], metrics["disagreements"]
        allowed = allowed_disagreements(
            samples, 1 - bound["top1_agreement"], bound["false_alarm_rate"]
        )
        if differ > allowed:
            missed.append(
                f"top-1 agreement {100 * metrics['top1_agreement']:.2f}%: {differ} of {samples} "
                f"images differ, more than the {allowed} that an artifact agreeing on "
                f"{100 * bound['top1_agreement']:g}% of such images exceeds once in "
                f"{1 / bound['false_alarm_rate']:.0f} samples"
            )
    if format_name == "tflite_int8" and not held_out:
        missed.append("int8 agreement needs held-out images; pass verification_data")
    return missed


def allowed_disagreements(
    samples: int,
    rate: float = 1 - QUANTIZED_TOP1_AGREEMENT,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> int:
    """The most of ``samples`` images on which a quantised artifact may disagree with Keras.

    An artifact that disagrees on a fraction ``rate`` of all images like these disagrees on
    ``X ~ Binomial(samples, rate)`` of a sample of them. This returns the smallest ``k`` with
    ``P(X > k) <= false_alarm_rate``: more disagreements than that are evidence, at that
    false-alarm rate, that the artifact disagrees more often than ``rate``.
    """
    if samples <= 0:
        return 0
    log_rate, log_rest = math.log(rate), math.log1p(-rate)
    log_n = math.lgamma(samples + 1)
    cumulative = 0.0
    for k in range(samples + 1):
        cumulative += math.exp(
            log_n
            - math.lgamma(k + 1)
            - math.lgamma(samples - k + 1)
            + k * log_rate
            + (samples - k) * log_rest
        )
        if 1.0 - cumulative <= false_alarm_rate:
            return k
    return samples


def keras_runner(serving) -> runners.Predict:
    """A runner for the Keras serving model (see ``prepare.serving_model``), traced once per
    batch shape with ``tf.function`` so that its latency is comparable with the artifacts'."""
    import tensorflow as tf

    call = tf.function(lambda images: serving(images, training=False), reduce_retracing=True)

    def predict(images):
        outputs = call(tf.constant(images, tf.float32))
        return {name: outputs[name].numpy() for name in runners.OUTPUTS}

    return predict


def verify(
    target: str | Path | dict,
    *,
    model=None,
    keras_predict: runners.Predict | None = None,
    latency_repeats: int = 20,
    raise_on_failure: bool = True,
) -> dict:
    """Run the verification images through every artifact of an export and check the bounds.

    Args:
        target: an export folder, or a report dict (as returned by ``export``).
        model: the exported classifier (a ``keras.Model``, ``.keras`` file or training output
            folder). When given, the reference outputs are recomputed from it and its latency
            is measured; otherwise the Keras outputs stored at export time are the reference.
        keras_predict: a ready runner of the Keras serving model, instead of ``model``.
        latency_repeats: repetitions of the single-image latency measurement (median kept).
        raise_on_failure: raise :class:`ParityError` when a bound is missed (after writing
            the report); otherwise only the report's ``passed`` flags say so.

    Returns:
        The report, also written to ``export_report.json`` and ``export_report.md``.

    An export folder is held while it is checked (no export writes it meanwhile); an export
    that a kill interrupted is finished or undone first (:func:`publish.recover`).
    """
    options = dict(
        model=model,
        keras_predict=keras_predict,
        latency_repeats=latency_repeats,
        raise_on_failure=raise_on_failure,
    )
    if isinstance(target, dict):
        return _verify(target, **options)
    read_report(target)  # an export folder, before anything is written into it
    with publish.hold(Path(target)):
        return _verify(read_report(target), **options)


def _verify(report, *, model, keras_predict, latency_repeats, raise_on_failure) -> dict:
    output_dir = Path(report["output_dir"])
    images, reference = load_reference(output_dir)
    if model is not None:
        from srm_keras.export.prepare import load_model, serving_model

        if not hasattr(model, "get_layer"):
            model = load_model(model)
        keras_predict = keras_runner(serving_model(model, tuple(report["image_size"])))
    if keras_predict is not None:
        reference = runners.run_batched(keras_predict, images)
        report["keras"] = {
            "latency_ms": runners.latency_ms(keras_predict, images[0], latency_repeats)
        }
    held_out = report["verification"]["held_out"]
    for artifact in report["artifacts"]:
        path = output_dir / artifact["path"]
        predict = runners.runner(artifact["format"], path)
        metrics = compare(reference, runners.run_batched(predict, images))
        missed = failures(artifact["format"], metrics, held_out)
        if hasattr(predict, "runtime"):
            artifact["runtime"] = predict.runtime
        bound = BOUNDS[artifact["format"]]
        if "top1_agreement" in bound:
            metrics["allowed_disagreements"] = allowed_disagreements(
                metrics["samples"], 1 - bound["top1_agreement"], bound["false_alarm_rate"]
            )
        artifact.update(
            metrics,
            latency_ms=runners.latency_ms(predict, images[0], latency_repeats),
            bound=bound,
            passed=not missed,
            failures=missed,
        )
        logger.info("%s: %s", artifact["format"], "pass" if not missed else "; ".join(missed))
    report["passed"] = all(artifact["passed"] for artifact in report["artifacts"])
    write_report(report)
    if raise_on_failure and not report["passed"]:
        raise ParityError(report)
    return report
