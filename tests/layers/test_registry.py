import keras
import pytest

from srm_keras import layers


def test_names_cover_the_papers_modules():
    assert {"srm", "se", "ge", "ge_minus", "ge_extent8", "ge_plus"} <= set(layers.names())


def test_get_accepts_name_class_and_none():
    assert layers.get(None) is None
    assert layers.get("none") is None
    assert layers.get("SRM") is layers.StyleRecalibration
    assert layers.get(layers.SqueezeExcitation) is layers.SqueezeExcitation
    assert layers.get("ge_extent8")().extent == 8


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="Unknown recalibration module 'cbam'.*srm"):
        layers.get("cbam")
    with pytest.raises(ValueError, match="registered name"):
        layers.get(42)


def test_register_and_short_name():
    class Identity(keras.layers.Layer):
        def call(self, x):
            return x

    layers.register("identity_test", Identity)
    try:
        assert layers.get("identity_test") is Identity
        assert layers.short_name("identity_test") == "identity_test"
        with pytest.raises(ValueError, match="already registered"):
            layers.register("identity_test", Identity)
    finally:
        layers.registry._REGISTRY.pop("identity_test")
    assert layers.short_name(layers.StyleRecalibration) == "srm"
    assert layers.short_name(Identity) == "identity"
