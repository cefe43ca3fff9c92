"""tensorflow-datasets sources: a registered dataset name, or the embedded digits builder.

Datasets live in ``data_dir`` (default: tensorflow-datasets' own, ``$TFDS_DATA_DIR`` or
``~/tensorflow_datasets``). One that is prepared there is read without network access. One that
is not is refused at once, with the command that prepares it, unless ``download=True`` lets
``download_and_prepare`` fetch it (the digits are always prepared: they need no download).
Nothing touches the network or writes to ``data_dir`` before that check.

Splits: ``train_split`` (default "train") trains; ``validation_split_name`` validates (default
"validation", else "test"). A dataset with neither holds out ``validation_split`` of every
class of the training split (seeded; this reads the split's labels once). Split names accept
tfds slicing ("train[:10%]").
"""

from __future__ import annotations

import difflib
import logging
import os
import re

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from srm_keras.data.source import SourceData, Split, stratified_holdout

logger = logging.getLogger(__name__)

VALIDATION_NAMES = ("validation", "test")
# Encoded images take roughly a tenth of their decoded size; used when shapes vary.
DECODED_PER_ENCODED_BYTE = 10


def digits_builder(data_dir: str | os.PathLike | None) -> tfds.core.DatasetBuilder:
    """The embedded digits builder (see :mod:`srm_keras.data.digits`)."""
    from srm_keras.data.digits import Digits

    return Digits(data_dir=_as_str(data_dir))


def named_builder(name: str, data_dir: str | os.PathLike | None) -> tfds.core.DatasetBuilder:
    """The builder of a registered tensorflow-datasets ``name`` ("cifar10", "mnist/3.0.1").

    Only reads ``data_dir``. An unknown name raises ValueError suggesting close matches.
    """
    try:
        return tfds.builder(name, data_dir=_as_str(data_dir))
    # DatasetNotFoundError is a ValueError, and so is a name tfds cannot parse ("cifar-10");
    # a version the code does not provide is an AssertionError.
    except (ValueError, AssertionError) as error:
        known = tfds.list_builders(with_community_datasets=False)  # local: no network
        dataset = re.split(r"[/:]", name, maxsplit=1)[0]
        if dataset.lower() in known:  # a known dataset with a bad config or version
            message = f"tensorflow-datasets cannot open {name!r}: {_first_line(error)}"
            raise ValueError(message) from error
        raise ValueError(unknown_dataset_message(name, known)) from None


def unknown_dataset_message(name: str, known: list[str]) -> str:
    """One line naming ``name`` as unknown, with the closest of the ``known`` names."""
    matches = difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.6)
    quoted = [repr(match) for match in matches]
    if len(quoted) > 1:
        quoted[-2:] = [f"{quoted[-2]} or {quoted[-1]}"]
    hint = f"did you mean {', '.join(quoted)}? " if quoted else ""
    return (
        f"unknown dataset {name!r}; {hint}A source is an existing image folder, 'digits', or a "
        "name from tensorflow_datasets.list_builders()."
    )


def prepare_command(builder: tfds.core.DatasetBuilder) -> str:
    """A shell command that downloads and prepares ``builder``'s dataset into its data_dir."""
    code = (
        "import tensorflow_datasets as tfds; "
        f"tfds.builder({_full_name(builder)!r}, data_dir={os.fspath(builder.data_dir_root)!r})"
        ".download_and_prepare()"
    )
    return f'python -c "{code}"'


def ensure_prepared(builder: tfds.core.DatasetBuilder, *, download: bool) -> None:
    """Return when ``builder`` is prepared; else prepare it if ``download``, or refuse.

    The check reads ``data_dir`` only, so a dataset that is not there fails at once instead of
    retrying downloads without a network; ``download=True`` opts into the network.
    """
    if builder.is_prepared():
        return
    name = _full_name(builder)
    if not download:
        raise ValueError(
            f"tensorflow-datasets {name!r} is not prepared in {builder.data_dir_root}; prepare "
            f"it with `{prepare_command(builder)}` (on a machine with network access, then copy "
            "the folder here), or pass download=True (--download) to download it now."
        )
    logger.info("preparing tensorflow-datasets %r in %s", name, builder.data_dir)
    try:
        builder.download_and_prepare()
    except Exception as error:  # downloads fail with many types (requests, OSError, ...)
        raise ValueError(
            f"The tensorflow-datasets dataset {name!r} is not prepared in "
            f"{builder.data_dir_root} and preparing it failed ({type(error).__name__}: "
            f"{_first_line(error)}). On a machine with network access run "
            f"`{prepare_command(builder)}` (datasets that need a manual download also need "
            "download_config=tfds.download.DownloadConfig(manual_dir=...)), copy the folder "
            "here and pass data_dir=DIR."
        ) from error


def tfds_data(
    builder: tfds.core.DatasetBuilder,
    *,
    validation_split: float,
    seed: int,
    train_split: str | None,
    validation_split_name: str | None,
) -> SourceData:
    """The :class:`SourceData` of a prepared supervised image-classification builder."""
    info = builder.info
    image_key, label_key = _supervised_keys(builder)
    label_feature = info.features[label_key]
    if not isinstance(label_feature, tfds.features.ClassLabel):
        raise ValueError(f"{builder.name}: label {label_key!r} is not a ClassLabel feature.")
    image_feature = info.features[image_key]
    if image_feature.tf_dtype != tf.uint8:
        raise ValueError(f"{builder.name}: image {image_key!r} must hold uint8 pixels.")

    train_name = train_split or "train"
    validation_name = validation_split_name or next(
        (name for name in VALIDATION_NAMES if name in info.splits), None
    )
    _check_split(builder, train_name)
    reader = _Reader(builder, seed)
    if validation_name is not None:
        _check_split(builder, validation_name)
        train = reader.split(train_name, training=True)
        validation = reader.split(validation_name, training=False)
    else:
        logger.info(
            "%s has no validation split: holding out %.0f%% of %r (seed %d)",
            builder.name,
            100 * validation_split,
            train_name,
            seed,
        )
        train, validation = reader.held_out(train_name, validation_split, seed)
    return SourceData(
        train=train,
        validation=validation,
        decode=reader.decode,
        class_names=tuple(label_feature.names),
    )


