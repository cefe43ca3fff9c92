"""Turn a trained classifier into the model every artifact is made from.

Every exported artifact takes RGB pixels in 0-255 as float32, shape (batch, height, width, 3),
under the name ``images``, and returns ``logits`` and ``probabilities``. The model that does this
is built here: the project's normalisation layer, then the classifier, computing in float32.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras

from srm_keras.preprocessing import normalization_layer

logger = logging.getLogger(__name__)


def find_model_file(source: str | Path) -> Path:
    """Resolve ``source`` (a ``.keras`` file or a training output folder) to a ``.keras`` file.

    In a run folder, its final model (``model.keras``) is taken, else its best one
    (``best.keras``, while the run is unfinished); any other folder must hold exactly one
    ``.keras`` file (searched one level deep as well).
    """
    from srm_keras.training.run_folder import RunFolder

    path = Path(source)
    if path.is_file():
        if path.suffix != ".keras":
            raise ValueError(f"{path} is not a .keras file; export needs a Keras v3 model file.")
        return path
    if not path.is_dir():
        raise ValueError(f"{path} does not exist; pass a .keras file or a training output folder.")
    run = RunFolder(path)
    for candidate in (run.model, run.best_model):
        if candidate.is_file():
            return candidate
    candidates = sorted(path.glob("*.keras")) or sorted(path.glob("*/*.keras"))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValueError(f"{path} holds no .keras file; pass the model file itself.")
    listed = ", ".join(str(c.relative_to(path)) for c in candidates)
    raise ValueError(f"{path} holds several .keras files ({listed}); pass one of them.")


def load_model(source: str | Path) -> keras.Model:
    """Load a classifier from a ``.keras`` file or a training output folder (safe mode)."""
    # Importing the layers registers the project's custom objects for deserialisation.
    import srm_keras.layers  # noqa: F401

    path = find_model_file(source)
    logger.info("loading %s", path)
    return keras.models.load_model(path, compile=False)


def _is_float32(model: keras.Model) -> bool:
    return all(
        layer.dtype_policy.compute_dtype == "float32"
        and layer.dtype_policy.variable_dtype == "float32"
        for layer in model._flatten_layers(include_self=True)
    )


def _float32_policies(config):
    """A copy of a serialised model in which every dtype policy is float32."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return {**config, "config": {**config.get("config", {}), "name": "float32"}}
        return {key: _float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_policies(value) for value in config]
    if isinstance(config, str) and config in (
        "mixed_float16",
        "mixed_bfloat16",
        "float16",
        "bfloat16",
        "float64",
    ):
        return "float32"
    return config


def as_float32(model: keras.Model) -> keras.Model:
    """Return ``model`` itself when it computes in float32, else a float32 rebuild of it.

    A model trained under a mixed-precision policy computes in float16 (or bfloat16); exported
    artifacts must compute in float32, so the model is rebuilt from its configuration with
    every dtype policy replaced by float32 and its weights copied over.
    """
    if _is_float32(model):
        return model
    logger.info("rebuilding %s with a float32 policy for export", model.name)
    import srm_keras.layers  # noqa: F401  (registers custom layers for deserialisation)

    serialized = _float32_policies(keras.saving.serialize_keras_object(model))
    rebuilt = keras.saving.deserialize_keras_object(serialized)
    rebuilt.set_weights([keras.ops.convert_to_numpy(w).astype("float32") for w in model.weights])
    if not _is_float32(rebuilt):
        raise ValueError(
            f"Could not rebuild {model.name} in float32; save it with a float32 policy."
        )
    return rebuilt


def input_size(model: keras.Model, image_size: int | tuple[int, int] | None) -> tuple[int, int]:
    """The (height, width) the artifacts take, from the model or from ``image_size``."""
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            f"export needs a model with one image input (batch, height, width, 3); "
            f"{model.name} takes {shape}."
        )
    fixed = shape[1:3]
    if image_size is not None:
        wanted = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(wanted) != 2 or min(wanted) < 1:
            raise ValueError(f"image_size must be N or (height, width); got {image_size!r}.")
        if None not in fixed and tuple(fixed) != wanted:
            raise ValueError(
                f"{model.name} is built for {fixed[0]}x{fixed[1]} images; "
                f"image_size={image_size!r} differs. Leave image_size out, or rebuild the model "
                "for that size."
            )
        return int(wanted[0]), int(wanted[1])
    if None in fixed:
        raise ValueError(
            f"{model.name} has no fixed input size (input shape {shape}); pass image_size "
            "(--image-size N) to choose the size the artifacts take."
        )
    return int(fixed[0]), int(fixed[1])


def _classifier_outputs(model: keras.Model):
    """The symbolic (logits, probabilities-or-None) tensors of a functional classifier."""
    try:
        logits_layer = model.get_layer("logits")
    except ValueError:
        raise ValueError(
            f"{model.name} has no layer named 'logits'; export needs the classifier's Dense "
            "layer to be named 'logits' (as srm_keras builders name it)."
        ) from None
    logits = logits_layer.output
    probabilities = None
    names = {layer.name for layer in model.layers}
    if "predictions" in names:
        probabilities = model.get_layer("predictions").output
    return logits, probabilities


def serving_model(
    model: keras.Model, image_size: int | tuple[int, int] | None = None
) -> keras.Model:
    """Build ``images`` (0-255 RGB float32) -> ``{"logits", "probabilities"}`` in float32.

    The classifier's own layers are reused (no weight copy) unless the model computes in
    reduced precision, in which case a float32 rebuild is used (see :func:`as_float32`).
    A classifier without a ``predictions`` layer gets a softmax over its logits.
    """
    model = as_float32(model)
    height, width = input_size(model, image_size)
    logits, probabilities = _classifier_outputs(model)
    images = keras.Input((height, width, 3), dtype="float32", name="images")
    normalized = normalization_layer()(images)
    if probabilities is None:
        logits = keras.Model(model.inputs, logits, name=model.name)(normalized)
        probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    else:
        heads = keras.Model(model.inputs, [logits, probabilities], name=model.name)
        logits, probabilities = heads(normalized)
    outputs = {"logits": logits, "probabilities": probabilities}
    return keras.Model(images, outputs, name=f"{model.name}_serving")
