"""The request checks of the SavedModel's signatures, called as a user of the loaded model calls
them (``tf.saved_model.load``, then ``signatures[...]``), which feeds the tensors without
holding them to the declared input shape, as TF Serving does."""

from __future__ import annotations

import re
import struct
import sys
import zlib

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.export import serving_model
from srm_keras.export.frozen import freeze
from srm_keras.export.savedmodel import export_savedmodel, versions
from srm_keras.export.signatures import (
    DEFAULT_MAX_PIXELS,
    NOT_FINITE,
    PNG_WITHOUT_HEADER,
    serving_functions,
)
from tests.export.conftest import SIZE

EXPECTED_SHAPE = rf"shape \(batch, {SIZE}, {SIZE}, 3\)"
SMALL_BUDGET = 600  # for the export that tests the budget's edge: 20 x 30 is exactly on it


@pytest.fixture(scope="module")
def frozen(srm_model):
    return freeze(serving_model(srm_model))


@pytest.fixture(scope="module")
def signatures(tmp_path_factory, frozen):
    version = export_savedmodel(frozen, tmp_path_factory.mktemp("signatures"), "m")
    return tf.saved_model.load(str(version)).signatures


def pixels(signatures, images):
    return signatures["serving_default"](images=tf.constant(images))


def files(signatures, data):
    return signatures["serving_bytes"](image_bytes=tf.constant(data, tf.string))


def grey(*shape) -> np.ndarray:
    return np.full(shape, 128.0, np.float32)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def black_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of black pixels, compressed row by row (0.75 MB at 16000 x 16000)."""
    row = b"\0" * (1 + 3 * width)  # filter byte, then the pixels
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * 100) for _ in range(height // 100)]
    parts += [compressor.compress(row * (height % 100)), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def with_png_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a PNG) whose IHDR claims width x height; its pixel data stays as it was."""
    ihdr = bytearray(data[12:29])  # "IHDR" and its 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    return data[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a baseline JPEG) whose SOF0 segment claims width x height."""
    patched, i = bytearray(data), 2
    while patched[i + 1] != 0xC0:  # walk the segments: marker (2 bytes), length (2 bytes)
        i += 2 + struct.unpack(">H", patched[i + 2 : i + 4])[0]
    patched[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


class PeakMemory:
    """The growth of this process's peak resident memory over a block, in MiB (Linux)."""

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # resets the peak (VmHWM) to the current resident size
        except OSError:
            pytest.skip("the peak resident memory cannot be reset on this system")
        self.start = self._read("VmRSS")
        return self

    def __exit__(self, *exc):
        self.growth = self._read("VmHWM") - self.start

    @staticmethod
    def _read(field: str) -> float:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith(field + ":"))
        return int(line.split()[1]) / 1024


@pytest.mark.parametrize(
    "shape",
    [(1, 2 * SIZE, 2 * SIZE, 3), (1, SIZE // 2, SIZE // 2, 3), (2, SIZE, 2 * SIZE, 3)]
    + [(SIZE, SIZE, 3), (1, SIZE, SIZE, 1), (1, SIZE, SIZE, 4), (1, 1, SIZE, SIZE, 3)],
)
def test_pixels_of_another_shape_are_refused_naming_the_expected_one(signatures, shape):
    # Rank 3 and one channel were broadcast by the normalisation and answered; other sizes
    # failed in a reshape deep inside the model, or answered.
    got = ", ".join(map(str, shape))
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"{EXPECTED_SHAPE}; got .*{got}"):
        pixels(signatures, grey(*shape))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels_are_refused(signatures, value):
    images = grey(2, SIZE, SIZE, 3)
    images[1, 3, 4, 2] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(NOT_FINITE)):
        pixels(signatures, images)


def test_an_empty_batch_gets_empty_answers_from_both_signatures(signatures):
    answers = [pixels(signatures, grey(0, SIZE, SIZE, 3)), files(signatures, [])]
    for outputs in answers:
        shapes = {name: tuple(value.shape) for name, value in outputs.items()}
        assert shapes == {
            "logits": (0, 10),
            "probabilities": (0, 10),
            "classes": (0, 5),
            "scores": (0, 5),
        }
        assert outputs["classes"].dtype == tf.int32
        assert outputs["scores"].dtype == tf.float32


