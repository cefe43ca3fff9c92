"""Short real trainings on the embedded digits: loss, outputs, seeds, precision, smoothing."""

from __future__ import annotations

import argparse
import csv
import json

import keras
import numpy as np
import pytest

from srm_keras.cli import evaluate as evaluate_cli
from srm_keras.cli import plot as plot_cli
from srm_keras.cli import train as train_cli
from srm_keras.training import TrainConfig, evaluate, train
from srm_keras.training.runtime import _op_determinism_enabled

from .conftest import TINY


def cli(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, digits_dir):
    """A 3-epoch run made through `srm-keras train`, shared by the tests that read outputs."""
    output = tmp_path_factory.mktemp("trained") / "run"
    argv = ["train", "--output", str(output), "--data-dir", str(digits_dir), "--epochs", "3"]
    for key, value in TINY.items():
        if key not in ("epochs",):
            flag = "--" + key.replace("_", "-")
            argv += [f"--no-{flag[2:]}"] if value is False else [flag, str(value)]
    assert cli(train_cli, argv) == 0
    return output


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_short_training_reduces_the_loss(trained_run):
    rows = read_csv(trained_run / "history.csv")
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    losses = [float(row["loss"]) for row in rows]
    assert losses[-1] < losses[0]
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.05)


def test_the_output_folder_has_the_documented_layout(trained_run):
    for name in (
        "config.toml",
        "config.json",
        "history.csv",
        "best.keras",
        "best.json",
        "model.keras",
        "evaluation.json",
        "final_metrics.json",
        "training_curves.png",
    ):
        assert (trained_run / name).is_file(), name
    assert not (trained_run / "backup").exists()  # removed once the run finished
    assert not list(trained_run.glob(".*tmp*"))  # no temporary files left behind
    metrics = json.loads((trained_run / "final_metrics.json").read_text())
    assert "val_loss" not in metrics  # history.csv's val_loss includes the L2 term; this is not
    for key in (
        "val_accuracy",
        "val_top5_accuracy",
        "val_cross_entropy",
        "loss",
        "epochs",
        "config",
    ):
        assert key in metrics, key
    assert metrics["epochs"] == metrics["epochs_completed"] == 3 and metrics["finished"]
    assert metrics["class_names"] == [str(d) for d in range(10)]
    assert metrics["precision"] == "float32"
    assert 0.0 <= metrics["val_top5_accuracy"] <= 1.0
    assert metrics["val_accuracy"] <= metrics["val_top5_accuracy"]
    best = json.loads((trained_run / "best.json").read_text())
    values = [float(r["val_accuracy"]) for r in read_csv(trained_run / "history.csv")]
    assert best["value"] == pytest.approx(max(values)) and values[best["epoch"]] == max(values)
    assert TrainConfig.from_file(trained_run / "config.toml") == TrainConfig(**metrics["config"])


