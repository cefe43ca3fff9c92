"""One rule for a classifier that does not fit, in every weight path.

PyTorch checkpoints (``weights=`` and ``srm-keras convert``), ``.keras`` and ``.weights.h5``:
only the head differs -> everything else loads and a HeadMismatchWarning names the head's
tensors with both shapes; classes given or include_top=False -> no warning; anything else
differs -> one error listing the differences, nothing assigned.
"""

import logging
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import srm_keras
from srm_keras import cli
from srm_keras.weights import (
    HeadMismatchWarning,
    load_keras_weights,
    load_torch_state_dict,
    save_torch_state_dict,
)
from tests.weights.helpers import images, outputs, randomize

SIZE = (16, 16, 3)
SUFFIXES = (".safetensors", ".keras", ".weights.h5")


def _save(model, path):
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        return save_torch_state_dict(model, path)
    if path.endswith(".keras"):
        model.save(path)
    else:
        model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def three_classes():
    """An SRM-ResNet-20 with a 3-class head (logits out), random weights."""
    model = srm_keras.SRMResNet20(input_shape=SIZE, classes=3, classifier_activation=None)
    return randomize(model, seed=3)


@pytest.fixture(scope="module")
def headless():
    return randomize(srm_keras.SRMResNet20(input_shape=SIZE, include_top=False), seed=5)


def _backbone(model):
    return [np.asarray(v.value) for v in model.weights if not v.path.startswith("logits/")]


def _same_backbone(model, source):
    for ours, theirs in zip(_backbone(model), _backbone(source), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def _build(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = srm_keras.SRMResNet20(weights=path, input_shape=SIZE, **kwargs)
    heads = [w for w in caught if issubclass(w.category, HeadMismatchWarning)]
    return model, heads


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_another_number_of_classes_loads_the_rest_and_warns(three_classes, tmp_path, suffix):
    path = _save(three_classes, tmp_path / f"three{suffix}")
    model, heads = _build(path)
    _same_backbone(model, three_classes)
    assert len(heads) == 1
    message = str(heads[0].message)
    assert heads[0].filename == __file__  # attributed to the caller, not to srm_keras
    if suffix == ".safetensors":
        shapes = "fc.weight: checkpoint (3, 64), model (10, 64); fc.bias: checkpoint (3,), model"
    else:
        shapes = "logits/kernel: file (64, 3), model (64, 10); logits/bias: file (3,), model (10,)"
    assert shapes in message
    assert "its classifier has 3 classes and the model's 10" in message
    assert "build the model with classes=3" in message and "include_top=False" in message


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_checkpoints_classes_keep_its_head(three_classes, tmp_path, suffix):
    path = _save(three_classes, tmp_path / f"three{suffix}")
    model, heads = _build(path, classes=3, classifier_activation=None)
    assert not heads
    x = images(16)
    np.testing.assert_array_equal(outputs(model, x), outputs(three_classes, x))


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("kwargs", [{"classes": 7}, {"include_top": False}])
def test_a_deliberate_new_head_is_not_warned_about(three_classes, tmp_path, suffix, kwargs):
    path = _save(three_classes, tmp_path / f"three{suffix}")
    model, heads = _build(path, **kwargs)
    assert not heads
    _same_backbone(model, three_classes)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_checkpoint_without_a_head_warns(headless, tmp_path, suffix):
    path = _save(headless, tmp_path / f"backbone{suffix}")
    model, heads = _build(path)
    _same_backbone(model, headless)
    assert len(heads) == 1
    message = str(heads[0].message)
    assert "it has no classifier and the model has 10 classes" in message
    assert "absent, model" in message and "include_top=False" in message


def test_the_loaders_take_replace_head(three_classes, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="srm_keras.weights")
    model = srm_keras.SRMResNet20(input_shape=SIZE)
    for load, path in (
        (load_torch_state_dict, _save(three_classes, tmp_path / "t.safetensors")),
        (load_keras_weights, _save(three_classes, tmp_path / "t.weights.h5")),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", HeadMismatchWarning)
            load(model, path, replace_head=True)
        with pytest.warns(HeadMismatchWarning, match="classes=3"):
            load(model, path)
    assert "New classifier, as asked" in caplog.text


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_other_differences_are_one_short_error(three_classes, tmp_path, suffix):
    path = _save(three_classes, tmp_path / f"srm{suffix}")
    model = srm_keras.SEResNet20(input_shape=SIZE, classes=3)
    before = [np.asarray(v.value) for v in model.weights]
    with pytest.raises(ValueError) as error:
        srm_keras.SEResNet20(weights=path, input_shape=SIZE, classes=3)
    with pytest.raises(ValueError):
        load_keras_weights(model, path)
    message = str(error.value)
    assert f"Cannot load {path!r} into model 'se_resnet20': 81 problems." in message
    assert "Missing from the file (36):\n  stage1_block1_se variable 0" in message
    assert "In the file but not in the model (45):" in message
    assert "... and 25 more" in message and "Check that the model matches the file" in message
    assert len(message.splitlines()) < 60  # not Keras' trace of every layer
    for old, new in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new.value))


def test_another_input_size_is_a_shape_mismatch(tmp_path):
    ge = srm_keras.GEResNet20(input_shape=SIZE)
    path = _save(ge, tmp_path / "ge.weights.h5")
    with pytest.raises(ValueError, match=r"Shape mismatches \(9\):\n  stage1_block1_ge variable 0"):
        srm_keras.GEResNet20(weights=path, input_shape=(32, 32, 3))


def test_unreadable_keras_file(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Cannot read the weights of"):
        srm_keras.SRMResNet20(weights=path, input_shape=SIZE)


def test_the_warning_is_visible_by_default(three_classes, tmp_path):
    path = _save(three_classes, tmp_path / "three.safetensors")
    script = tmp_path / "user.py"
    script.write_text(
        f"import srm_keras\nsrm_keras.SRMResNet20(weights={path!r}, input_shape={SIZE})\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"{script}:2: HeadMismatchWarning: Classifier not loaded" in done.stderr


def _convert(argv, capsys):
    code = cli.main(["convert", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_convert_needs_classes_for_a_head_that_does_not_fit(three_classes, tmp_path, capsys):
    path = _save(three_classes, tmp_path / "three.safetensors")
    output = tmp_path / "out.keras"
    code, _, err = _convert([path, "--model", "srm_resnet20", "--output", output], capsys)
    assert code == 2 and not output.exists()
    assert err.count("\n") == 1
    assert "has a 3-class classifier and srm_resnet20 has 10 classes by default" in err
    assert "pass --classes 3 to keep the checkpoint's head" in err

    argv = [path, "--model", "srm_resnet20", "--classes", "3", "--output", output]
    code, out, _ = _convert(argv, capsys)
    assert code == 0 and "0 skipped" in out
    argv[4] = "5"
    code, out, _ = _convert(argv, capsys)
    assert code == 0 and "2 skipped" in out


def test_convert_needs_classes_for_a_checkpoint_without_a_head(headless, tmp_path, capsys):
    path = _save(headless, tmp_path / "backbone.safetensors")
    output = tmp_path / "out.keras"
    code, _, err = _convert([path, "--model", "srm_resnet20", "--output", output], capsys)
    assert code == 2 and not output.exists() and err.count("\n") == 1
    assert "has no classifier and srm_resnet20 has 10 classes: pass --classes N" in err
