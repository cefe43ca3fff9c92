"""The training configuration: one flat dataclass, loadable from a TOML recipe.

Precedence, lowest first: the dataclass defaults, the recipe file (and the recipes it
``extends``), then explicit overrides (command-line flags). The defaults are the paper's
ImageNet recipe (docs/design.md §9); ``models/*.toml`` holds the named recipes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srm_keras import storage

logger = logging.getLogger(__name__)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SCHEDULES = ("step", "cosine", "constant")
#: The precisions that train fast; float64 is for numerical reference runs (docs/numerics.md).
FAST_PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
PRECISIONS = (*FAST_PRECISIONS, "float64")
STRATEGIES = ("default", "mirrored", "multi_worker")
JIT_COMPILE = ("auto", "true", "false")
PROGRESS = ("auto", "0", "1", "2")


def _field(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field whose help text also documents the matching command-line flag."""
    if isinstance(default, (list, dict)):
        return field(
            default_factory=lambda: type(default)(default), metadata={"help": help, **metadata}
        )
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class TrainConfig:
    """Every setting of a training run. Field names are the recipe keys and the flag names."""

    # What to train, on what.
    model: str = _field("srm_resnet50", "model name, as listed by `srm-keras models`")
    recalibration: str | None = _field(
        None,
        "recalibration module replacing the one in the model's name: any registered key "
        "(srm, se, ge, ge_minus, ge_plus, ge_extent8, mssar, ...) or none",
    )
    model_kwargs: dict = _field(
        {}, 'srm_keras.create_model keywords: JSON on the command line, e.g. {"shortcut": "B"}'
    )
    dataset: str = _field(
        "imagenet2012", "tfds name, image folder path, or 'digits' (embedded, offline)"
    )
    data_dir: str | None = _field(None, "tensorflow-datasets data directory")
    download: bool = _field(
        False, "download a tensorflow-datasets dataset that data_dir lacks (else refuse offline)"
    )
    image_size: int | None = _field(
        None,
        "square input size in pixels (default: the model's, 32 for the CIFAR networks and 224 "
        "for the ImageNet ones)",
    )
    augment: str = _field("auto", "augmentation: imagenet, cifar, none or auto (by image size)")
    validation_split: float = _field(0.2, "held-out fraction when the dataset has no split")
    cache: bool | None = _field(None, "cache decoded images in memory (default: small data)")
    strict: bool = _field(False, "stop before training when any image cannot be decoded")
    output: str | None = _field(None, "output folder of the run (default: runs/MODEL)")

    # Length of the run.
    epochs: int = _field(90, "number of epochs")
    batch_size: int = _field(256, "global batch size (split across replicas)")
    steps_per_epoch: int | None = _field(None, "cap on training steps per epoch (quick runs)")

    # Optimiser and schedule (docs/design.md §9).
    learning_rate: float = _field(
        0.1, "learning rate at learning_rate_batch_size", flags=("--lr", "--learning-rate")
    )
    learning_rate_batch_size: int = _field(
        256,
        "batch size the learning rate is given for; it scales linearly to batch_size",
        flags=("--lr-batch-size", "--learning-rate-batch-size"),
    )
    momentum: float = _field(0.9, "SGD momentum (heavy ball, not Nesterov)")
    schedule: str = _field("step", "learning-rate schedule", choices=SCHEDULES)
    decay_epochs: list[float] = _field(
        [30.0, 60.0], "step schedule: epochs (0-based, may be fractional) where lr drops"
    )
    decay_factor: float = _field(0.1, "step schedule: lr multiplier at each decay epoch")
    warmup_epochs: float = _field(0.0, "linear warm-up length in epochs (0: none)")
    weight_decay: float = _field(
        1e-4, "coupled L2 weight decay wd; the loss gains wd/2*||w||^2 on non-SRM weights"
    )
    label_smoothing: float = _field(0.0, "label smoothing of the cross-entropy (0: none)")

    # Execution.
    precision: str = _field("float32", "numeric precision policy", choices=PRECISIONS)
    jit_compile: str = _field(
        "auto", "XLA compilation (auto: on with an accelerator)", choices=JIT_COMPILE
    )
    strategy: str = _field(
        "default",
        "tf.distribute strategy (multi_worker: one worker of a TF_CONFIG cluster, see "
        "srm_keras.distributed)",
        choices=STRATEGIES,
    )
    seed: int | None = _field(None, "random seed (weights, augmentation, shuffling)")
    deterministic: bool | None = _field(
        None, "deterministic ops and input order (default: on when a seed is given)"
    )
    resume: bool = _field(True, "resume from the output folder's backup when there is one")
    overwrite: bool = _field(False, "allow training into a folder that holds a finished run")
    tensorboard: bool = _field(True, "write TensorBoard logs under OUTPUT/tensorboard")
    progress: str = _field(
        "auto",
        "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch, auto (the bar "
        "on a terminal, else one line per epoch)",
        choices=PROGRESS,
    )

    def __post_init__(self) -> None:
        self.decay_epochs = [float(e) for e in self.decay_epochs]
        # Folders are recorded as absolute paths, so that the run can be evaluated, exported
        # and resumed from any working directory.
        if self.dataset != "digits" and Path(self.dataset).expanduser().is_dir():
            self.dataset = str(Path(self.dataset).expanduser().resolve())
        if self.data_dir is not None:
            self.data_dir = str(Path(self.data_dir).expanduser().resolve())
        if self.recalibration is not None:  # recorded in the model's name
            self.model, self.recalibration = _with_module(self.model, self.recalibration), None
        if self.output is None:
            self.output = f"runs/{self.model}"
        if self.image_size is None:
            self.image_size = _default_image_size(self.model)
        self.jit_compile = str(self.jit_compile).lower()
        self.progress = str(self.progress)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting and how to fix it."""
        for name, choices in (
            ("schedule", SCHEDULES),
            ("precision", PRECISIONS),
            ("strategy", STRATEGIES),
            ("jit_compile", JIT_COMPILE),
            ("progress", PROGRESS),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not supported; use one of {list(choices)}."
                )
        for name in ("epochs", "batch_size", "image_size", "learning_rate_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}.")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}.")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise ValueError(
                f"warmup_epochs={self.warmup_epochs} must lie in [0, epochs={self.epochs}]."
            )
        if sorted(self.decay_epochs) != self.decay_epochs or any(e <= 0 for e in self.decay_epochs):
            raise ValueError(
                f"decay_epochs={self.decay_epochs} must be positive and increasing, e.g. [30, 60]."
            )
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be positive, got {self.steps_per_epoch}.")

    @property
    def scaled_learning_rate(self) -> float:
        """The peak learning rate after linear scaling with the batch size (Goyal et al. 2017)."""
        return self.learning_rate * self.batch_size / self.learning_rate_batch_size

    @property
    def is_deterministic(self) -> bool:
        return self.seed is not None if self.deterministic is None else bool(self.deterministic)

    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with the given fields changed (None values are ignored)."""
        return dataclasses.replace(self, **_checked(overrides))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``config.toml`` and ``config.json`` (the resolved settings) into ``directory``."""
        from srm_keras.training.run_folder import CONFIG_JSON, CONFIG_TOML

        directory = Path(directory)
        storage.write_text(directory / CONFIG_JSON, json.dumps(self.to_dict(), indent=2) + "\n")
        storage.write_text(directory / CONFIG_TOML, to_toml(self.to_dict()))

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """Load a TOML (or JSON) recipe, then apply the non-None ``overrides``."""
        return cls(**{**read_recipe(path), **_checked(overrides)})


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(field_names()))
    if unknown:
        raise ValueError(f"unknown training settings {unknown}; valid ones are {field_names()}.")
    return {k: v for k, v in values.items() if v is not None}


def read_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """The settings of a recipe file, following ``extends = "other.toml"`` (relative path)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"recipe {str(path)!r} does not exist; see the models/ folder for recipes."
        )
    if path.suffix == ".json":
        values = json.loads(path.read_text())
    elif path.suffix == ".toml":
        with path.open("rb") as f:
            try:
                values = tomllib.load(f)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"recipe {str(path)!r} is not valid TOML: {error}") from error
    else:
        raise ValueError(f"recipe {str(path)!r} must be a .toml or .json file.")
    values.pop("description", None)
    parent = values.pop("extends", None)
    base = read_recipe(path.parent / parent) if parent else {}
    try:
        return {**base, **_checked(values)}
    except ValueError as error:
        raise ValueError(f"recipe {str(path)!r}: {error}") from None


def to_toml(values: dict[str, Any]) -> str:
    """Serialise a settings dictionary as TOML, one key a line (None values are left out)."""
    return "".join(f"{key} = {_toml_value(v)}\n" for key, v in values.items() if v is not None)


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON scalars (strings, numbers, true/false) are valid TOML.
    return json.dumps(value)


def _default_image_size(model: str) -> int:
    """The input size ``model`` is designed for (224 for a name outside the zoo, which is
    refused when the model is built)."""
    from srm_keras.models.names import default_image_size

    try:
        size = default_image_size(model)
    except ValueError:
        return 224
    logger.info(
        "image size %d: the input size %s is designed for (--image-size to change)", size, model
    )
    return size


def _with_module(model: str, module: str) -> str:
    """``model`` with its module replaced: ``("resnet56", "ge_plus")`` -> ``"ge_plus_resnet56"``;
    ``"none"`` gives the plain network."""
    from srm_keras.models.names import model_name, split_name

    family, key, _ = split_name(model)
    return model_name(family, key, None if module in ("none", "") else module.lower())
