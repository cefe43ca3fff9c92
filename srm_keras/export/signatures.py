"""The serving signatures: float pixels, or encoded image files decoded in the graph.

Both signatures check each request in the graph, so a bad one ends in an InvalidArgument error
(HTTP 400 from TF Serving's REST API, INVALID_ARGUMENT over gRPC) whose message says what was
expected, and the serving process carries on. The checks run on the values actually fed, not on
the signature's declared shape: a signature function called with flat tensors (TF Serving, or
``loaded.signatures[...]``) is not held to its declared shape by TensorFlow.
"""

from __future__ import annotations

import numbers
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

#: The largest image, in pixels (width x height), that ``serving_bytes`` decodes. 40 million
#: takes a 7300 x 5500 camera photo or a 6300 x 6300 square, more than a classifier of small
#: images needs, while bounding the memory of a request: decoding costs 15 to 19 bytes per pixel
#: at its peak (the uint8 image, its float32 copy, the resize; measured: 0.54 GB for a 6000 x
#: 6000 PNG, 3.9 to 4.6 GiB for a 0.75 MB PNG of 16000 x 16000), about 0.7 GB at the budget.
DEFAULT_MAX_PIXELS = 40_000_000

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# A PNG starts with its 8-byte magic, then the IHDR chunk: length (4 bytes), "IHDR", width and
# height (4 bytes each, big-endian).
_IHDR_OFFSET = 12
NOT_AN_IMAGE = (
    "image_bytes holds an element that is not a JPEG or PNG file; send the file's bytes "
    "(base64-encoded as {'b64': ...} in JSON requests), not pixels or a path"
)
PNG_WITHOUT_HEADER = "image_bytes holds a PNG file without an IHDR header (truncated?)"
NOT_FINITE = "images holds NaN or infinite pixels; send finite RGB values in 0-255"


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


def check_max_pixels(max_pixels: int) -> int:
    """``max_pixels`` if it is a positive integer, else ValueError."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Integral):
        raise ValueError(f"max_pixels must be a positive integer; got {max_pixels!r}.")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer; got {max_pixels!r}.")
    return int(max_pixels)


def check_images(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """``images``, once its shape is (batch, height, width, 3) and every value is finite.

    The shape is read at run time (``tf.shape``), since the declared shape of the signature is
    not enforced on what TF Serving feeds. Pixels outside 0-255 are let through: the model
    computes on any finite value, the small overshoot of a client's bicubic resize is harmless,
    and the usual scaling mistake (pixels in 0-1) is in range anyway.
    """
    expected = f"images must be float32 RGB pixels of shape (batch, {height}, {width}, 3)"
    shape = tf.shape(images, out_type=tf.int64)
    # tf.size would be folded to the declared rank (4) when the graph is built: Size is not.
    rank = tf.raw_ops.Size(input=shape, out_type=tf.int64)
    padded = tf.concat([shape, tf.zeros([4], tf.int64)], 0)[:4]  # any rank compares safely
    matches = tf.logical_and(
        tf.equal(rank, 4), tf.reduce_all(tf.equal(padded[1:], [height, width, 3]))
    )
    got = tf.strings.reduce_join(tf.strings.as_string(shape), separator=", ")
    shape_check = tf.debugging.Assert(
        matches, [tf.strings.join([expected, "; got shape (", got, ")"])]
    )
    with tf.control_dependencies([shape_check]):
        return tf.debugging.assert_all_finite(images, NOT_FINITE)


def encoded_size(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(width, height), int64, of one JPEG or PNG file, read from its header without decoding."""

    def png_size():
        # Padding keeps the slices in range for a file cut short; the IHDR check catches it.
        header = tf.strings.substr(
            tf.strings.join([data, b"\0" * (_IHDR_OFFSET + 12)]), _IHDR_OFFSET, 12
        )
        check = tf.debugging.Assert(
            tf.equal(tf.strings.substr(header, 0, 4), b"IHDR"), [PNG_WITHOUT_HEADER]
        )
        with tf.control_dependencies([check]):
            raw = tf.io.decode_raw(tf.strings.substr(header, 4, 8), tf.uint8)
        big_endian = tf.cast(tf.reshape(raw, (2, 4)), tf.int64) * [2**24, 2**16, 2**8, 1]
        size = tf.reduce_sum(big_endian, axis=1)
        return size[0], size[1]

    def jpeg_size():
        shape = tf.io.extract_jpeg_shape(data, output_type=tf.int64)  # (height, width, channels)
        return shape[1], shape[0]

    is_png = tf.equal(tf.strings.substr(data, 0, len(_PNG_MAGIC)), _PNG_MAGIC)
    return tf.cond(is_png, png_size, jpeg_size)


