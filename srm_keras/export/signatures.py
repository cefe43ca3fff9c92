"""The serving signatures: float pixels, or encoded image files decoded in the graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from srm_keras.data import transforms
from srm_keras.data.loader import CIFAR_STYLE_MAX_SIZE

if TYPE_CHECKING:
    from srm_keras.export.frozen import FrozenGraph

#: Signature taking float32 RGB pixels in 0-255, shape (batch, height, width, 3).
PIXELS_SIGNATURE = "serving_default"
#: Signature taking a batch of encoded JPEG or PNG files, shape (batch,), dtype string.
BYTES_SIGNATURE = "serving_bytes"
PIXELS_INPUT = "images"
BYTES_INPUT = "image_bytes"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
NOT_AN_IMAGE = (
    "image_bytes holds an element that is not a JPEG or PNG file; send the file's bytes "
    "(base64-encoded as {'b64': ...} in JSON requests), not pixels or a path"
)


def pixels_spec(height: int, width: int) -> tf.TensorSpec:
    return tf.TensorSpec((None, height, width, 3), tf.float32, name=PIXELS_INPUT)


def bytes_spec() -> tf.TensorSpec:
    return tf.TensorSpec((None,), tf.string, name=BYTES_INPUT)


def eval_style(style: str, height: int, width: int) -> str:
    """Resolve ``"auto"`` the way the data pipelines do: CIFAR style up to 64 pixels."""
    if style == "auto":
        return "cifar" if max(height, width) <= CIFAR_STYLE_MAX_SIZE else "imagenet"
    if style not in transforms.STYLES:
        raise ValueError(
            f"Unknown resize style {style!r}; expected 'auto' or one of {transforms.STYLES}."
        )
    return style


def decode_images(
    image_bytes: tf.Tensor, height: int, width: int, style: str = "auto"
) -> tf.Tensor:
    """Decode a batch of JPEG/PNG strings to float32 RGB 0-255 pixels of size (height, width).

    Each image goes through the evaluation transform of the data pipelines (``style``:
    "cifar"/"none" resize, "imagenet" resize the shorter side and centre crop; "auto" picks as
    they do); an image already at the model's size passes unchanged, so its pixels match the
    float signature exactly. Bytes that are neither JPEG nor PNG fail with InvalidArgument and
    the message in :data:`NOT_AN_IMAGE`.
    """
    transform = transforms.eval_transform(eval_style(style, height, width), (height, width))

    def decode(data):
        is_png = tf.equal(tf.strings.substr(data, 0, len(_PNG_MAGIC)), _PNG_MAGIC)
        is_jpeg = tf.equal(tf.strings.substr(data, 0, len(_JPEG_MAGIC)), _JPEG_MAGIC)
        check = tf.debugging.Assert(tf.logical_or(is_png, is_jpeg), [NOT_AN_IMAGE])
        with tf.control_dependencies([check]):
            image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
        return transform(tf.cast(image, tf.float32))

    return tf.map_fn(
        decode, image_bytes, fn_output_signature=tf.TensorSpec((height, width, 3), tf.float32)
    )


def serving_functions(frozen: FrozenGraph, top_k: int, style: str = "auto"):
    """The two signature functions of the SavedModel, as (pixels_fn, bytes_fn).

    Both return ``logits``, ``probabilities``, and the ``top_k`` most probable ``classes``
    (int32 indices) with their ``scores``.
    """
    height, width = frozen.height, frozen.width
    k = min(top_k, frozen.classes)

    @tf.function(input_signature=[pixels_spec(height, width)])
    def pixels_fn(images):
        logits, probabilities = frozen.function(images)
        scores, indices = tf.math.top_k(probabilities, k=k)
        return {
            "logits": logits,
            "probabilities": probabilities,
            "classes": indices,
            "scores": scores,
        }

    @tf.function(input_signature=[bytes_spec()])
    def bytes_fn(image_bytes):
        return pixels_fn(decode_images(image_bytes, height, width, style))

    return pixels_fn, bytes_fn
