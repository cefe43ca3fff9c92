"""``srm-keras evaluate`` draws the confusion matrix: beside its JSON, or at --plot."""

import argparse
import json

import pytest
from PIL import Image

import srm_keras
from srm_keras.cli import evaluate as evaluate_cli


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(an untrained SRM-ResNet-20 for 16x16 digits saved as .keras, a prepared data dir)."""
    from srm_keras.data import load_datasets

    root = tmp_path_factory.mktemp("evaluate")
    load_datasets("digits", image_size=16, batch_size=32, data_dir=root / "tfds")
    model = root / "model.keras"
    srm_keras.SRMResNet20(input_shape=(16, 16, 3)).save(model)
    return model, root / "tfds"


def _evaluate(setup, *argv):
    model, data_dir = setup
    parser = argparse.ArgumentParser()
    evaluate_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["evaluate", str(model), "--dataset", "digits", "--data-dir", str(data_dir), *argv]
    )
    return args.func(args)


def _assert_png(path):
    assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()


def test_the_picture_lies_beside_the_json(setup, tmp_path, capsys):
    output = tmp_path / "metrics.json"
    assert _evaluate(setup, "--output", str(output)) == 0
    assert len(json.loads(output.read_text())["confusion_matrix"]) == 10
    _assert_png(tmp_path / "metrics.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "metrics.png"]
    assert f"confusion matrix in {tmp_path / 'metrics.png'}" in capsys.readouterr().out


def test_plot_puts_it_elsewhere(setup, tmp_path):
    picture = tmp_path / "pictures" / "confusion.png"
    assert _evaluate(setup, "--plot", str(picture)) == 0
    _assert_png(picture)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["confusion.png", "pictures"]
