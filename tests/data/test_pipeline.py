"""The batched pipelines of load_datasets: shapes, ranges, seeds, caching and arguments."""

import math

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.data import load_datasets
from srm_keras.data.loader import _auto_style
from srm_keras.data.pipeline import normalize_images
from srm_keras.preprocessing import IMAGENET_MEAN, IMAGENET_STD, preprocess_input

LOW = ((0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)).astype(np.float32)
HIGH = ((1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)).astype(np.float32)


@pytest.fixture
def load(digits_dir):
    def load(**kwargs):
        options = dict(image_size=32, batch_size=64, data_dir=digits_dir, deterministic=True)
        return load_datasets("digits", **(options | kwargs))

    return load


def first(dataset):
    images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy()


@pytest.mark.parametrize(
    "augment, image_size, style",
    [("auto", 32, "cifar"), ("imagenet", (40, 24), "imagenet"), ("none", (24, 40), "none")],
)
def test_batches_are_normalised_images_and_int32_labels(load, augment, image_size, style):
    bundle = load(image_size=image_size, augment=augment)
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    assert bundle.image_size == size and bundle.augment == style
    for dataset in (bundle.train, bundle.validation):
        images, labels = first(dataset)
        assert images.shape == (64, *size, 3) and images.dtype == np.float32
        assert labels.shape == (64,) and labels.dtype == np.int32
        assert ((0 <= labels) & (labels < 10)).all()
        channels = images.reshape(-1, 3)
        assert (channels.min(axis=0) >= LOW - 1e-5).all()
        assert (channels.max(axis=0) <= HIGH + 1e-5).all()


def test_auto_augmentation_follows_the_image_size():
    assert _auto_style((64, 64)) == "cifar"
    assert _auto_style((65, 32)) == "imagenet"


def test_unnormalised_pixels_and_normalisation(load):
    raw = load(normalize=False, augment="imagenet")
    for dataset in (raw.train, raw.validation):
        images, _ = first(dataset)
        assert images.min() >= 0 and images.max() <= 255 and images.max() > 200
    pixels, labels = first(raw.validation)
    normalised, same_labels = first(load(augment="imagenet").validation)
    np.testing.assert_array_equal(labels, same_labels)
    np.testing.assert_allclose(normalised, preprocess_input(tf.constant(pixels)), atol=1e-5)
    np.testing.assert_allclose(normalize_images(pixels), preprocess_input(pixels), atol=1e-5)


def test_same_seed_same_batches_other_seed_other_batches(load):
    images, labels = first(load(seed=3).train)
    again_images, again_labels = first(load(seed=3).train)
    np.testing.assert_array_equal(images, again_images)
    np.testing.assert_array_equal(labels, again_labels)
    other_images, other_labels = first(load(seed=4).train)
    assert not np.array_equal(labels, other_labels)
    assert not np.array_equal(images, other_images)

    plain_images, plain_labels = first(load(augment="none", seed=3).train)
    np.testing.assert_array_equal(plain_labels, labels)  # the same shuffle, other augmentation
    assert not np.allclose(plain_images, images)
    # a pad-4 crop of a 32x32 image moves it: most show some black padding
    padded = [np.isclose(image, LOW, atol=1e-5).all(axis=-1).any() for image in images]
    assert sum(padded) > len(images) // 2


def test_train_epochs_differ_validation_epochs_repeat(load):
    bundle = load(augment="imagenet", batch_size=100)
    epoch1, epoch2 = first(bundle.train), first(bundle.train)
    assert not np.array_equal(epoch1[1], epoch2[1])  # a new shuffle
    assert not np.array_equal(epoch1[0], epoch2[0])
    np.testing.assert_array_equal(first(bundle.validation)[0], first(bundle.validation)[0])
    assert bundle.train.cardinality() == math.ceil(1437 / 100)
    assert bundle.validation.cardinality() == math.ceil(360 / 100)
    assert sum(int(labels.shape[0]) for _, labels in bundle.train) == bundle.train_size == 1437


def test_file_cache_gives_the_same_data(load, tmp_path):
    def epoch(bundle):
        batches = list(bundle.validation.as_numpy_iterator())  # a whole pass writes the cache
        return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])

    expected = epoch(load(cache=False))
    prefix = tmp_path / "cache" / "digits"
    for _ in range(2):  # writes, then reads the cache files
        images, labels = epoch(load(cache=prefix))
        np.testing.assert_array_equal(images, expected[0])
        np.testing.assert_array_equal(labels, expected[1])
    assert any(path.name.startswith("digits.validation") for path in prefix.parent.iterdir())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 0}, "image_size must be a positive integer"),
        ({"image_size": (32,)}, "image_size must be an int or"),
        ({"image_size": "32"}, "image_size must be an int or"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"augment": "randaugment"}, "augment='randaugment' is not one of"),
        ({"validation_split": 1.0}, "between 0 and 1"),
        ({"validation_split": 0}, "between 0 and 1"),
        ({"shuffle_buffer": 0}, "shuffle_buffer must be a positive integer"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_bad_arguments(load, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load(**kwargs)
