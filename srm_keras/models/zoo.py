"""Named constructors (``SRMResNet50``, ``ResNet56``, ...), generated from the spec table."""

from __future__ import annotations

import re

import keras

from srm_keras import layers as recalibration_layers
from srm_keras.models.resnet import resnet
from srm_keras.models.spec import NAMED_MODULES, RESNETS

_NAME = re.compile(r"^(?:(?P<module>[a-z0-9_]+?)_)?resnet(?P<depth>\d+)$")


def _model_name(depth: int, module: str | None) -> str:
    return f"{module}_resnet{depth}" if module else f"resnet{depth}"


def _make_constructor(depth: int, module: str | None):
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
        return resnet(
            depth,
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

    spec = RESNETS[depth]
    label = f"{NAMED_MODULES[module]}-ResNet-{depth}" if module else f"ResNet-{depth}"
    constructor.__name__ = constructor.__qualname__ = f"{NAMED_MODULES[module]}ResNet{depth}"
    constructor.__doc__ = (
        f"Build {label} ({spec.family} layout, {spec.block} blocks {list(spec.blocks)}).\n\n"
        "Takes keras.applications-style arguments (include_top, weights, input_tensor,\n"
        "input_shape, pooling, classes, classifier_activation, name) and any keyword of\n"
        "srm_keras.resnet (stride_on, shortcut, recalibration_kwargs)."
    )
    return constructor


CONSTRUCTORS = {
    _make_constructor(depth, module).__name__: _make_constructor(depth, module)
    for module in NAMED_MODULES
    for depth in RESNETS
}
_BY_MODEL_NAME = {
    _model_name(depth, module): (depth, module) for module in NAMED_MODULES for depth in RESNETS
}


def list_models() -> list[str]:
    """Names of the zoo's models, e.g. ``["ge_resnet101", ..., "srm_resnet50", ...]``."""
    return sorted(_BY_MODEL_NAME)


def create_model(name: str, **kwargs) -> keras.Model:
    """Build a model by name: ``"srm_resnet50"``, ``"resnet20"``, ``"ge_plus_resnet56"``, ...

    The name is ``[<module>_]resnet<depth>`` for any registered module (see
    ``srm_keras.layers.names()``); ``kwargs`` go to :func:`srm_keras.resnet`.
    """
    match = _NAME.match(name.lower()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"Unknown model name {name!r}: expected '[<module>_]resnet<depth>', e.g. "
            f"'srm_resnet50'. Available: {', '.join(list_models())}."
        )
    module = match.group("module")
    if module is not None and module not in recalibration_layers.names():
        raise ValueError(
            f"Unknown module {module!r} in model name {name!r}. Modules: "
            f"{', '.join(recalibration_layers.names())}."
        )
    return resnet(int(match.group("depth")), module, **kwargs)