@pytest.mark.parametrize("encode", ["png", "jpeg"])
def test_a_header_over_the_budget_is_refused_before_decoding(signatures, encode):
    # The file holds 20 x 30 pixels; only its header claims 16000 x 16000. The refusal names
    # the header's size, so it was read from the header, and decoding never began (it would
    # have failed on the missing pixel data, or filled 768 MB with grey).
    image = np.zeros((30, 20, 3), np.uint8)
    if encode == "png":
        data = with_png_size(tf.io.encode_png(image).numpy(), 16000, 16000)
    else:
        data = with_jpeg_size(tf.io.encode_jpeg(image).numpy(), 16000, 16000)
    message = (
        f"image of 16000x16000 pixels exceeds the budget of {DEFAULT_MAX_PIXELS} pixels "
        "set at export (max_pixels)"
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        files(signatures, [data])


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory from /proc")
def test_a_16000x16000_png_is_refused_without_spending_its_memory(signatures):
    data = black_png(16000, 16000)  # 0.75 MB; the old signature spent 4.6 GiB decoding it
    assert len(data) < 10**6
    with PeakMemory() as peak:
        with pytest.raises(tf.errors.InvalidArgumentError, match="16000x16000 pixels exceeds"):
            files(signatures, [data])
    assert peak.growth < 100, f"the refused file raised the peak memory by {peak.growth:.0f} MiB"


def test_the_budget_is_set_at_export_and_an_image_on_it_passes(tmp_path, frozen):
    version = export_savedmodel(frozen, tmp_path, "m", max_pixels=SMALL_BUDGET)
    signatures = tf.saved_model.load(str(version)).signatures
    on_budget = np.zeros((30, 20, 3), np.uint8)  # 20 x 30 = 600 pixels
    outputs = files(signatures, [tf.io.encode_png(on_budget).numpy()])
    assert outputs["probabilities"].shape == (1, 10)
    over = np.zeros((31, 20, 3), np.uint8)
    for data in (tf.io.encode_png(over).numpy(), tf.io.encode_jpeg(over).numpy()):
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=f"image of 20x31 pixels exceeds the budget of {SMALL_BUDGET} pixels",
        ):
            files(signatures, [data])


def test_a_png_cut_inside_its_header_is_refused_as_such(signatures):
    data = tf.io.encode_png(np.zeros((SIZE, SIZE, 3), np.uint8)).numpy()
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(PNG_WITHOUT_HEADER)):
        files(signatures, [data[:10]])


@pytest.mark.parametrize("max_pixels", [0, -1, 1.5, True, "40000000"])
def test_max_pixels_must_be_a_positive_integer(tmp_path, frozen, max_pixels):
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        serving_functions(frozen, 5, max_pixels=max_pixels)
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        export_savedmodel(frozen, tmp_path, "m", max_pixels=max_pixels)
    assert versions(tmp_path / "m") == []


def test_valid_requests_answer_as_the_frozen_model_does(signatures, frozen):
    # A guard, not a fix: this held before the checks were added, and must still hold.
    images = np.random.default_rng(3).integers(0, 256, (3, SIZE, SIZE, 3)).astype(np.float32)
    logits, probabilities = (t.numpy() for t in frozen.function(tf.constant(images)))
    top = np.argsort(-probabilities, axis=-1)[:, :5]
    encoded = [tf.io.encode_png(image.astype(np.uint8)).numpy() for image in images]
    for outputs in (pixels(signatures, images), files(signatures, encoded)):
        np.testing.assert_allclose(outputs["logits"], logits, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-6)
        np.testing.assert_array_equal(outputs["classes"], top)
    other_size = np.zeros((40, 24, 3), np.uint8)
    outputs = files(signatures, [tf.io.encode_jpeg(other_size).numpy()])
    assert outputs["probabilities"].shape == (1, 10)
