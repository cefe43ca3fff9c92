"""Fixtures of the data tests: no network, tiny tfds builders, the digits, an image-folder tree."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

CAT = (200, 40, 90)  # solid colours that identify the class of a decoded image
DOG = (30, 120, 220)
SHAPES_CLASSES = ("circle", "square", "triangle")


class SrmTestShapes(tfds.core.GeneratorBasedBuilder):
    """3 classes of 12x10 RGB images, with "train" (30) and "validation" (9) splits."""

    VERSION = tfds.core.Version("1.0.0")
    SPLITS = {"train": 30, "validation": 9}

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(12, 10, 3)),
                    "label": tfds.features.ClassLabel(names=list(SHAPES_CLASSES)),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {name: self._generate_examples(name, n) for name, n in self.SPLITS.items()}

    def _generate_examples(self, split, count):
        for index in range(count):
            label = index % len(SHAPES_CLASSES)
            image = np.full((12, 10, 3), 40 + 80 * label, dtype=np.uint8)
            image[0, 0] = index  # every example differs
            yield f"{split}{index}", {"image": image, "label": label}


class SrmTestTrainOnly(SrmTestShapes):
    """Like SrmTestShapes with only a "train" split (40 examples)."""

    SPLITS = {"train": 40}


class SrmTestUnreachable(SrmTestShapes):
    """A dataset whose download fails, as it does without network access."""

    def _split_generators(self, dl_manager):
        raise ConnectionError("Failed to resolve 'example.invalid'")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """A tfds data dir with the digits prepared (once per session, network refused)."""
    from srm_keras.data.digits import Digits

    data_dir = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        Digits(data_dir=str(data_dir)).download_and_prepare()
    return data_dir


def _refuse(*args, **kwargs):
    raise AssertionError("the data tests must not use the network")


def solid(colour, size=(20, 16)) -> Image.Image:
    """A solid RGB image of ``colour``, ``size`` = (width, height), with a little noise."""
    rng = np.random.default_rng(sum(colour))
    pixels = np.empty((size[1], size[0], 3), dtype=np.int64)
    pixels[:] = colour
    pixels += rng.integers(-3, 4, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_odd_formats(folder: Path, colour) -> dict[str, Path]:
    """One image of ``colour`` per awkward format; returns {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    image = solid(colour)
    files = {
        "jpeg": folder / "photo.jpg",
        "png_alpha": folder / "alpha.png",
        "grey_png": folder / "grey.PNG",
        "cmyk_jpeg": folder / "cmyk.jpeg",
        "bmp": folder / "plain.bmp",
        "palette_bmp": folder / "palette.bmp",
        "gif": folder / "animated.gif",
        "webp": folder / "image.webp",
        "tiff": folder / "scan.tif",
    }
    image.save(files["jpeg"], quality=95)
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(image.size))
    rgba.save(files["png_alpha"])
    image.convert("L").save(files["grey_png"])
    image.convert("CMYK").save(files["cmyk_jpeg"], quality=95)
    image.save(files["bmp"])
    Image.new("RGB", image.size, colour).convert("P", palette=Image.Palette.ADAPTIVE).save(
        files["palette_bmp"]
    )
    adaptive = Image.Palette.ADAPTIVE
    frames = [
        Image.new("RGB", image.size, c).convert("P", palette=adaptive)
        for c in (colour, (0, 255, 0))
    ]
    frames[0].save(files["gif"], save_all=True, append_images=frames[1:])
    image.save(files["webp"], lossless=True)
    image.save(files["tiff"])
    return files


def write_bad_files(folder: Path) -> dict[str, Path]:
    """Undecodable files with image extensions; returns {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "random": folder / "random.jpg",
        "truncated_jpeg": folder / "truncated.jpg",
        "truncated_png": folder / "truncated.png",
        "empty": folder / "empty.gif",
    }
    files["random"].write_bytes(np.random.default_rng(0).bytes(2000))
    for kind, fmt in (("truncated_jpeg", "JPEG"), ("truncated_png", "PNG")):
        solid((90, 90, 90), (64, 48)).save(files[kind], format=fmt)
        data = files[kind].read_bytes()
        files[kind].write_bytes(data[: len(data) // 2])
    files["empty"].write_bytes(b"")
    return files


def write_class(folder: Path, colour, count: int, start: int = 0) -> list[Path]:
    """``count`` plain PNG images of ``colour``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{start + i:03d}.png" for i in range(count)]
    for path in paths:
        solid(colour).save(path)
    return paths


@pytest.fixture
def image_tree(tmp_path) -> dict:
    """root/cat (odd formats + 6 PNGs + bad files), root/dog (8 PNGs + bad files), extras."""
    root = tmp_path / "images"
    odd = write_odd_formats(root / "cat", CAT)
    write_class(root / "cat", CAT, 6)
    write_class(root / "dog" / "nested", DOG, 8)
    bad = write_bad_files(root / "cat")
    bad.update({f"dog_{k}": p for k, p in write_bad_files(root / "dog").items()})
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / ".hidden.png").write_bytes(b"junk")
    (root / ".cache").mkdir()
    return {"root": root, "odd": odd, "bad": bad, "cat": len(odd) + 6, "dog": 8}
