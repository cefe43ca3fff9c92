"""The per-image augmentation and eval transforms."""

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.data import transforms


def seed(value):
    return tf.constant([value, 7], tf.int64)


def gradient(height, width):
    """uint8 image whose red channel is the row and green channel the column."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return tf.constant(np.stack([rows, cols, np.full_like(rows, 9)], -1).astype(np.uint8))


def test_resize_keeps_an_image_of_the_target_size_unchanged():
    image = gradient(12, 10)
    np.testing.assert_array_equal(transforms.resize(image, (12, 10)), tf.cast(image, tf.float32))
    assert transforms.resize(image, (24, 20)).shape == (24, 20, 3)


def test_random_resized_crop_shape_range_and_seed():
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (60, 80, 3)), tf.uint8)
    first = transforms.random_resized_crop(image, (32, 24), seed(1))
    assert first.shape == (32, 24, 3) and first.dtype == tf.float32
    assert 0 <= float(tf.reduce_min(first)) and float(tf.reduce_max(first)) <= 255
    np.testing.assert_array_equal(first, transforms.random_resized_crop(image, (32, 24), seed(1)))
    others = [transforms.random_resized_crop(image, (32, 24), seed(s)) for s in range(2, 6)]
    assert all(not np.array_equal(first, other) for other in others)


def test_random_resized_crop_of_the_whole_area_is_a_resize():
    image = gradient(40, 40)
    crop = transforms.random_resized_crop(image, (20, 20), seed(3), scale=(1, 1), ratio=(1, 1))
    np.testing.assert_allclose(crop, transforms.resize(image, (20, 20)), atol=1e-4)


def test_random_resized_crop_falls_back_to_a_centred_crop():
    # No try can fit an aspect ratio of 10 in a square at full area: torchvision's fallback is
    # the full width with the height clamped to width / 10 = 5, at offset (50 - 5) // 2 = 22.
    image = gradient(50, 50)
    crop = transforms.random_resized_crop(image, (5, 50), seed(4), scale=(1, 1), ratio=(10, 11))
    np.testing.assert_allclose(
        crop[..., 0], np.broadcast_to(np.arange(22.0, 27.0)[:, None], (5, 50))
    )
    np.testing.assert_allclose(crop[..., 1], np.broadcast_to(np.arange(50.0), (5, 50)))


def test_random_resized_crop_area_follows_the_scale_range():
    image = gradient(100, 100)
    for value in range(20):
        crop = transforms.random_resized_crop(image, (100, 100), seed(value), scale=(0.25, 0.25))
        rows = float(crop[-1, 0, 0] - crop[0, 0, 0]) + 1  # the crop's height in source pixels
        cols = float(crop[0, -1, 1] - crop[0, 0, 1]) + 1
        assert rows * cols == pytest.approx(2500, rel=0.1)
        assert 3 / 4 - 0.05 <= cols / rows <= 4 / 3 + 0.05


def test_resize_center_crop_cuts_the_border_like_resize_256_crop_224():
    image = np.zeros((256, 256, 3), np.uint8)
    image[16:-16, 16:-16] = 200  # a 224 square inside a 16-pixel black frame
    crop = transforms.resize_center_crop(tf.constant(image), (224, 224))
    np.testing.assert_array_equal(crop, np.full((224, 224, 3), 200.0))


def test_resize_center_crop_resizes_the_shorter_side():
    # 100x300 -> shorter side round(56 * 256 / 224) = 64 -> 64x192 (1.5625 source pixels per
    # pixel) -> the centre 56x56 starts at row (64 - 56) // 2 = 4 and column (192 - 56) // 2 = 68.
    rows, cols = np.meshgrid(np.arange(100.0), np.arange(300.0), indexing="ij")
    image = tf.constant(np.stack([rows, cols, cols], -1), tf.float32)  # pixel = its coordinates
    crop = transforms.resize_center_crop(image, (56, 56)).numpy()
    step = 300 / 192
    # the antialiasing kernel samples a ramp at discrete taps: off by < 0.1, a shift would be 1.5
    np.testing.assert_allclose(crop[:, 0, 0], (np.arange(4, 60) + 0.5) * step - 0.5, atol=0.1)
    np.testing.assert_allclose(crop[0, :, 1], (np.arange(68, 124) + 0.5) * step - 0.5, atol=0.1)


def test_pad_random_crop_pads_with_black_and_moves():
    image = tf.fill([32, 32, 3], tf.constant(255, tf.uint8))
    crops = [transforms.pad_random_crop(image, (32, 32), seed(s)).numpy() for s in range(12)]
    assert all(c.shape == (32, 32, 3) and set(np.unique(c)) <= {0.0, 255.0} for c in crops)
    assert any((c == 0).any() for c in crops)
    assert len({c.tobytes() for c in crops}) > 3


def test_flip_is_seeded_and_mirrors():
    image = gradient(4, 6)
    flips = [transforms.random_flip(image, seed(s)).numpy() for s in range(16)]
    mirrored = image.numpy()[:, ::-1]
    assert all(np.array_equal(f, image) or np.array_equal(f, mirrored) for f in flips)
    assert 0 < sum(np.array_equal(f, mirrored) for f in flips) < 16
    np.testing.assert_array_equal(flips[3], transforms.random_flip(image, seed(3)))


@pytest.mark.parametrize("style", transforms.STYLES)
def test_styles_produce_the_target_size(style):
    image = gradient(30, 50)
    train = transforms.train_transform(style, (24, 16))(image, seed(0))
    evaluation = transforms.eval_transform(style, (24, 16))(image)
    assert train.shape == evaluation.shape == (24, 16, 3)
    assert train.dtype == evaluation.dtype == tf.float32


def test_unknown_style():
    with pytest.raises(ValueError, match="imagenet"):
        transforms.train_transform("autoaugment", (8, 8))
    with pytest.raises(ValueError, match="imagenet"):
        transforms.eval_transform("autoaugment", (8, 8))
