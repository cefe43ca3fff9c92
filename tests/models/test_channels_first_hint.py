"""A channels-first ``input_shape`` is named as such, with the channels-last shape to pass."""

import pytest

import srm_keras


@pytest.mark.parametrize(
    "build, shape, hint",
    [
        (srm_keras.ResNet20, (3, 32, 32), "input_shape=(32, 32, 3)"),
        (srm_keras.SRMResNet20, (1, 28, 28), "input_shape=(28, 28, 1)"),
        (srm_keras.ResNet18, (3, 224, 224), "input_shape=(224, 224, 3)"),
        (srm_keras.ResNet20, (3, None, 64), "input_shape=(None, 64, 3)"),
    ],
)
def test_channels_first_input_shape_suggests_channels_last(build, shape, hint):
    with pytest.raises(ValueError, match="looks channels-first") as error:
        build(input_shape=shape)
    assert f"pass {hint}." in str(error.value)


def test_a_small_channels_last_input_keeps_the_size_hint():
    with pytest.raises(ValueError, match=r"too small .* at least 4 pixels") as error:
        srm_keras.ResNet20(input_shape=(3, 3, 3))
    assert "channels-first" not in str(error.value)