def decode_images(
    image_bytes: tf.Tensor,
    height: int,
    width: int,
    style: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tf.Tensor:
    """Decode a batch of JPEG/PNG strings to float32 RGB 0-255 pixels of size (height, width).

    Each image goes through the evaluation transform of the data pipelines (``style``:
    "cifar"/"none" resize, "imagenet" resize the shorter side and centre crop; "auto" picks as
    they do); an image already at the model's size passes unchanged, so its pixels match the
    float signature exactly. Bytes that are neither JPEG nor PNG fail with InvalidArgument and
    the message in :data:`NOT_AN_IMAGE`. An image of more than ``max_pixels`` pixels fails with
    InvalidArgument before it is decoded: its size is read from the file's header. The budget
    holds per image; ``tf.map_fn`` may decode up to ten images of a request at once.
    """
    max_pixels = check_max_pixels(max_pixels)
    transform = transforms.eval_transform(eval_style(style, height, width), (height, width))

    def decode(data):
        is_png = tf.equal(tf.strings.substr(data, 0, len(_PNG_MAGIC)), _PNG_MAGIC)
        is_jpeg = tf.equal(tf.strings.substr(data, 0, len(_JPEG_MAGIC)), _JPEG_MAGIC)
        check = tf.debugging.Assert(tf.logical_or(is_png, is_jpeg), [NOT_AN_IMAGE])
        with tf.control_dependencies([check]):
            image_width, image_height = encoded_size(data)
        over_budget = tf.strings.join(
            [
                "image of ",
                tf.strings.as_string(image_width),
                "x",
                tf.strings.as_string(image_height),
                f" pixels exceeds the budget of {max_pixels} pixels set at export (max_pixels)",
            ]
        )
        budget = tf.debugging.Assert(image_width * image_height <= max_pixels, [over_budget])
        with tf.control_dependencies([budget]):
            image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
        return transform(tf.cast(image, tf.float32))

    return tf.map_fn(
        decode, image_bytes, fn_output_signature=tf.TensorSpec((height, width, 3), tf.float32)
    )


def serving_functions(
    frozen: FrozenGraph,
    top_k: int,
    style: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
):
    """The two signature functions of the SavedModel, as (pixels_fn, bytes_fn).

    Both return ``logits``, ``probabilities``, and the ``top_k`` most probable ``classes``
    (int32 indices) with their ``scores``; an empty batch gives outputs with 0 rows. The pixels
    are checked by :func:`check_images` (also after decoding); ``max_pixels`` is the budget of
    one encoded image (see :func:`decode_images` and :data:`DEFAULT_MAX_PIXELS`).
    """
    max_pixels = check_max_pixels(max_pixels)
    height, width, classes = frozen.height, frozen.width, frozen.classes
    k = min(top_k, classes)

    def run(images):
        return tuple(frozen.function(images))

    def nothing():
        # The convolutions fail on a batch of 0 images; an empty request gets empty answers.
        return tf.zeros((0, classes), tf.float32), tf.zeros((0, classes), tf.float32)

    @tf.function(input_signature=[pixels_spec(height, width)])
    def pixels_fn(images):
        images = check_images(images, height, width)
        logits, probabilities = tf.cond(tf.shape(images)[0] > 0, lambda: run(images), nothing)
        scores, indices = tf.math.top_k(probabilities, k=k)
        return {
            "logits": logits,
            "probabilities": probabilities,
            "classes": indices,
            "scores": scores,
        }

    @tf.function(input_signature=[bytes_spec()])
    def bytes_fn(image_bytes):
        return pixels_fn(decode_images(image_bytes, height, width, style, max_pixels))

    return pixels_fn, bytes_fn
