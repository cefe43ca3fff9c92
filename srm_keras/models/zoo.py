"""Named constructors (``SRMResNet50``, ``ResNet56``, ``SEDenseNet121``, ``DenseNetBC100``, ...),
generated from the spec tables, and the model-name grammar."""

from __future__ import annotations

import difflib
import inspect

import keras

from srm_keras import layers as recalibration_layers
from srm_keras.models.densenet_builder import densenet
from srm_keras.models.names import ENTRIES, FAMILIES, model_names, split_name
from srm_keras.models.resnet_builder import resnet
from srm_keras.models.spec import DENSENETS, NAMED_MODULES, RESNETS

BUILDERS = {"resnet": resnet, "densenet": densenet}


def _describe(family: str, key) -> str:
    if family == "resnet":
        spec = RESNETS[key]
        return f"{spec.family} layout, {spec.block} blocks {list(spec.blocks)}"
    spec = DENSENETS[key]
    kinds = "bottleneck" if spec.bottleneck else "basic"
    return (
        f"{spec.family} layout, {kinds} dense layers {list(spec.blocks)}, growth rate "
        f"{spec.growth_rate}, compression {spec.compression}"
    )


def _make_constructor(family: str, key, module: str | None):
    zoo_family, builder = FAMILIES[family], BUILDERS[family]

    def constructor(
        include_top: bool = True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=None,
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ) -> keras.Model:
        return builder(
            key,
            module,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            name=name,
            **kwargs,
        )

    prefix = NAMED_MODULES[module]
    label = f"{prefix}-{zoo_family.label(key)}" if module else zoo_family.label(key)
    options = "stride_on, shortcut, " if family == "resnet" else ""
    constructor.__name__ = constructor.__qualname__ = f"{prefix}{zoo_family.class_stem(key)}"
    constructor.__doc__ = (
        f"Build {label} ({_describe(family, key)}).\n\n"
        "Takes keras.applications-style arguments (include_top, weights, input_tensor,\n"
        "input_shape, pooling, classes, classifier_activation, name) and any keyword of\n"
        f"srm_keras.{builder.__name__} ({options}recalibration_kwargs)."
    )
    return constructor


CONSTRUCTORS = {
    constructor.__name__: constructor
    for constructor in (_make_constructor(*entry) for entry in ENTRIES)
}


def list_models() -> list[str]:
    """Names of the zoo's models, e.g. ``["densenet121", ..., "srm_resnet50", ...]``."""
    return model_names()


def parse_model_name(name: str) -> tuple[str, object, str | None]:
    """``"srm_densenet_bc100"`` -> ``("densenet", "bc100", "srm")``: family, table key, module.

    Raises ValueError for a name outside the grammar, an unknown module, or a depth that the
    family's table does not have (the table's error, listing its keys).
    """
    family, key, module = split_name(name)
    if module is not None and module not in recalibration_layers.names():
        raise ValueError(
            f"Unknown module {module!r} in model name {name!r}. Modules: "
            f"{', '.join(recalibration_layers.names())}."
        )
    return family, key, module


def create_model(name: str, **kwargs) -> keras.Model:
    """Build a model by name: ``"srm_resnet50"``, ``"resnet20"``, ``"ge_plus_resnet56"``,
    ``"se_densenet121"``, ``"srm_densenet_bc100"``, ...

    The name is ``[<module>_]resnet<depth>``, ``[<module>_]densenet<depth>`` or
    ``[<module>_]densenet_bc<depth>`` for any registered module (see
    ``srm_keras.layers.names()``); ``kwargs`` go to :func:`srm_keras.resnet` or
    :func:`srm_keras.densenet`.
    """
    family, key, module = parse_model_name(name)
    builder = BUILDERS[family]
    accepted = list(inspect.signature(builder).parameters)[2:]  # after the variant and module
    if "recalibration" in kwargs:
        raise ValueError(
            f"the module of {name!r} is part of its name: ask for '<module>_{name}' (any of "
            f"{', '.join(recalibration_layers.names())}), or pass recalibration (--recalibration) "
            "to the training config; recalibration_kwargs configures it."
        )
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        close = {u: difflib.get_close_matches(u, accepted, n=1) for u in unknown}
        hints = "; ".join(
            f"{u!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for u, c in close.items()
        )
        raise ValueError(
            f"unknown keyword {hints} for {name}; srm_keras.{builder.__name__} takes "
            f"{', '.join(accepted)}."
        )
    return builder(key, module, **kwargs)
