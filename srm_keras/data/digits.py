"""The embedded default dataset: scikit-learn's handwritten digits as a tensorflow-datasets builder.

``sklearn.datasets.load_digits`` ships 1,797 real 8x8 greyscale scans of handwritten digits (the
test set of the UCI "Optical Recognition of Handwritten Digits" data, pixel values 0-16, 10
classes) inside the scikit-learn wheel, so :class:`Digits` prepares without any network access.
Pixels are scaled to 0-255 (``round(v * 255 / 16)``). The split is fixed: a stratified 80/20
``train_test_split(random_state=0)`` gives 1,437 training and 360 test images.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

NAME = "digits"
SPLIT_SEED = 0
TEST_FRACTION = 0.2
CLASS_NAMES = tuple(str(digit) for digit in range(10))


def digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images as uint8 (N, 8, 8, 1) in 0-255 and their int64 labels (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, digits.target.astype(np.int64)


def split_indices() -> dict[str, np.ndarray]:
    """The fixed stratified split: indices into :func:`digit_arrays` for "train" and "test"."""
    from sklearn.model_selection import train_test_split

    _, labels = digit_arrays()
    train, test = train_test_split(
        np.arange(len(labels)),
        test_size=TEST_FRACTION,
        stratify=labels,
        random_state=SPLIT_SEED,
    )
    return {"train": np.sort(train), "test": np.sort(test)}


class Digits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits, prepared locally (no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=(
                "1,797 8x8 greyscale images of handwritten digits bundled with scikit-learn "
                "(UCI Optical Recognition of Handwritten Digits), scaled from 0-16 to 0-255. "
                "Stratified 80/20 train/test split with random_state=0."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(names=list(CLASS_NAMES)),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://archive.ics.uci.edu/dataset/80",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the data ships with scikit-learn
        return {name: self._generate_examples(indices) for name, indices in split_indices().items()}

    def _generate_examples(self, indices):
        images, labels = digit_arrays()
        for index in indices:
            yield int(index), {"image": images[index], "label": int(labels[index])}
