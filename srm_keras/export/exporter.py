"""``export``: one trained classifier to every deployment format, verified against Keras.

Layout of an export folder::

    <output_dir>/
      savedmodel/models.config               TF Serving model list (mount savedmodel/ at /models)
      savedmodel/<model_name>/<version>/     SavedModel, signatures serving_default + serving_bytes
      tflite/<model_name>_{float32,float16,dynamic,int8}.tflite
      onnx/<model_name>.onnx
      verification.npz                       the verification images and the Keras outputs
      export_report.json, export_report.md   sizes, parity and latency per artifact
      rejected/<name>-v<version>-<time>/     artifact sets that failed verification (never live)
      .lock                                  held by the one export writing the folder

Everything is built and verified in a hidden staging folder first; only a verified set is
published (:mod:`srm_keras.export.publish`).
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import onnx
import tensorflow as tf

from srm_keras import storage
from srm_keras.export import parity, publish, runners
from srm_keras.export.folding import fold_serving_model, onnx_serving_model
from srm_keras.export.frozen import freeze
from srm_keras.export.onnx_model import MIN_OPSET, export_onnx
from srm_keras.export.onnx_model import operator_counts as onnx_operator_counts
from srm_keras.export.prepare import load_model, serving_model
from srm_keras.export.report import REPORT_JSON, REPORT_MARKDOWN, write_report
from srm_keras.export.samples import gather
from srm_keras.export.savedmodel import check_model_name, next_version, versions, write_version
from srm_keras.export.signatures import DEFAULT_MAX_PIXELS, check_max_pixels, eval_style
from srm_keras.export.tflite import VARIANTS as TFLITE_VARIANTS
from srm_keras.export.tflite import convert_tflite
from srm_keras.export.tflite import operator_counts as tflite_operator_counts
from srm_keras.export.warmup import WARMUP_FILE

logger = logging.getLogger(__name__)

FORMATS = ("savedmodel", *TFLITE_VARIANTS, "onnx")
# What an export folder may hold; any other entry means the folder is something else.
_EXPORT_ENTRIES = {
    "savedmodel",
    "tflite",
    "onnx",
    parity.REFERENCE_FILE,
    REPORT_JSON,
    REPORT_MARKDOWN,
    publish.LOCK,
    publish.PUBLISHING,
    publish.REJECTED,
}


def resolve_formats(formats: str | Sequence[str] | None, has_calibration: bool) -> tuple:
    """The formats to write, in canonical order, and those skipped with the reason.

    ``None`` (or ``"all"``) means every format; then ``tflite_int8`` is skipped when there
    are no calibration images. Asking for ``tflite_int8`` explicitly without them is an error.
    """
    requested = formats
    if formats is None or formats == "all" or list(formats) == ["all"]:
        requested = FORMATS
    elif isinstance(formats, str):
        requested = [part.strip() for part in formats.split(",") if part.strip()]
    unknown = sorted(set(requested) - set(FORMATS))
    if unknown or not requested:
        raise ValueError(f"Unknown export formats {unknown}; choose from {', '.join(FORMATS)}.")
    skipped = {}
    if "tflite_int8" in requested and not has_calibration:
        if requested is not FORMATS:
            raise ValueError(
                "tflite_int8 needs calibration images: pass representative_data (--data), or "
                "leave tflite_int8 out of the formats."
            )
        skipped["tflite_int8"] = "no representative data for calibration"
    chosen = tuple(f for f in FORMATS if f in requested and f not in skipped)
    return chosen, skipped


def check_output_dir(output_dir: Path) -> None:
    """Refuse an existing folder that holds anything an export does not write."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"{output_dir} exists and is not a folder; choose another --output.")
    if output_dir.is_dir():
        foreign = sorted(
            p.name
            for p in output_dir.iterdir()
            if p.name not in _EXPORT_ENTRIES and not storage.is_temporary(p)
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise ValueError(
                f"{output_dir} exists and is not an export folder (it holds {shown}); "
                "choose an empty or new folder, or a previous export folder."
            )


def default_model_name(model: keras.Model) -> str:
    return check_model_name(re.sub(r"[^A-Za-z0-9_.-]+", "_", model.name).strip("_.-") or "model")


def export(
    model: keras.Model | str | Path,
    output_dir: str | Path,
    formats: str | Sequence[str] | None = None,
    *,
    model_name: str | None = None,
    version: int | None = None,
    force: bool = False,
    representative_data: Iterable | None = None,
    verification_data: Iterable | None = None,
    image_size: int | tuple[int, int] | None = None,
    top_k: int = 5,
    resize: str = "auto",
    verify: bool = True,
    fold_batchnorm: bool = True,
    calibration_samples: int = 200,
    verification_samples: int = 500,
    latency_repeats: int = 20,
    opset: int = MIN_OPSET,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict:
    """Export a classifier to SavedModel (TF Serving layout), TFLite and ONNX, and verify them.

    Every artifact takes ``images``: float32 RGB pixels in 0-255, (batch, height, width, 3),
    normalises them inside, and returns ``logits`` and ``probabilities`` (the SavedModel also
    ``classes`` and ``scores``, the ``top_k`` best). A model trained under mixed precision is
    exported in float32.

    Args:
        model: a ``keras.Model`` whose classifier Dense is named ``logits`` (and softmax, if
            any, ``predictions``), or a ``.keras`` file, or a training output folder.
        output_dir: the export folder; a new or empty folder, or an earlier export folder.
        formats: any of :data:`FORMATS` (a list or a comma-separated string); None = all.
        model_name: the TF Serving model name; defaults to the Keras model's name.
        version: the SavedModel version; defaults to the next free integer. An existing
            version is replaced only with ``force``.
        representative_data: batches of 0-255 RGB images (or ``(images, labels)``), e.g. the
            training pipeline with ``normalize=False``: the first ``calibration_samples``
            calibrate int8; the following ``verification_samples`` verify, unless
            ``verification_data`` (held-out batches) is given.
        image_size: N or (height, width); needed when the model has no fixed input size.
        top_k: how many best ``classes`` and ``scores`` the SavedModel returns.
        resize: how the SavedModel's bytes signature brings decoded files to the model's
            size: the data pipelines' evaluation transform "cifar" (resize), "imagenet"
            (resize the shorter side, centre crop), "none" (resize), or "auto" (as they pick).
        verify: compare every artifact with the Keras model before anything is published. A
            set that misses a bound is not published (the previous highest version stays the
            one served): it is moved to ``rejected/`` and
            :class:`~srm_keras.export.parity.ParityError` says where. With ``verify=False``
            the set is published unchecked.
        fold_batchnorm: fold the SRM and global GE modules' batch normalisation into the
            affine map before it (see :mod:`srm_keras.export.folding`; needed for int8 SRM
            models to agree with Keras); kept only when the folded model matches the
            original within the float32 bound. The report's ``batchnorm_folding`` says
            what happened.
        max_pixels: the largest image, in pixels, the SavedModel's bytes signature decodes;
            larger files are refused from their header (``signatures.DEFAULT_MAX_PIXELS``).

    The export holds ``output_dir/.lock`` from the first write to the last: a second export
    into the same folder is refused at once (:class:`~srm_keras.errors.FolderBusy`), so
    versions are never shared. How a set is published, and how a killed export is repaired,
    is :mod:`srm_keras.export.publish`.

    Returns:
        The report (also written as ``export_report.json`` and ``export_report.md``).
    """
    if not hasattr(model, "get_layer"):
        source = str(model)
        model = load_model(model)
    else:
        source = None
    output_dir = Path(output_dir)
    check_output_dir(output_dir)
    name = check_model_name(model_name) if model_name else default_model_name(model)
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer; got {top_k!r}.")
    eval_style(resize, 1, 1)  # validates the name before any work
    check_max_pixels(max_pixels)

    serving = serving_model(model, image_size)
    size = tuple(serving.input_shape[1:3])
    samples = gather(
        size,
        representative_data,
        verification_data,
        calibration_samples=calibration_samples,
        verification_samples=verification_samples,
    )
    chosen, skipped = resolve_formats(formats, samples.calibration is not None)
    if "savedmodel" in chosen and version is not None:
        _check_version_free(output_dir, name, version, force)

    output_dir.mkdir(parents=True, exist_ok=True)
    with publish.hold(output_dir):  # one export at a time; a killed one is repaired first
        if "savedmodel" not in chosen:
            version = None
        elif version is None:  # allocated under the lock: concurrent exports never share it
            version = next_version(output_dir / publish.SAVEDMODEL / name)
        else:
            _check_version_free(output_dir, name, version, force)
        keras_predict = parity.keras_runner(serving)
        reference = runners.run_batched(keras_predict, samples.verification)
        folding = None
        if fold_batchnorm:
            folded, folding = fold_serving_model(model, size, samples.verification, reference)
            serving = folded or serving
        frozen = freeze(serving)
        onnx_frozen = frozen
        if "onnx" in chosen and folding and folding["applied"]:
            onnx_serving = onnx_serving_model(model, size)
            onnx_frozen = frozen if onnx_serving is None else freeze(onnx_serving)
        with publish.staging(output_dir) as staged:
            artifacts = []
            if version is not None:
                root = staged / publish.SAVEDMODEL
                path = root / name / str(version)
                path.parent.mkdir(parents=True)
                write_version(
                    frozen,
                    path,
                    name,
                    top_k=top_k,
                    warmup_image=samples.verification[0],
                    resize=resize,
                    max_pixels=max_pixels,
                )
                artifacts.append(("savedmodel", path))
            variants = [f for f in chosen if f in TFLITE_VARIANTS]
            if variants:
                converted = convert_tflite(
                    frozen,
                    variants,
                    staged / "tflite",
                    basename=name,
                    calibration=samples.calibration,
                )
                artifacts += [(variant, converted[variant][0]) for variant in variants]
            if "onnx" in chosen:
                onnx_path = export_onnx(onnx_frozen, staged / "onnx" / f"{name}.onnx", opset=opset)
                artifacts.append(("onnx", onnx_path))
            parity.save_reference(staged, samples.verification, reference, samples.origin)
            report = _report(
                staged,
                artifacts,
                name=name,
                version=version,
                source=source,
                size=size,
                serving=serving,
                top_k=top_k,
                resize=resize,
                max_pixels=max_pixels,
                samples=samples,
                skipped=skipped,
                folding=folding,
            )
            if verify:
                report = parity.verify(
                    report,
                    keras_predict=keras_predict,
                    latency_repeats=latency_repeats,
                    raise_on_failure=False,
                )
            else:
                write_report(report)
            if verify and not report["passed"]:
                rejected = publish.reject(staged, output_dir, name, version)
                report["output_dir"] = str(rejected.resolve())
                raise parity.ParityError(
                    report, note=_not_published(output_dir, name, version, rejected)
                )
            publish.publish(staged, output_dir, name, version)
    report["output_dir"] = str(output_dir.resolve())
    logger.info("published %s", f"{name} version {version}" if version else name)
    return report


def _check_version_free(output_dir: Path, name: str, version: int, force: bool) -> None:
    existing = output_dir / publish.SAVEDMODEL / name / str(version)
    if existing.exists() and not force:
        raise ValueError(f"{existing} already exists; pass force=True (--force) to replace it.")


def _not_published(output_dir: Path, name: str, version: int | None, rejected: Path) -> str:
    """What a failed verification left: nothing published, where the rejected files are."""
    live = versions(output_dir / publish.SAVEDMODEL / name)
    serving = f"version {live[-1]} stays the one served" if live else "no version is served"
    what = f"version {version} of {name}" if version is not None else f"the {name} artifacts"
    return f"{what} was not published ({serving}); the rejected files are in {rejected}"


def _report(
    output_dir,
    artifacts,
    *,
    name,
    version,
    source,
    size,
    serving,
    top_k,
    resize,
    max_pixels,
    samples,
    skipped,
    folding,
) -> dict:
    """The export report of the artifacts in ``output_dir`` (before verification)."""
    report = {
        "output_dir": str(output_dir.resolve()),
        "model_name": name,
        "version": version,
        "source": source,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "image_size": list(size),
        "classes": int(serving.output["logits"].shape[-1]),
        "top_k": top_k,
        "bytes_resize": eval_style(resize, *size),
        "max_pixels": max_pixels,
        "input": {"name": "images", "dtype": "float32", "range": [0, 255], "layout": "NHWC"},
        "outputs": ["logits", "probabilities"],
        "verification": {
            "samples": int(len(samples.verification)),
            "origin": samples.origin,
            "held_out": samples.held_out,
            "calibration_samples": 0 if samples.calibration is None else len(samples.calibration),
        },
        "bounds": {
            "float32_max_abs_diff": parity.FLOAT32_MAX_ABS_DIFF,
            "float16_max_abs_diff": parity.FLOAT16_MAX_ABS_DIFF,
            "quantized_top1_agreement": parity.QUANTIZED_TOP1_AGREEMENT,
            "quantized_false_alarm_rate": parity.FALSE_ALARM_RATE,
        },
        "skipped": skipped,
        "artifacts": [
            {
                "format": fmt,
                "path": path.relative_to(output_dir).as_posix(),
                "bytes": _size(path),
            }
            for fmt, path in artifacts
        ],
    }
    for artifact, (fmt, path) in zip(report["artifacts"], artifacts):
        if fmt == "savedmodel":
            artifact["warmup_requests"] = (path / WARMUP_FILE).is_file()
        elif fmt == "onnx":  # what each runtime will execute (docs/design.md §14)
            artifact["operators"] = onnx_operator_counts(onnx.load(str(path)))
        else:
            artifact["operators"] = tflite_operator_counts(path.read_bytes())
    if folding is not None:
        report["batchnorm_folding"] = folding
    return report


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
