"""The registry of recalibration modules, keyed by the papers' short names."""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras

from srm_keras.layers.ge import GatherExcitation
from srm_keras.layers.mssar import MultiScaleSpatialRecalibration
from srm_keras.layers.se import SqueezeExcitation
from srm_keras.layers.srm import StyleRecalibration

# name -> (layer class, constructor defaults). Variants of one class are entries with defaults.
_REGISTRY: dict[str, tuple[type[keras.layers.Layer], dict]] = {
    "srm": (StyleRecalibration, {}),
    # The SRM paper's ablations (docs/design.md §1); other poolings, max included, through
    # StyleRecalibration's pooling argument.
    "srm_mean": (StyleRecalibration, {"pooling": ["mean"]}),
    "srm_std": (StyleRecalibration, {"pooling": ["std"]}),
    "srm_mlp": (StyleRecalibration, {"integration": "mlp"}),
    "se": (SqueezeExcitation, {}),
    "ge": (GatherExcitation, {}),
    "ge_minus": (GatherExcitation, {"parametric": False}),
    "ge_extent8": (GatherExcitation, {"extent": 8}),
    "ge_plus": (GatherExcitation, {"reduction": 16}),
    "mssar": (MultiScaleSpatialRecalibration, {}),
}


def names() -> list[str]:
    """The registered module names, e.g. ``["ge", "ge_extent8", ..., "srm"]``."""
    return sorted(_REGISTRY)


def register(name: str, layer_class: type[keras.layers.Layer], **defaults) -> None:
    """Add a recalibration module under ``name`` (it must infer channels in ``build()``)."""
    if not (isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer)):
        raise ValueError(f"layer_class must be a keras.layers.Layer subclass; got {layer_class!r}.")
    if name in _REGISTRY:
        raise ValueError(f"A recalibration module is already registered as {name!r}.")
    _REGISTRY[name] = (layer_class, dict(defaults))


def get(identifier) -> Callable[..., keras.layers.Layer] | None:
    """Resolve a recalibration module to a layer constructor.

    Args:
        identifier: a registered name (``"srm"``, ``"se"``, ``"ge"``, ...; case-insensitive), a
            ``keras.layers.Layer`` subclass, or None (no recalibration).

    Returns:
        A callable that takes keyword arguments (``name=...`` and the module's options) and
        returns a new layer, or None when ``identifier`` is None.
    """
    if identifier is None:
        return None
    if isinstance(identifier, type) and issubclass(identifier, keras.layers.Layer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("none", "plain", ""):
            return None
        if key in _REGISTRY:
            layer_class, defaults = _REGISTRY[key]
            return functools.partial(layer_class, **defaults) if defaults else layer_class
        raise ValueError(
            f"Unknown recalibration module {identifier!r}. Valid names: {', '.join(names())}; "
            "or pass a keras.layers.Layer subclass, or None."
        )
    raise ValueError(
        "recalibration must be a registered name, a keras.layers.Layer subclass, or None; "
        f"received {identifier!r} of type {type(identifier).__name__}."
    )


def short_name(identifier) -> str | None:
    """The name a module gets inside a model: its registry key, or its class in snake case."""
    if identifier is None or (
        isinstance(identifier, str) and identifier.lower() in ("none", "plain", "")
    ):
        return None
    if isinstance(identifier, str):
        get(identifier)  # validates
        return identifier.lower()
    for key, (layer_class, defaults) in _REGISTRY.items():
        if identifier is layer_class and not defaults:
            return key
    name = identifier.__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
