"""The zoo's model names, from the spec tables alone (no Keras: ``srm-keras models --names``
answers at once).

The grammar: ``[<module>_]resnet<depth>``, ``[<module>_]densenet<depth>`` and
``[<module>_]densenet_bc<depth>``. The module part is lazy, so ``"ge_plus_resnet20"`` is
``ge_plus``; whether a module is registered is checked where models are built
(:func:`srm_keras.models.parse_model_name`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from srm_keras.models.spec import (
    DENSENETS,
    NAMED_MODULES,
    RESNETS,
    get_spec,
    model_stem,
    variant_key,
)

_MODULE = r"^(?:(?P<module>[a-z0-9_]+?)_)?"
GRAMMAR = (
    "'[<module>_]resnet<depth>', '[<module>_]densenet<depth>' or '[<module>_]densenet_bc<depth>'"
)


def _resnet_depth(text: str) -> int:
    """``"50"`` -> 50, or the table's ValueError listing the depths."""
    get_spec(int(text))
    return int(text)


@dataclass(frozen=True)
class Family:
    """How one family of the zoo is named, from its table keys."""

    table: dict
    pattern: re.Pattern  # a model name; its "variant" group is what follows the family name
    key_of: Callable[[str], object]  # that variant text -> the table key
    model_stem: Callable[[object], str]  # 50 -> "resnet50"; "bc100" -> "densenet_bc100"
    class_stem: Callable[[object], str]  # 50 -> "ResNet50"; "bc100" -> "DenseNetBC100"
    label: Callable[[object], str]  # 50 -> "ResNet-50"; "bc100" -> "DenseNet-BC (L=100, k=12)"


FAMILIES = {
    "resnet": Family(
        RESNETS,
        re.compile(_MODULE + r"resnet(?P<variant>\d+)$"),
        _resnet_depth,
        lambda depth: f"resnet{depth}",
        lambda depth: f"ResNet{depth}",
        lambda depth: f"ResNet-{depth}",
    ),
    "densenet": Family(
        DENSENETS,
        re.compile(_MODULE + r"densenet(?P<variant>\d+|_bc\d+)$"),
        variant_key,
        model_stem,
        lambda key: f"DenseNet{key.upper()}",
        lambda key: DENSENETS[key].label,
    ),
}


def model_name(family: str, key, module: str | None) -> str:
    stem = FAMILIES[family].model_stem(key)
    return f"{module}_{stem}" if module else stem


#: (family, table key, module) of every named model: each module of NAMED_MODULES on each
#: table entry (other registered modules build by name too, e.g. ge_plus_resnet56).
ENTRIES = [
    (family, key, module)
    for family, spec in FAMILIES.items()
    for module in NAMED_MODULES
    for key in spec.table
]


def model_names() -> list[str]:
    """Names of the zoo's models, e.g. ``["densenet121", ..., "srm_resnet50", ...]``."""
    return sorted(model_name(*entry) for entry in ENTRIES)


def split_name(name: str) -> tuple[str, object, str | None]:
    """``"srm_densenet_bc100"`` -> ``("densenet", "bc100", "srm")``: family, table key and
    module (not checked against the registry); ValueError outside the grammar or the tables."""
    lowered = name.lower() if isinstance(name, str) else ""
    for family, spec in FAMILIES.items():
        match = spec.pattern.match(lowered)
        if match is not None:
            return family, spec.key_of(match.group("variant")), match.group("module")
    raise ValueError(
        f"Unknown model name {name!r}: expected {GRAMMAR}, e.g. 'srm_resnet50' or "
        f"'se_densenet121'. Available: {', '.join(model_names())}."
    )


def default_image_size(name: str) -> int:
    """The input size a model is designed for: 32 for the CIFAR networks, 224 otherwise."""
    family, key, _ = split_name(name)
    return 32 if FAMILIES[family].table[key].family == "cifar" else 224
