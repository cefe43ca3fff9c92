import csv
import dataclasses
import itertools
from types import SimpleNamespace

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from srm_keras.training import TrainConfig
from srm_keras.tuning import MODULES, RecalibratedResNetHyperModel, SearchSpace, search


def synthetic_bundle(batch_size, classes=3, size=8, samples=24):
    rng = np.random.default_rng(0)
    labels = np.arange(samples) % classes
    # Class-dependent brightness, so a trial can learn something.
    images = (
        rng.normal(size=(samples, size, size, 3)).astype("float32") + labels[:, None, None, None]
    )
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype("int32")))
    return SimpleNamespace(
        train=dataset.batch(batch_size),
        validation=dataset.batch(batch_size),
        num_classes=classes,
        class_names=[str(c) for c in range(classes)],
        train_size=samples,
    )


BASE = TrainConfig(
    dataset="synthetic", image_size=8, epochs=1, schedule="constant", tensorboard=False, seed=0
)


def test_hypermodel_builds_every_combination():
    space = SearchSpace(depths=(20, 32), label_smoothing=(0.0, 0.1), batch_size=(8,))
    hypermodel = RecalibratedResNetHyperModel(BASE, space, data_factory=synthetic_bundle)
    for module, depth, smoothing in itertools.product(MODULES, (20, 32), (0.0, 0.1)):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("recalibration", module)
        hp.Fixed("depth", depth)
        hp.Fixed("label_smoothing", smoothing)
        model = hypermodel.build(hp)
        expected = f"resnet{depth}" if module == "none" else f"{module}_resnet{depth}"
        assert model.name == expected and model.output_shape == (None, 3)
        assert isinstance(model.optimizer, keras.optimizers.SGD)
        keras.backend.clear_session()


def test_trial_fit_uses_its_batch_size_and_smoothing():
    space = SearchSpace(batch_size=(4,), label_smoothing=(0.1,), recalibration=("srm",))
    hypermodel = RecalibratedResNetHyperModel(BASE, space, data_factory=synthetic_bundle)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model)
    assert np.isfinite(history.history["val_accuracy"][0])
    assert list(hypermodel._bundles) == [4]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"recalibration": ("cbam",)}, "recalibration"),
        ({"depths": (19,)}, "depths"),
        ({"learning_rate": (0.1, 0.01)}, "learning_rate"),
        ({"batch_size": (0,)}, "batch_size"),
    ],
)
def test_bad_search_space(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchSpace(**kwargs)


def test_random_search_on_digits_writes_table_and_best_model(tmp_path):
    base = TrainConfig(
        dataset="digits",
        image_size=8,
        epochs=1,
        augment="none",
        schedule="constant",
        data_dir=str(tmp_path / "tfds"),
        seed=0,
    )
    space = SearchSpace(recalibration=("none", "srm"), batch_size=(64,))
    result = search(base, tuner="random", max_trials=2, space=space, output=tmp_path / "tune")
    with open(tmp_path / "tune" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(row["status"] == "completed" for row in rows)
    assert float(rows[0]["score"]) >= float(rows[1]["score"])
    assert "| trial |" in (tmp_path / "tune" / "trials.md").read_text()
    assert (tmp_path / "tune" / "trials.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = keras.models.load_model(result.best_model)
    assert model.name.endswith("resnet20")
    assert result.best_hyperparameters["recalibration"] in ("none", "srm")


@pytest.mark.parametrize("tuner", ["bayesian", "hyperband"])
def test_other_tuners_complete(tuner, tmp_path):
    base = TrainConfig(dataset="synthetic", image_size=8, epochs=2, schedule="constant", seed=0)
    space = SearchSpace(recalibration=("se", "srm"), batch_size=(8,))
    result = search(
        base, tuner=tuner, max_trials=2, space=space, output=tmp_path, data_factory=synthetic_bundle
    )
    assert result.rows and result.best_model.is_file()


def test_unknown_tuner():
    with pytest.raises(ValueError, match="tuner must be one of"):
        search(BASE, tuner="grid")


def _hp(module="srm"):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("recalibration", module)
    return hp


def test_trials_follow_the_base_precision_and_xla_setting():
    base = dataclasses.replace(BASE, precision="mixed_bfloat16", jit_compile="true")
    hypermodel = RecalibratedResNetHyperModel(
        base, SearchSpace(batch_size=(8,)), data_factory=synthetic_bundle
    )
    model = hypermodel.build(_hp())
    assert model.layers[2].dtype_policy.name == "mixed_bfloat16"
    assert model.jit_compile is True
    # The global policy is restored after the build.
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_trial_is_seeded_whatever_ran_before_it():
    hypermodel = RecalibratedResNetHyperModel(
        BASE, SearchSpace(batch_size=(8,)), data_factory=synthetic_bundle
    )
    first = [w.copy() for w in hypermodel.build(_hp()).get_weights()]
    keras.random.normal((3,), seed=None)  # other random work between trials
    np.random.default_rng().normal()
    second = hypermodel.build(_hp()).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_trial_data_comes_from_the_training_recipe(monkeypatch):
    seen = []

    def fake_load_data(config):
        seen.append(config)
        return synthetic_bundle(config.batch_size)

    monkeypatch.setattr("srm_keras.tuning.hypermodel.load_data", fake_load_data)
    base = dataclasses.replace(BASE, cache=False, strict=True, seed=7)
    hypermodel = RecalibratedResNetHyperModel(base, SearchSpace(batch_size=(4,)))
    hypermodel.data(4)
    (config,) = seen
    assert (config.batch_size, config.cache, config.strict, config.seed) == (4, False, True, 7)


def test_a_search_refuses_the_multi_worker_strategy():
    with pytest.raises(ValueError, match="one process"):
        RecalibratedResNetHyperModel(dataclasses.replace(BASE, strategy="multi_worker"))
