"""A keras-tuner HyperModel over recalibrated ResNets and the training recipe."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import keras_tuner

from srm_keras.training import TrainConfig, runtime
from srm_keras.training.recipe import compiled_model, feeds_of, load_data
from srm_keras.tuning.names import MODULES


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """What a search varies. Sequences are choices; pairs of floats are log-uniform ranges.

    Attributes:
        recalibration: module names (``"none"`` for the plain network).
        depths: ResNet depths (see ``srm_keras.models.RESNETS``).
        learning_rate: (low, high), the learning rate at ``TrainConfig.learning_rate_batch_size``.
        weight_decay: (low, high), the coupled L2 weight decay.
        label_smoothing: choices.
        batch_size: choices.
    """

    recalibration: Sequence[str] = MODULES
    depths: Sequence[int] = (20,)
    learning_rate: tuple[float, float] = (0.01, 0.4)
    weight_decay: tuple[float, float] = (1e-5, 1e-3)
    label_smoothing: Sequence[float] = (0.0, 0.1)
    batch_size: Sequence[int] = (32, 64)

    def __post_init__(self):
        from srm_keras.layers import names
        from srm_keras.models import RESNETS

        unknown = [m for m in self.recalibration if m != "none" and m not in names()]
        if unknown or not self.recalibration:
            raise ValueError(
                f"recalibration choices {list(self.recalibration)} are not all known; use "
                f"'none' or any of {names()}."
            )
        bad = [d for d in self.depths if d not in RESNETS]
        if bad or not self.depths:
            raise ValueError(f"depths {bad or '[]'} unsupported; choose from {sorted(RESNETS)}.")
        for name in ("learning_rate", "weight_decay"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} range must satisfy 0 < low <= high; got {(low, high)}.")
        if not self.batch_size or any(b < 1 for b in self.batch_size):
            raise ValueError(f"batch_size choices must be positive; got {self.batch_size}.")


class RecalibratedResNetHyperModel(keras_tuner.HyperModel):
    """Builds, compiles and fits one trial with the library's training recipe
    (:mod:`srm_keras.training.recipe`), as ``srm_keras.training.train`` would.

    Every trial honours the base config's precision, XLA setting (``jit_compile``), seed and
    determinism, caching and strict data checks: a trial is seeded with ``base.seed`` when it
    is built and again when it is fitted, so one trial's result does not depend on the trials
    before it.

    Args:
        base: the recipe every trial starts from (dataset, image size, epochs, schedule, ...);
            the hyper-parameters replace its model, learning rate, weight decay, label smoothing
            and batch size.
        space: the search space.
        data_factory: ``batch_size -> DataBundle``; default ``srm_keras.training.recipe.load_data``
            of ``base`` at that batch size. Bundles are cached per batch size.
    """

    def __init__(
        self,
        base: TrainConfig,
        space: SearchSpace | None = None,
        data_factory: Callable | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if base.strategy == "multi_worker":
            raise ValueError(
                "a search runs its trials in one process; use strategy 'default' or 'mirrored'."
            )
        self.base = base
        self.space = space or SearchSpace()
        self._data_factory = data_factory or self._load
        self._bundles: dict[int, object] = {}
        self.jit_compile = runtime.resolve_jit_compile(
            base.jit_compile, runtime.make_strategy(base.strategy)
        )

    def _load(self, batch_size: int):
        return load_data(dataclasses.replace(self.base, batch_size=batch_size))

    def data(self, batch_size: int):
        if batch_size not in self._bundles:
            self._bundles[batch_size] = self._data_factory(batch_size)
        return self._bundles[batch_size]

    def trial_config(self, hp: keras_tuner.HyperParameters) -> TrainConfig:
        """The recipe of one trial: the base config with the trial's hyper-parameters."""
        space = self.space
        module = hp.Choice("recalibration", list(space.recalibration))
        depth = hp.Choice("depth", list(space.depths))
        model = f"resnet{depth}" if module == "none" else f"{module}_resnet{depth}"
        return dataclasses.replace(
            self.base,
            model=model,
            learning_rate=hp.Float("learning_rate", *space.learning_rate, sampling="log"),
            weight_decay=hp.Float("weight_decay", *space.weight_decay, sampling="log"),
            label_smoothing=hp.Choice("label_smoothing", list(space.label_smoothing)),
            batch_size=hp.Choice("batch_size", list(space.batch_size)),
            learning_rate_batch_size=self.base.learning_rate_batch_size,
        )

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        config = self.trial_config(hp)
        data = self.data(config.batch_size)
        steps = feeds_of(config, data).steps
        with runtime.seeded(config.seed, deterministic=False):
            return compiled_model(config, data.num_classes, steps, self.jit_compile)

    def fit(self, hp, model, *args, **kwargs):
        config = self.trial_config(hp)
        feeds = feeds_of(config, self.data(config.batch_size))
        kwargs.setdefault("epochs", config.epochs)
        kwargs.setdefault("verbose", 0)
        with runtime.seeded(config.seed, config.is_deterministic):
            return model.fit(
                feeds.train,
                steps_per_epoch=feeds.steps,
                validation_data=feeds.validation_repeated,
                validation_steps=feeds.validation_steps,
                shuffle=False,  # the tf.data pipeline shuffles
                **kwargs,
            )
