"""tensorflow-datasets sources, offline: the embedded digits, small builders defined here, and the
refusal of a dataset that is not prepared."""

import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from srm_keras.data import load_datasets
from srm_keras.data.digits import Digits, split_indices
from tests.data.conftest import SHAPES_CLASSES


def labels_of(dataset):
    return np.concatenate([labels.numpy() for _, labels in dataset])


def test_digits_split_is_fixed_and_stratified():
    splits = split_indices()
    assert (len(splits["train"]), len(splits["test"])) == (1437, 360)
    assert not set(splits["train"]) & set(splits["test"])
    np.testing.assert_array_equal(split_indices()["test"], splits["test"])


def test_digits_prepare_offline(tmp_path, no_network):
    builder = Digits(data_dir=str(tmp_path))
    builder.download_and_prepare()
    assert builder.info.splits["train"].num_examples == 1437
    image, label = next(iter(builder.as_dataset("test", as_supervised=True)))
    assert image.shape == (8, 8, 1) and image.dtype == "uint8" and 0 <= int(label) < 10


def test_digits_load_reuses_the_prepared_data(digits_dir, monkeypatch, no_network):
    def regenerate(*args, **kwargs):
        raise AssertionError("the prepared digits were generated again")

    monkeypatch.setattr(Digits, "_generate_examples", regenerate)
    bundle = load_datasets("digits", image_size=32, batch_size=64, data_dir=digits_dir)
    assert bundle.class_names == [str(d) for d in range(10)] and bundle.num_classes == 10
    assert (bundle.train_size, bundle.validation_size) == (1437, 360)
    counts = np.bincount(labels_of(bundle.validation), minlength=10)
    assert counts.sum() == 360 and counts.min() >= 35  # stratified: 36 +- 1 per class


def test_digits_pixels_span_0_255(digits_dir):
    bundle = load_datasets(
        "digits", image_size=8, batch_size=360, data_dir=digits_dir, normalize=False
    )
    images, _ = next(iter(bundle.validation))
    assert float(images.numpy().min()) == 0.0 and float(images.numpy().max()) == 255.0
    assert np.array_equal(images[..., 0], images[..., 2])  # grey replicated to RGB


@pytest.fixture
def shapes_dir(tmp_path, no_network):
    from tests.data.conftest import SrmTestShapes, SrmTestTrainOnly

    SrmTestShapes(data_dir=str(tmp_path)).download_and_prepare()
    SrmTestTrainOnly(data_dir=str(tmp_path)).download_and_prepare()
    return tmp_path


def test_tfds_name_reads_a_prepared_dataset_offline(shapes_dir):
    bundle = load_datasets("srm_test_shapes", image_size=12, batch_size=5, data_dir=shapes_dir)
    assert bundle.class_names == list(SHAPES_CLASSES)
    assert (bundle.train_size, bundle.validation_size) == (30, 9)
    images, labels = next(iter(bundle.train))
    assert images.shape == (5, 12, 12, 3) and labels.dtype == "int32"
    assert sorted(labels_of(bundle.validation)) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_tfds_split_names(shapes_dir):
    bundle = load_datasets(
        "srm_test_shapes",
        image_size=12,
        batch_size=4,
        data_dir=shapes_dir,
        train_split="train[:12]",
        validation_split_name="train[12:15]",
    )
    assert (bundle.train_size, bundle.validation_size) == (12, 3)
    with pytest.raises(ValueError, match="no split 'dev'; available splits: train, validation"):
        load_datasets(
            "srm_test_shapes",
            image_size=12,
            batch_size=4,
            data_dir=shapes_dir,
            validation_split_name="dev",
        )


def test_tfds_without_validation_split_holds_out_a_seeded_part(shapes_dir):
    def split(seed):
        bundle = load_datasets(
            "srm_test_train_only",
            image_size=12,
            batch_size=40,
            data_dir=shapes_dir,
            validation_split=0.25,
            seed=seed,
            augment="none",
            normalize=False,
        )
        assert (bundle.train_size, bundle.validation_size) == (30, 10)
        train = np.concatenate([images.numpy() for images, _ in bundle.train])
        validation = np.concatenate([images.numpy() for images, _ in bundle.validation])
        assert train.shape[0] == 30 and validation.shape[0] == 10
        # stratified: round(0.25 * n) of the 14, 13 and 13 examples of the three classes
        assert np.bincount(labels_of(bundle.validation)).tolist() == [4, 3, 3]
        return {image.tobytes() for image in train}, {image.tobytes() for image in validation}

    train, validation = split(0)
    assert len(train | validation) == 40 and not train & validation  # examples are distinct
    assert split(0)[1] == validation and split(1)[1] != validation