class _Reader:
    """Reads splits of one builder as ``(image, int32 label)`` records."""

    def __init__(self, builder: tfds.core.DatasetBuilder, seed: int):
        self.builder = builder
        self.seed = seed
        self.image_key, self.label_key = _supervised_keys(builder)
        image_feature = builder.info.features[self.image_key]
        # Encoded images are shuffled and cached as bytes, decoded by ``decode``.
        encoded = isinstance(image_feature, tfds.features.Image)
        self.decoders = {self.image_key: tfds.decode.SkipDecoding()} if encoded else None
        height, width = image_feature.shape[0], image_feature.shape[1]
        self.pixels = height * width if height and width else None

    def examples(self, name: str, shuffle_files: bool, with_ids: bool = False) -> tf.data.Dataset:
        """Example dicts of split ``name``; ``with_ids`` adds each one's stable "tfds_id"."""
        read_config = tfds.ReadConfig(
            try_autocache=False,  # the pipeline decides what to cache
            add_tfds_id=with_ids,
            shuffle_seed=self.seed,
            shuffle_reshuffle_each_iteration=True,
        )
        return self.builder.as_dataset(
            name, shuffle_files=shuffle_files, decoders=self.decoders, read_config=read_config
        )

    def decode(self, example: dict) -> tuple[tf.Tensor, tf.Tensor]:
        """An example dict to ``(uint8 RGB image (H, W, 3), int32 label)``."""
        image = example[self.image_key]
        if self.decoders:  # encoded bytes
            image = tf.io.decode_image(image, channels=3, dtype=tf.uint8, expand_animations=False)
        else:  # already (H, W, C): replicate grey, drop alpha
            image = tf.cond(
                tf.shape(image)[-1] < 3,
                lambda: tf.repeat(image[..., :1], 3, axis=-1),
                lambda: image[..., :3],
            )
        image = tf.ensure_shape(image, [None, None, 3])
        return image, tf.cast(example[self.label_key], tf.int32)

    def split(self, name: str, training: bool) -> Split:
        info = self.builder.info.splits[name]
        records = self.examples(name, shuffle_files=training)
        return Split(records, info.num_examples, self._bytes(info.num_examples, info))

    def held_out(self, name: str, fraction: float, seed: int) -> tuple[Split, Split]:
        """Disjoint (train, validation) parts of split ``name``, stratified and seeded.

        Membership is keyed by the examples' "tfds_id", so it holds whatever the read order.
        """
        ids, labels = self._ids_and_labels(name)
        held = stratified_holdout(labels, fraction, seed)
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(ids[held], np.ones(held.sum(), np.int64)),
            default_value=0,
        )
        info = self.builder.info.splits[name]

        def part(validation: bool, size: int) -> Split:
            wanted = int(validation)
            records = (
                self.examples(name, shuffle_files=not validation, with_ids=True)
                .filter(lambda example: tf.equal(table.lookup(example["tfds_id"]), wanted))
                .apply(tf.data.experimental.assert_cardinality(size))
            )
            return Split(records, size, self._bytes(size, info))

        return part(False, int((~held).sum())), part(True, int(held.sum()))

    def _ids_and_labels(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Every example's id and label, sorted by id (a canonical, seed-free order)."""
        ids, labels = [], []
        batches = self.examples(name, shuffle_files=False, with_ids=True).map(
            lambda example: (example["tfds_id"], example[self.label_key])
        )
        for batch_ids, batch_labels in batches.batch(4096).as_numpy_iterator():
            ids.append(batch_ids)
            labels.append(batch_labels)
        ids, labels = np.concatenate(ids), np.concatenate(labels)
        order = np.argsort(ids)
        return ids[order], labels[order]

    def _bytes(self, count: int, info) -> int | None:
        if self.pixels is not None:
            return count * self.pixels * 3
        if info.num_bytes and info.num_examples:
            return round(info.num_bytes * count / info.num_examples * DECODED_PER_ENCODED_BYTE)
        return None


def _supervised_keys(builder: tfds.core.DatasetBuilder) -> tuple[str, str]:
    keys = builder.info.supervised_keys
    if not keys or len(keys) != 2 or not all(isinstance(key, str) for key in keys):
        raise ValueError(
            f"{builder.name} declares no (image, label) supervised keys; only image "
            "classification datasets are supported."
        )
    return keys[0], keys[1]


def _check_split(builder: tfds.core.DatasetBuilder, name: str) -> None:
    try:
        builder.info.splits[name]
    except (KeyError, ValueError) as error:
        available = ", ".join(sorted(builder.info.splits))
        raise ValueError(
            f"{builder.name} has no split {name!r}; available splits: {available}."
        ) from error


def _full_name(builder: tfds.core.DatasetBuilder) -> str:
    config = builder.builder_config
    return f"{builder.name}/{config.name}" if config is not None else builder.name


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _as_str(path: str | os.PathLike | None) -> str | None:
    return None if path is None else os.fspath(os.path.expanduser(path))
