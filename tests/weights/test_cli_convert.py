"""``srm-keras convert``: checkpoint -> .keras, and .keras -> checkpoint."""

import argparse

import keras
import numpy as np
import pytest

from srm_keras import cli
from srm_keras.cli import convert
from srm_keras.weights import read_state_dict, save_torch_state_dict
from tests.weights.helpers import images, outputs, randomize


def _run(argv):
    parser = argparse.ArgumentParser()
    convert.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert", *argv])
    return args.func(args)


@pytest.fixture
def checkpoint(cached_model, tmp_path):
    source = randomize(cached_model(20, "srm", 32, tag="cli", classifier_activation="softmax"))
    return source, save_torch_state_dict(source, tmp_path / "srm_resnet20.safetensors")


def test_checkpoint_to_keras_and_back(checkpoint, tmp_path, capsys):
    source, path = checkpoint
    output = tmp_path / "out" / "srm_resnet20.keras"
    assert _run([path, "--model", "srm_resnet20", "--output", str(output)]) == 0
    loaded = f"srm_resnet20: {len(source.weights)} tensors loaded (srm_reference layout), 0 skipped"
    assert loaded in capsys.readouterr().out
    assert sorted(p.name for p in output.parent.iterdir()) == ["srm_resnet20.keras"]
    converted = keras.models.load_model(output)
    x = images(32)
    np.testing.assert_array_equal(outputs(converted, x), outputs(source, x))

    back = tmp_path / "back.safetensors"
    assert _run([str(output), "--output", str(back)]) == 0
    original, exported = read_state_dict(path), read_state_dict(back)
    assert sorted(original) == sorted(exported)
    for name, value in original.items():
        np.testing.assert_array_equal(exported[name], value, err_msg=name)


def test_other_classes_skip_the_classifier(checkpoint, tmp_path, capsys):
    _, path = checkpoint
    output = tmp_path / "seven.keras"
    assert _run([path, "--model", "srm_resnet20", "--classes", "7", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "2 skipped" in printed and "  skipped: fc.weight" in printed
    assert keras.models.load_model(output).output_shape == (None, 7)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--output", "x.keras"], "--model is required"),
        (["--model", "srm_resnet20", "--output", "x.h5"], "--output must end with .keras"),
        (
            ["--model", "resnet20", "--output", "x.keras"],
            "(?s)45 problems.*modules the model lacks",
        ),
    ],
)
def test_errors(checkpoint, tmp_path, argv, message):
    _, path = checkpoint
    with pytest.raises(ValueError, match=message):
        _run([path, *[str(tmp_path / a) if a.startswith("x.") else a for a in argv]])
    assert not list(tmp_path.glob("x.*"))


def test_export_needs_a_checkpoint_output(tmp_path):
    with pytest.raises(ValueError, match="--output must end with .safetensors"):
        _run([str(tmp_path / "m.keras"), "--output", str(tmp_path / "m.h5")])


@pytest.mark.skipif("convert" not in cli.COMMANDS, reason="convert is not registered in the CLI")
def test_registered_in_the_cli(checkpoint, tmp_path):
    _, path = checkpoint
    argv = ["convert", path, "--model", "srm_resnet20", "--output", str(tmp_path / "m.keras")]
    assert cli.main(argv) == 0