@pytest.fixture
def no_download(monkeypatch):
    """Preparing any tensorflow-datasets dataset fails the test."""

    def download_and_prepare(self, *args, **kwargs):
        raise AssertionError(f"{self.name} was downloaded without download=True")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)


def test_unprepared_dataset_is_refused_at_once_offline(tmp_path, no_network, no_download):
    data_dir = tmp_path / "tfds"
    started = time.perf_counter()
    with pytest.raises(ValueError) as error:
        load_datasets("cifar10", image_size=32, batch_size=2, data_dir=data_dir)
    assert time.perf_counter() - started < 5
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"tensorflow-datasets 'cifar10' is not prepared in {data_dir};")
    command = (
        'python -c "import tensorflow_datasets as tfds; '
        f"tfds.builder('cifar10', data_dir='{data_dir}').download_and_prepare()\""
    )
    assert f"`{command}`" in message and "--download" in message
    assert list(tmp_path.iterdir()) == []  # nothing written: no data_dir, no partial files


def test_the_named_command_prepares_the_dataset(tmp_path, no_network):
    from tests.data.conftest import SrmTestShapes

    with pytest.raises(ValueError, match="not prepared") as error:
        load_datasets("srm_test_shapes", image_size=12, batch_size=5, data_dir=tmp_path)
    code = str(error.value).split('`python -c "', 1)[1].split('"`', 1)[0]
    assert SrmTestShapes.name == "srm_test_shapes"  # registered in this process, as in a shell
    exec(code, {})
    bundle = load_datasets("srm_test_shapes", image_size=12, batch_size=5, data_dir=tmp_path)
    assert (bundle.train_size, bundle.validation_size) == (30, 9)


def test_download_prepares_an_unprepared_dataset(tmp_path, no_network):
    bundle = load_datasets(
        "srm_test_shapes", image_size=12, batch_size=5, data_dir=tmp_path, download=True
    )
    assert (bundle.train_size, bundle.validation_size) == (30, 9)


def test_download_that_fails_names_the_command(tmp_path, no_network):
    from tests.data.conftest import SrmTestUnreachable

    assert SrmTestUnreachable.name == "srm_test_unreachable"
    with pytest.raises(ValueError, match="preparing it failed") as error:
        load_datasets(
            "srm_test_unreachable", image_size=8, batch_size=2, data_dir=tmp_path, download=True
        )
    message = str(error.value)
    assert "ConnectionError" in message and "\n" not in message
    assert "tfds.builder('srm_test_unreachable'" in message


def test_the_digits_need_no_download_flag(tmp_path, no_network):
    bundle = load_datasets("digits", image_size=8, batch_size=64, data_dir=tmp_path)
    assert bundle.num_classes == 10


def test_the_cli_refuses_an_unprepared_dataset_at_once(tmp_path, capsys, no_network, no_download):
    from srm_keras.cli import main

    data_dir, output = tmp_path / "tfds", tmp_path / "run"
    started = time.perf_counter()
    status = main(
        ["train", "--model", "srm_resnet20", "--dataset", "cifar10", "--image-size", "32"]
        + ["--epochs", "1", "--data-dir", str(data_dir), "--output", str(output)]
    )
    assert time.perf_counter() - started < 5
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and "'cifar10' is not prepared in" in error and "--download" in error
    assert not data_dir.exists()


@pytest.mark.parametrize(
    "name, message",
    [
        ("cifar-10", "unknown dataset 'cifar-10'; did you mean 'cifar10', "),
        ("Cifar_10", "unknown dataset 'Cifar_10'; did you mean 'cifar10', "),
        ("no_such_dataset_anywhere", "unknown dataset 'no_such_dataset_anywhere'; A source is "),
        ("cifar10/no_such_config", "tensorflow-datasets cannot open 'cifar10/no_such_config': "),
    ],
)
def test_unknown_name_gets_one_line_with_close_matches(tmp_path, no_network, name, message):
    started = time.perf_counter()
    with pytest.raises(ValueError) as error:
        load_datasets(name, image_size=8, batch_size=2, data_dir=tmp_path / "tfds")
    assert time.perf_counter() - started < 5
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not (tmp_path / "tfds").exists()
