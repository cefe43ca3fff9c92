"""Per-image transforms: the ImageNet and CIFAR augmentation recipes and their eval transforms.

Every transform takes one image (H, W, 3) of 0-255 pixels (any real dtype) and returns float32
0-255 pixels of the target ``size`` (height, width). Random transforms take a stateless seed
(an int32/int64 tensor of shape (2,)), so the same seed gives the same output on every run.

* "imagenet" (docs/design.md §9): train = random resized crop (scale 0.08-1, aspect ratio 3/4-4/3,
  torchvision's algorithm: ten tries, then the largest centred crop) + horizontal flip;
  eval = resize the shorter side to ``round(size * 256 / 224)`` then centre crop.
* "cifar": train = resize to ``size`` + zero-pad 4 + random crop + horizontal flip;
  eval = resize to ``size``.
* "none": train and eval = resize to ``size``.

Resizing is bilinear with antialiasing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

STYLES = ("imagenet", "cifar", "none")
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
CROP_ATTEMPTS = 10
EVAL_RESIZE_RATIO = 256.0 / 224.0
CIFAR_PADDING = 4

Size = tuple[int, int]
TrainTransform = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
EvalTransform = Callable[[tf.Tensor], tf.Tensor]


def resize(image: tf.Tensor, size: Size) -> tf.Tensor:
    """Resize to exactly ``size``; an image already that size is returned unchanged."""
    image = tf.cast(image, tf.float32)
    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], size))
    resized = tf.cond(
        same,
        lambda: image,
        lambda: tf.image.resize(image, size, method="bilinear", antialias=True),
    )
    return tf.ensure_shape(tf.clip_by_value(resized, 0.0, 255.0), [*size, 3])


def random_resized_crop(
    image: tf.Tensor,
    size: Size,
    seed: tf.Tensor,
    scale: tuple[float, float] = CROP_SCALE,
    ratio: tuple[float, float] = CROP_RATIO,
) -> tf.Tensor:
    """Crop a random ``scale`` fraction of the area with aspect ratio in ``ratio``; resize."""
    shape = tf.shape(image)
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    area_seed, offset_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    draws = tf.random.stateless_uniform([CROP_ATTEMPTS, 2], seed=area_seed)  # (tries, 2)
    area = height * width * (scale[0] + (scale[1] - scale[0]) * draws[:, 0])
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = tf.exp(log_low + (log_high - log_low) * draws[:, 1])
    crop_w = tf.round(tf.sqrt(area * aspect))
    crop_h = tf.round(tf.sqrt(area / aspect))
    fits = (crop_w >= 1.0) & (crop_h >= 1.0) & (crop_w <= width) & (crop_h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32))
    # No try fits: the whole image, its aspect ratio clamped to ``ratio``, centred.
    in_ratio = width / height
    fallback_w = tf.where(in_ratio > ratio[1], tf.round(height * ratio[1]), width)
    fallback_h = tf.where(in_ratio < ratio[0], tf.round(width / ratio[0]), height)
    found = tf.reduce_any(fits)
    crop_h = tf.cast(tf.where(found, crop_h[first], fallback_h), tf.int32)
    crop_w = tf.cast(tf.where(found, crop_w[first], fallback_w), tf.int32)
    room = shape[:2] - tf.stack([crop_h, crop_w])  # (2,) free pixels along y and x
    uniform = tf.random.stateless_uniform([2], seed=offset_seed)
    random_offset = tf.minimum(tf.cast(uniform * tf.cast(room + 1, tf.float32), tf.int32), room)
    offset = tf.where(found, random_offset, room // 2)
    crop = tf.slice(image, [offset[0], offset[1], 0], [crop_h, crop_w, 3])
    resized = tf.image.resize(tf.cast(crop, tf.float32), size, method="bilinear", antialias=True)
    return tf.ensure_shape(tf.clip_by_value(resized, 0.0, 255.0), [*size, 3])


def random_flip(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirror left-right with probability 1/2."""
    return tf.image.stateless_random_flip_left_right(image, seed)


def pad_random_crop(
    image: tf.Tensor, size: Size, seed: tf.Tensor, padding: int = CIFAR_PADDING
) -> tf.Tensor:
    """Zero-pad (black) ``padding`` pixels on every side, then crop ``size`` at random."""
    padded = tf.pad(tf.cast(image, tf.float32), [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(padded, [*size, 3], seed)


def resize_center_crop(image: tf.Tensor, size: Size, ratio: float = EVAL_RESIZE_RATIO) -> tf.Tensor:
    """Resize so the image covers ``round(size * ratio)``, keeping its aspect, then centre crop."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = tf.constant([round(size[0] * ratio), round(size[1] * ratio)], tf.float32)
    scale = tf.reduce_max(target / shape)
    resized_shape = tf.cast(tf.maximum(target, tf.round(shape * scale)), tf.int32)
    resized = tf.image.resize(
        tf.cast(image, tf.float32), resized_shape, method="bilinear", antialias=True
    )
    top, left = tf.unstack((resized_shape - tf.constant(size)) // 2)
    crop = tf.slice(resized, [top, left, 0], [size[0], size[1], 3])
    return tf.ensure_shape(tf.clip_by_value(crop, 0.0, 255.0), [*size, 3])


def train_transform(style: str, size: Size) -> TrainTransform:
    """The training transform ``(image, seed) -> image`` of an augmentation ``style``."""
    if style == "imagenet":

        def transform(image, seed):
            crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
            return random_flip(random_resized_crop(image, size, crop_seed), flip_seed)

    elif style == "cifar":

        def transform(image, seed):
            crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
            cropped = pad_random_crop(resize(image, size), size, crop_seed)
            return random_flip(cropped, flip_seed)

    elif style == "none":

        def transform(image, seed):
            del seed
            return resize(image, size)

    else:
        raise ValueError(f"Unknown augmentation style {style!r}; expected one of {STYLES}.")
    return transform


def eval_transform(style: str, size: Size) -> EvalTransform:
    """The deterministic evaluation transform ``image -> image`` of an augmentation ``style``."""
    if style == "imagenet":
        return lambda image: resize_center_crop(image, size)
    if style in ("cifar", "none"):
        return lambda image: resize(image, size)
    raise ValueError(f"Unknown augmentation style {style!r}; expected one of {STYLES}.")
