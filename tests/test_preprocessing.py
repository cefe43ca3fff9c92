"""``preprocess_input`` returns what it is given: NumPy for NumPy, a tensor for a tensor."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from srm_keras.preprocessing import IMAGENET_MEAN, IMAGENET_STD, preprocess_input

PIXELS = np.array([[[[0, 128, 255], [255, 255, 255]]]], dtype=np.uint8)  # (1, 1, 2, 3)
EXPECTED = (PIXELS / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)


@pytest.mark.parametrize("images", [PIXELS, PIXELS.astype(np.float64), PIXELS.tolist()])
def test_numpy_in_numpy_out(images):
    result = preprocess_input(images)
    assert type(result) is np.ndarray and result.dtype == np.float32
    np.testing.assert_allclose(result, EXPECTED, rtol=1e-6)


def test_tensor_in_tensor_out():
    result = preprocess_input(keras.ops.convert_to_tensor(PIXELS))
    assert keras.ops.is_tensor(result) and not isinstance(result, np.ndarray)
    assert keras.backend.standardize_dtype(result.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(result), EXPECTED, rtol=1e-6)


def test_in_a_tf_data_map_and_a_functional_model():
    dataset = tf.data.Dataset.from_tensor_slices(PIXELS).map(preprocess_input)
    np.testing.assert_allclose(next(iter(dataset)).numpy(), EXPECTED[0], rtol=1e-6)
    inputs = keras.Input((1, 2, 3))
    outputs = preprocess_input(inputs)
    assert keras.backend.is_keras_tensor(outputs)
    model = keras.Model(inputs, outputs)
    np.testing.assert_allclose(model.predict(PIXELS, verbose=0), EXPECTED, rtol=1e-6)
