"""Named constructors (``SRMResNet50``, ``ResNet56``, ``SEDenseNet121``, ``DenseNetBC100``, ...),
generated from the spec tables, and the model-name grammar."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import keras

from srm_keras import layers as recalibration_layers
from srm_keras.models.densenet import DENSENETS, densenet, model_stem, variant_key
from srm_keras.models.resnet import resnet
from srm_keras.models.spec import NAMED_MODULES, RESNETS, get_spec

# The model-name grammar: [<module>_]resnet<depth>, [<module>_]densenet<depth> and
# [<module>_]densenet_bc<depth>. The module part is lazy, so "ge_plus_resnet20" is ge_plus.
_MODULE = r"^(?:(?P<module>[a-z0-9_]+?)_)?"
_GRAMMAR = (
    "'[<module>_]resnet<depth>', '[<module>_]densenet<depth>' or '[<module>_]densenet_bc<depth>'"
)


def _model_name(stem: str, module: str | None) -> str:
    return f"{module}_{stem}" if module else stem


def _resnet_depth(text: str) -> int:
    """``"50"`` -> 50, or the table's ValueError listing the depths."""
    get_spec(int(text))
    return int(text)


@dataclass(frozen=True)
class _Family:
    """How one family of the zoo is built and named, from its table keys."""

    builder: Callable[..., keras.Model]
    keys: list
    pattern: re.Pattern  # a model name; its "variant" group is what follows the family name
    key_of: Callable[[str], object]  # that variant text -> the builder's table key
    model_stem: Callable[[object], str]  # 50 -> "resnet50"; "bc100" -> "densenet_bc100"
    class_stem: Callable[[object], str]  # 50 -> "ResNet50"; "bc100" -> "DenseNetBC100"
    label: Callable[[object], str]  # 50 -> "ResNet-50"; "bc100" -> "DenseNet-BC (L=100, k=12)"


_FAMILIES = {
    "resnet": _Family(
        resnet,
        list(RESNETS),
        re.compile(_MODULE + r"resnet(?P<variant>\d+)$"),
        _resnet_depth,
        lambda depth: f"resnet{depth}",
        lambda depth: f"ResNet{depth}",
        lambda depth: f"ResNet-{depth}",
    ),
    "densenet": _Family(
        densenet,
        list(DENSENETS),
        re.compile(_MODULE + r"densenet(?P<variant>\d+|_bc\d+)$"),
        variant_key,
        model_stem,
        lambda key: f"DenseNet{key.upper()}",
        lambda key: DENSENETS[key].label,
    ),
}


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
    zoo_family = _FAMILIES[family]

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
        return zoo_family.builder(
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
        f"srm_keras.{zoo_family.builder.__name__} ({options}recalibration_kwargs)."
    )
    return constructor


_ENTRIES = [
    (family, key, module)
    for family, zoo_family in _FAMILIES.items()
    for module in NAMED_MODULES
    for key in zoo_family.keys
]
CONSTRUCTORS = {
    constructor.__name__: constructor
    for constructor in (_make_constructor(*entry) for entry in _ENTRIES)
}
_BY_MODEL_NAME = {
    _model_name(_FAMILIES[family].model_stem(key), module): (family, key, module)
    for family, key, module in _ENTRIES
}


def list_models() -> list[str]:
    """Names of the zoo's models, e.g. ``["densenet121", ..., "srm_resnet50", ...]``."""
    return sorted(_BY_MODEL_NAME)


def parse_model_name(name: str) -> tuple[str, object, str | None]:
    """``"srm_densenet_bc100"`` -> ``("densenet", "bc100", "srm")``: family, table key, module.

    Raises ValueError for a name outside the grammar, an unknown module, or a depth that the
    family's table does not have (the table's error, listing its keys).
    """
    lowered = name.lower() if isinstance(name, str) else ""
    for family, zoo_family in _FAMILIES.items():
        match = zoo_family.pattern.match(lowered)
        if match is None:
            continue
        module = match.group("module")
        if module is not None and module not in recalibration_layers.names():
            raise ValueError(
                f"Unknown module {module!r} in model name {name!r}. Modules: "
                f"{', '.join(recalibration_layers.names())}."
            )
        return family, zoo_family.key_of(match.group("variant")), module
    raise ValueError(
        f"Unknown model name {name!r}: expected {_GRAMMAR}, e.g. 'srm_resnet50' or "
        f"'se_densenet121'. Available: {', '.join(list_models())}."
    )


def create_model(name: str, **kwargs) -> keras.Model:
    """Build a model by name: ``"srm_resnet50"``, ``"resnet20"``, ``"ge_plus_resnet56"``,
    ``"se_densenet121"``, ``"srm_densenet_bc100"``, ...

    The name is ``[<module>_]resnet<depth>``, ``[<module>_]densenet<depth>`` or
    ``[<module>_]densenet_bc<depth>`` for any registered module (see
    ``srm_keras.layers.names()``); ``kwargs`` go to :func:`srm_keras.resnet` or
    :func:`srm_keras.densenet`.
    """
    family, key, module = parse_model_name(name)
    return _FAMILIES[family].builder(key, module, **kwargs)
