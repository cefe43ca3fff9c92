"""Image-folder sources: layouts, splits, undecodable files and bad folders."""

import logging

import numpy as np
import pytest

from srm_keras.data import load_datasets
from srm_keras.data.folder import folder_source
from tests.data.conftest import CAT, DOG, write_bad_files, write_class


def records(split):
    """[(path, label)] of a split's records."""
    return [(path.decode(), int(label)) for path, label, _ in split.records.as_numpy_iterator()]


def source(root, **kwargs):
    options = dict(validation_split=0.25, seed=0, strict=False)
    return folder_source(root, **(options | kwargs))


def test_image_tree_loads_skipping_the_undecodable_files(image_tree, caplog):
    with caplog.at_level(logging.WARNING, logger="srm_keras.data.folder"):
        bundle = load_datasets(
            image_tree["root"], image_size=16, batch_size=4, validation_split=0.25
        )
    bad = sorted(str(path) for path in image_tree["bad"].values())
    assert sorted(path for path, _ in bundle.skipped) == bad
    assert all(reason for _, reason in bundle.skipped)
    assert f"skipping {len(bad)} undecodable image files" in caplog.text
    assert all(path in caplog.text for path in bad)
    assert bundle.class_names == ["cat", "dog"] and bundle.num_classes == 2
    assert bundle.train_size + bundle.validation_size == image_tree["cat"] + image_tree["dog"]
    for dataset, size in (
        (bundle.train, bundle.train_size),
        (bundle.validation, bundle.validation_size),
    ):
        seen = 0
        for images, labels in dataset:  # a whole epoch: nothing fails mid-way
            assert images.shape[1:] == (16, 16, 3)
            seen += int(labels.shape[0])
        assert seen == size


def test_strict_mode_raises_listing_the_undecodable_files(image_tree):
    with pytest.raises(ValueError, match="cannot be decoded") as error:
        load_datasets(image_tree["root"], image_size=16, batch_size=4, strict=True)
    for path in image_tree["bad"].values():
        assert str(path) in str(error.value)
    assert "strict=False" in str(error.value)


def test_decoded_classes_have_their_colours(image_tree):
    bundle = load_datasets(
        image_tree["root"], image_size=8, batch_size=64, augment="none", normalize=False
    )
    for images, labels in bundle.train.concatenate(bundle.validation):
        for image, label in zip(images.numpy(), labels.numpy()):
            # the first GIF frame, the CMYK JPEG, ... have their class colour (or its grey)
            colour = np.array((CAT, DOG)[label])
            grey = np.full(3, colour @ [0.299, 0.587, 0.114])
            mean = image.mean(axis=(0, 1))
            assert np.allclose(mean, colour, atol=8) or np.allclose(mean, grey, atol=8), mean


def test_stratified_seeded_split(tmp_path):
    write_class(tmp_path / "b", DOG, 12)
    write_class(tmp_path / "a", CAT, 8)
    data = source(tmp_path)
    validation = records(data.validation)
    assert [label for _, label in validation].count(0) == 2  # round(8 * 0.25)
    assert [label for _, label in validation].count(1) == 3  # round(12 * 0.25)
    assert data.train.size == 15 and data.validation.size == 5
    assert not {p for p, _ in validation} & {p for p, _ in records(data.train)}
    assert all(f"/{'ab'[label]}/" in path for path, label in validation)
    assert records(source(tmp_path).validation) == validation
    assert records(source(tmp_path, seed=1).validation) != validation


def test_presplit_folders(tmp_path):
    for split, count in (("train", 6), ("val", 2)):
        write_class(tmp_path / split / "cat", CAT, count)
        write_class(tmp_path / split / "dog", DOG, count)
    write_class(tmp_path / "test" / "cat", CAT, 3)
    data = source(tmp_path)
    assert data.class_names == ("cat", "dog")
    assert (data.train.size, data.validation.size) == (12, 4)
    assert all("/val/" in path for path, _ in records(data.validation))
    tested = source(tmp_path, validation_split_name="test")
    assert tested.validation.size == 3
    assert {label for _, label in records(tested.validation)} == {0}


def test_train_folder_alone_is_split(tmp_path):
    write_class(tmp_path / "train" / "cat", CAT, 4)
    write_class(tmp_path / "train" / "dog", DOG, 4)
    data = source(tmp_path, validation_split=0.5)
    assert data.class_names == ("cat", "dog") and data.validation.size == 4


def test_missing_and_non_folder_paths(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_datasets(tmp_path / "nowhere", image_size=8, batch_size=2)
    with pytest.raises(ValueError, match="does not exist"):
        load_datasets(str(tmp_path / "nowhere"), image_size=8, batch_size=2)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a folder"):
        load_datasets(tmp_path / "file.png", image_size=8, batch_size=2)


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "no class folders"),
        ({"cat": 3}, "single class folder 'cat'"),
        ({"cat": 3, "dog": 0}, "no image files under .*: dog"),
        ({"cat": 3, "dog": 3, ".": 1}, "holds images directly"),
    ],
)
def test_bad_folders(tmp_path, layout, message):
    for name, count in layout.items():
        folder = tmp_path if name == "." else tmp_path / name
        folder.mkdir(exist_ok=True)
        write_class(folder, CAT, count)
    with pytest.raises(ValueError, match=message):
        source(tmp_path)


def test_a_class_whose_images_are_all_undecodable(tmp_path):
    write_class(tmp_path / "cat", CAT, 3)
    write_bad_files(tmp_path / "dog")
    with pytest.raises(ValueError, match="no decodable images .*: dog"):
        source(tmp_path)


def test_validation_class_unknown_to_training(tmp_path):
    write_class(tmp_path / "train" / "cat", CAT, 3)
    write_class(tmp_path / "train" / "dog", DOG, 3)
    write_class(tmp_path / "val" / "cow", DOG, 3)
    with pytest.raises(ValueError, match="training folder lacks: cow"):
        source(tmp_path)


def test_too_few_images_to_hold_out(tmp_path):
    write_class(tmp_path / "cat", CAT, 1)
    write_class(tmp_path / "dog", DOG, 1)
    with pytest.raises(ValueError, match="holds out none"):
        source(tmp_path)


def test_a_symlink_loop_gives_each_image_once(tmp_path, caplog):
    root = tmp_path / "pets"
    written = write_class(root / "cat", CAT, 10) + write_class(root / "dog", DOG, 10)
    (root / "cat" / "sub").mkdir()
    (root / "cat" / "sub" / "loop").symlink_to("..", target_is_directory=True)
    (root / "dog" / "again").symlink_to(root / "dog", target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="srm_keras.data.folder"):
        data = source(root)
    train, validation = records(data.train), records(data.validation)
    paths = [path for path, _ in train + validation]
    assert sorted(paths) == sorted(str(path) for path in written)  # each once, none via a link
    assert not {path for path, _ in train} & {path for path, _ in validation}
    assert "reached again through symbolic links" in caplog.text


def test_a_class_too_small_to_validate_is_named(tmp_path, caplog):
    root = tmp_path / "pets"
    write_class(root / "cat", CAT, 8)
    write_class(root / "dog", DOG, 1)
    with caplog.at_level(logging.WARNING, logger="srm_keras.data.source"):
        source(root)
    assert "classes [1] have too few examples" in caplog.text
