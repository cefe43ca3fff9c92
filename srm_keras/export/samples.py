"""The images export uses: calibration images for int8, held-out images for verification.

Both come from iterables of batches of RGB pixels in 0-255 (NumPy arrays or a tf.data
pipeline built with ``normalize=False``), either bare images or ``(images, labels)`` pairs.
Verification images are rounded to whole pixel values and stored as uint8 beside the
artifacts, so ``srm-keras verify`` can repeat the comparison later on the very same batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Samples:
    """Images for calibration and verification, both float32 (N, height, width, 3) in 0-255.

    ``origin`` says where the verification images come from: ``"verification_data"``,
    ``"representative_data"`` (the batches after the calibration ones, unseen by the
    calibration), or ``"random"`` (uniform noise, when no data was given).
    """

    calibration: np.ndarray | None
    verification: np.ndarray
    origin: str

    @property
    def held_out(self) -> bool:
        """Whether the verification images are real images the calibration did not see."""
        return self.origin in ("verification_data", "representative_data")


def _as_images(batch) -> np.ndarray:
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    if isinstance(batch, dict):
        raise ValueError("Data batches must be images or (images, labels); got a dict.")
    return np.asarray(batch, dtype=np.float32)


def _take(batches: Iterator, count: int, size: tuple[int, int]) -> np.ndarray | None:
    """Up to ``count`` images from ``batches``, checked for shape and 0-255 range."""
    taken, total = [], 0
    for batch in batches:
        images = _as_images(batch)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or tuple(images.shape[1:]) != (*size, 3):
            raise ValueError(
                f"Data batches must be (batch, {size[0]}, {size[1]}, 3) RGB images; got "
                f"{images.shape}. Load the data at the model's image size."
            )
        taken.append(images[: count - total])
        total += len(taken[-1])
        if total >= count:
            break
    if not taken:
        return None
    images = np.concatenate(taken)
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 255.0 or high <= 1.0:
        raise ValueError(
            f"Data images must be RGB pixels in 0-255; got values in [{low:.3g}, {high:.3g}]. "
            "Pass unnormalised data (load_datasets(..., normalize=False))."
        )
    return images


def _pixels(images: np.ndarray) -> np.ndarray:
    """Round to whole pixel values, so that the uint8 copy on disk is the exact batch."""
    return np.clip(np.rint(images), 0, 255).astype(np.float32)


def gather(
    image_size: tuple[int, int],
    representative_data: Iterable | None = None,
    verification_data: Iterable | None = None,
    *,
    calibration_samples: int = 200,
    verification_samples: int = 500,
    seed: int = 0,
) -> Samples:
    """Draw calibration and verification images.

    Calibration takes the first ``calibration_samples`` images of ``representative_data``.
    Verification takes ``verification_samples`` images of ``verification_data`` when given,
    else the images of ``representative_data`` that follow the calibration ones (read from
    the same iterator, so a shuffling pipeline cannot hand back a calibration image), else
    uniform noise.
    """
    if calibration_samples < 1 or verification_samples < 1:
        raise ValueError("calibration_samples and verification_samples must be at least 1.")
    calibration = None
    remaining = None
    if representative_data is not None:
        remaining = iter(representative_data)
        calibration = _take(remaining, calibration_samples, image_size)
        if calibration is None:
            raise ValueError("representative_data yielded no images.")
    verification, origin = None, "random"
    if verification_data is not None:
        verification = _take(iter(verification_data), verification_samples, image_size)
        if verification is None:
            raise ValueError("verification_data yielded no images.")
        origin = "verification_data"
    elif remaining is not None:
        verification = _take(remaining, verification_samples, image_size)
        origin = "representative_data"
    if verification is None:
        rng = np.random.default_rng(seed)
        verification = rng.uniform(0, 255, (verification_samples, *image_size, 3))
        origin = "random"
    return Samples(calibration, _pixels(verification), origin)
