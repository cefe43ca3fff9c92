"""Fixtures of the multi-worker tests (the worker processes are in ``workers.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = 3
IMAGES_PER_CLASS = 24


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """3 classes of 24 8x8 RGB images; each class brightens its own colour channel."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label in range(CLASSES):
        folder = root / f"class{label}"
        folder.mkdir()
        for index in range(IMAGES_PER_CLASS):
            pixels = rng.integers(0, 100, size=(8, 8, 3))
            pixels[..., label] += 150
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index:02d}.png")
    return root
