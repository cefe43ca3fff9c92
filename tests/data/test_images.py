"""Decoding every image format to RGB, and the scan that finds undecodable files."""

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.data import images
from tests.data.conftest import CAT, write_bad_files, write_odd_formats

PIL_ROUTED = {"palette_bmp", "tiff"}  # TensorFlow cannot decode these correctly


@pytest.fixture
def odd(tmp_path):
    return write_odd_formats(tmp_path / "odd", CAT)


def test_scan_routes_each_format_to_a_decoder_that_reads_it(odd):
    kinds, paths = zip(*odd.items())
    scan = images.scan_images(paths)
    assert scan.valid.all() and scan.skipped == []
    assert {kind for kind, pil in zip(kinds, scan.use_pil) if pil} == PIL_ROUTED
    assert (scan.shapes == [16, 20]).all()


@pytest.mark.parametrize(
    "kind",
    ["jpeg", "png_alpha", "grey_png", "cmyk_jpeg", "bmp", "palette_bmp", "gif", "webp", "tiff"],
)
def test_decoded_file_is_rgb_with_the_right_colours(odd, kind):
    scan = images.scan_images([odd[kind]])
    image = images.decode_file(tf.constant(str(odd[kind])), tf.constant(scan.use_pil[0])).numpy()
    assert image.shape == (16, 20, 3) and image.dtype == np.uint8
    expected = np.array(CAT, dtype=float)
    if kind == "grey_png":  # ITU-R 601 luma of the colour, replicated
        expected[:] = 0.299 * CAT[0] + 0.587 * CAT[1] + 0.114 * CAT[2]
    np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), expected, atol=6)


def test_tensorflow_misreads_palette_bmp_so_the_scan_avoids_it(odd):
    by_tf = images.decode_tf(tf.constant(str(odd["palette_bmp"]))).numpy()
    by_pil = images.pil_rgb(str(odd["palette_bmp"]))
    assert not np.allclose(by_tf.mean(axis=(0, 1)), CAT, atol=6)  # palette indices as grey
    np.testing.assert_allclose(by_pil.mean(axis=(0, 1)), CAT, atol=1)


def test_pil_scales_16_bit_images(tmp_path):
    from PIL import Image

    path = tmp_path / "deep.tif"
    Image.fromarray(np.full((4, 5), 51400, dtype=np.uint16)).save(path)  # 200.8 of 255
    image = images.pil_rgb(str(path))
    assert image.shape == (4, 5, 3) and (image == 200).all()


def test_scan_reports_undecodable_files_with_reasons(tmp_path, odd):
    bad = write_bad_files(tmp_path / "bad")
    paths = [*odd.values(), *bad.values()]
    scan = images.scan_images(paths)
    assert scan.valid.tolist() == [True] * len(odd) + [False] * len(bad)
    assert [path for path, _ in scan.skipped] == [str(p) for p in bad.values()]
    reasons = dict(scan.skipped)
    assert "truncated" in reasons[str(bad["truncated_png"])]
    assert all(reason for reason in reasons.values())
    assert (scan.shapes[~scan.valid] == 0).all()


def test_scan_of_nothing():
    scan = images.scan_images([])
    assert scan.valid.shape == (0,) and scan.skipped == []
