"""Recipes and configuration: every recipe loads, flags override, bad settings are refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import srm_keras
from srm_keras.cli import demo as demo_cli
from srm_keras.cli import train as train_cli
from srm_keras.training import TrainConfig, read_recipe
from srm_keras.training.config import to_toml

MODELS = Path(__file__).resolve().parents[2] / "models"
RECIPES = sorted(MODELS.glob("*.toml"))


def test_the_recipe_folder_has_the_papers_models():
    names = {path.stem for path in RECIPES}
    for module in ("", "se_", "ge_", "srm_"):
        for depth in (50, 101):
            assert f"imagenet_{module}resnet{depth}" in names
        for depth in (56, 110):
            assert f"cifar10_{module}resnet{depth}" in names
    assert "digits_srm_resnet20" in names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_and_names_a_zoo_model(path):
    config = TrainConfig.from_file(path)
    assert config.model in srm_keras.list_models()


@pytest.mark.parametrize("path", [p for p in RECIPES if p.stem.startswith("imagenet_")])
def test_imagenet_recipes_are_the_papers(path):
    config = TrainConfig.from_file(path)
    assert (config.epochs, config.batch_size, config.image_size) == (90, 256, 224)
    assert config.scaled_learning_rate == pytest.approx(0.1)
    assert (config.schedule, config.decay_epochs, config.decay_factor) == ("step", [30, 60], 0.1)
    assert (config.momentum, config.weight_decay, config.label_smoothing) == (0.9, 1e-4, 0.0)
    assert config.augment == "imagenet" and config.dataset == "imagenet2012"


@pytest.mark.parametrize(
    "path", [p for p in RECIPES if p.stem.startswith("cifar10_") and "resnet" in p.stem]
)
def test_cifar_recipes_follow_he_et_al(path):
    config = TrainConfig.from_file(path)
    steps_per_epoch = -(-50_000 // config.batch_size)  # 391
    assert (config.batch_size, config.scaled_learning_rate) == (128, pytest.approx(0.1))
    assert config.epochs * steps_per_epoch == pytest.approx(64_000, rel=0.01)
    drops = [epoch * steps_per_epoch for epoch in config.decay_epochs]
    assert drops == pytest.approx([32_000, 48_000], rel=0.01)
    assert config.weight_decay == 1e-4 and config.augment == "cifar"


def test_the_demo_runs_the_digits_recipe():
    recipe = TrainConfig.from_file(MODELS / "digits_srm_resnet20.toml")
    assert demo_cli.demo_config(overwrite=False) == recipe


def test_flags_override_the_recipe():
    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "train",
            "--config",
            str(MODELS / "imagenet_srm_resnet50.toml"),
            "--lr",
            "0.2",
            "--batch-size",
            "64",
            "--decay-epochs",
            "5",
            "8",
            "--no-tensorboard",
            "--precision",
            "mixed_bfloat16",
            "--model-kwargs",
            '{"stride_on": "1x1"}',
        ]
    )
    config = train_cli.config_from_args(args)
    assert config.model == "srm_resnet50" and config.epochs == 90  # from the recipe
    assert config.learning_rate == 0.2 and config.batch_size == 64
    assert config.scaled_learning_rate == pytest.approx(0.2 * 64 / 256)
    assert config.decay_epochs == [5.0, 8.0] and config.tensorboard is False
    assert config.precision == "mixed_bfloat16"
    assert config.model_kwargs == {"stride_on": "1x1"}


def test_without_flags_the_defaults_are_the_papers_imagenet_recipe():
    recipe = TrainConfig.from_file(MODELS / "imagenet_srm_resnet50.toml")
    # "auto" augmentation is the ImageNet style at 224 pixels.
    assert TrainConfig() == recipe.replace(output="runs/srm_resnet50", augment="auto")


def test_saved_config_loads_back(tmp_path):
    config = TrainConfig(model="se_resnet20", seed=3, decay_epochs=[1.5], model_kwargs={"a": 1})
    config.save(tmp_path)
    assert TrainConfig.from_file(tmp_path / "config.toml") == config
    assert TrainConfig.from_file(tmp_path / "config.json") == config


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"schedule": "linear"}, "schedule"),
        ({"precision": "float16"}, "precision"),
        ({"strategy": "tpu"}, "strategy"),
        ({"decay_epochs": [60, 30]}, "decay_epochs"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"batch_size": 0}, "batch_size"),
        ({"warmup_epochs": 5, "epochs": 2}, "warmup_epochs"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_unknown_recipe_keys_are_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('model = "resnet20"\nlearnig_rate = 0.1\n')
    with pytest.raises(ValueError, match="learnig_rate"):
        read_recipe(path)


def test_recipes_extend_a_base(tmp_path):
    (tmp_path / "base.toml").write_text(to_toml({"epochs": 7, "batch_size": 16}))
    (tmp_path / "leaf.toml").write_text('extends = "base.toml"\nbatch_size = 8\n')
    assert read_recipe(tmp_path / "leaf.toml") == {"epochs": 7, "batch_size": 8}


def test_folders_are_recorded_as_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "pets").mkdir()
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(dataset="pets", data_dir="tfds")
    assert config.dataset == str(tmp_path / "pets")
    assert config.data_dir == str(tmp_path / "tfds")
    assert TrainConfig(dataset="digits").dataset == "digits"  # a name, even beside a folder
    assert TrainConfig(dataset="cifar10").dataset == "cifar10"


def test_evaluating_a_model_file_of_a_run_uses_the_runs_split(tmp_path):
    import argparse
    import json

    from srm_keras.cli.evaluate import _settings

    run = tmp_path / "run"
    run.mkdir()
    recorded = {"dataset": "/data/pets", "image_size": 32, "validation_split": 0.3, "seed": 7}
    (run / "config.json").write_text(json.dumps({**recorded, "data_dir": None, "augment": "auto"}))
    flags = dict(dataset=None, data_dir=None, image_size=None, batch_size=None)
    flags.update(validation_split=None, augment=None, seed=None, best=False)
    path, settings = _settings(argparse.Namespace(model=str(run / "best.keras"), **flags))
    assert path == run / "best.keras"
    assert {key: settings[key] for key in recorded} == recorded


@pytest.mark.parametrize(
    "model, size",
    [
        ("srm_resnet20", 32),
        ("resnet110", 32),
        ("densenet_bc100", 32),
        ("srm_resnet50", 224),
        ("se_densenet121", 224),
    ],
)
def test_the_default_image_size_is_the_models(model, size):
    assert TrainConfig(model=model).image_size == size
    assert TrainConfig(model=model, image_size=64).image_size == 64


def test_recalibration_replaces_the_module_of_the_model_name():
    config = TrainConfig(model="srm_resnet56", recalibration="ge_plus")
    assert (config.model, config.recalibration, config.output) == (
        "ge_plus_resnet56",
        None,
        "runs/ge_plus_resnet56",
    )
    assert TrainConfig(model="se_densenet_bc100", recalibration="none").model == "densenet_bc100"


def test_model_keywords_are_checked_by_name():
    from srm_keras.models import create_model

    with pytest.raises(
        ValueError, match=r"unknown keyword 'shortcutt' \(did you mean 'shortcut'\?\)"
    ):
        create_model("resnet20", shortcutt="B")
    with pytest.raises(ValueError, match="is part of its name"):
        create_model("resnet20", recalibration="ge_plus")