def test_saved_models_load_and_match_the_final_metrics(trained_run, digits_dir):
    from srm_keras.data import load_datasets

    model = keras.models.load_model(trained_run / "model.keras")
    assert not model.compiled  # an inference model; the training state is in the backup
    data = load_datasets("digits", image_size=16, batch_size=64, data_dir=digits_dir)
    result = evaluate(trained_run / "model.keras", data.validation, class_names=data.class_names)
    metrics = json.loads((trained_run / "final_metrics.json").read_text())
    assert result["accuracy"] == pytest.approx(metrics["val_accuracy"])
    top5 = keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy", top5])
    keras_metrics = model.evaluate(data.validation, return_dict=True, verbose=0)
    assert result["accuracy"] == pytest.approx(keras_metrics["accuracy"], abs=1e-6)
    assert result["top5_accuracy"] == pytest.approx(keras_metrics["top5"], abs=1e-6)
    confusion = np.array(result["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == result["num_examples"] == 360
    recall = np.diag(confusion) / confusion.sum(axis=1)
    np.testing.assert_allclose(list(result["per_class_accuracy"].values()), recall)


@pytest.mark.parametrize("softmax", [True, False])
def test_top5_counts_ties_at_the_boundary_like_keras(softmax):
    # Class 0 wins by far and the other nine tie (a saturated softmax gives nine exact zeros),
    # so every label is in the top 5 by the tf.math.in_top_k rule Keras logs during training.
    logits = np.array([60.0] + [0.0] * 9, dtype="float32")
    inputs = keras.Input((2, 2, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    head = keras.layers.Dense(
        10,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(logits),
        activation="softmax" if softmax else None,
    )
    model = keras.Model(inputs, head(pooled))
    images = np.random.default_rng(0).random((20, 2, 2, 3), dtype="float32")
    labels = np.arange(20) % 10
    dataset = [(images[:12], labels[:12]), (images[12:], labels[12:])]
    result = evaluate(model, dataset)
    assert result["top5_accuracy"] == 1.0 and result["accuracy"] == pytest.approx(0.1)
    assert evaluate(model, dataset, top_k=1)["top1_accuracy"] == pytest.approx(0.1)
    if softmax:
        top5 = keras.metrics.SparseTopKCategoricalAccuracy(5)
        top5.update_state(labels, model.predict(images, verbose=0))
        assert result["top5_accuracy"] == pytest.approx(float(top5.result()))


def test_evaluate_command_writes_the_metrics_json(trained_run, tmp_path):
    output = tmp_path / "metrics.json"
    assert cli(evaluate_cli, ["evaluate", str(trained_run), "--output", str(output)]) == 0
    metrics = json.loads(output.read_text())
    for key in (
        "accuracy",
        "top5_accuracy",
        "loss",
        "per_class_accuracy",
        "confusion_matrix",
        "class_names",
        "num_examples",
    ):
        assert key in metrics, key
    final = json.loads((trained_run / "final_metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(final["val_accuracy"])


def test_plot_command_draws_one_run_and_a_comparison(trained_run, tmp_path):
    assert cli(plot_cli, ["plot", str(trained_run), "--output", str(tmp_path / "one.png")]) == 0
    argv = ["plot", str(trained_run), str(trained_run), "--output", str(tmp_path / "cmp.png")]
    assert cli(plot_cli, [*argv, "--labels", "SRM", "SRM again"]) == 0
    for name in ("one.png", "cmp.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_finished_run_is_not_trained_over(trained_run):
    config = TrainConfig.from_file(trained_run / "config.toml")
    with pytest.raises(ValueError, match="finished run"):
        train(config)


@pytest.mark.slow
def test_a_seed_gives_identical_weights(tiny_config, tmp_path):
    # Label smoothing on: the one-hot label path is exercised too.
    runs = [
        train(
            tiny_config(
                epochs=1,
                steps_per_epoch=3,
                seed=7,
                label_smoothing=0.1,
                output=str(tmp_path / name),
            )
        )
        for name in ("a", "b")
    ]
    first, again = (run.model.get_weights() for run in runs)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not _op_determinism_enabled()  # switched off again after the run
    loss = runs[0].model.loss
    assert isinstance(loss, keras.losses.CategoricalCrossentropy) and loss.label_smoothing == 0.1


def test_mixed_float16_training_stays_finite_with_loss_scaling(tiny_config):
    result = train(tiny_config(precision="mixed_float16", epochs=1, steps_per_epoch=3))
    assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert result.model.get_layer("stem_conv").compute_dtype == "float16"
    assert all(np.isfinite(w).all() for w in result.model.get_weights())
    assert np.isfinite(result.metrics["loss"]) and result.metrics["finished"]
    assert keras.mixed_precision.global_policy().name == "float32"  # restored


def test_float64_training_computes_in_float64(tiny_config):
    result = train(tiny_config(precision="float64", epochs=1, steps_per_epoch=2))
    model = result.model
    for name in ("stem_conv", "stage3_block3_srm", "logits", "predictions"):
        assert model.get_layer(name).compute_dtype == "float64", name
    assert model.get_layer("stage3_block3_srm").cfc.dtype == "float64"
    assert result.metrics["finished"] and 0 <= result.metrics["val_top5_accuracy"] <= 1
    assert keras.config.floatx() == "float32"  # restored
    assert keras.mixed_precision.global_policy().name == "float32"
