"""Reading and writing PyTorch state dicts as numpy arrays.

``.safetensors`` files are read and written with ``safetensors.numpy``, so PyTorch is not needed
for them; ``.pth``/``.pt``/``.bin`` files need PyTorch and are read with ``weights_only=True``
(tensors and plain containers only, never arbitrary pickled objects).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from srm_keras import storage

SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIXES = (".pth", ".pt", ".bin")
SUFFIXES = (SAFETENSORS_SUFFIX, *TORCH_SUFFIXES)

# Where training scripts keep the model's state dict inside a checkpoint.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module")
# Prefixes that wrappers add to every name: DataParallel/DDP, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def is_checkpoint_path(path) -> bool:
    """Whether ``path`` names a file that :func:`read_state_dict` reads (by its suffix)."""
    return isinstance(path, str | os.PathLike) and os.fspath(path).lower().endswith(SUFFIXES)


def read_state_dict(source) -> dict[str, np.ndarray]:
    """A PyTorch state dict as ``{name: numpy array}``.

    Args:
        source: the path of a ``.safetensors`` file (read without PyTorch), of a ``.pth``,
            ``.pt`` or ``.bin`` file (needs PyTorch), or a mapping of names to arrays or tensors.
            A training checkpoint that nests the state dict under ``"state_dict"``, ``"model"``
            (...) is unwrapped, and a ``module.`` prefix on every name (DataParallel) removed.

    bfloat16 tensors are widened to float32 (exactly); other dtypes are kept as stored, for the
    loader to accept (floating) or refuse (integer, bool, complex).
    """
    if isinstance(source, Mapping):
        state = _unwrap(source)
    elif isinstance(source, str | os.PathLike):
        state = _unwrap(_read_file(os.fspath(source)))
    else:
        raise ValueError(
            "source must be a checkpoint path (.safetensors, .pth, .pt, .bin) or a mapping of "
            f"names to arrays; received {type(source).__name__}."
        )
    return {name: _to_numpy(name, value) for name, value in state.items()}


def _read_file(path: str) -> Mapping:
    if not os.path.isfile(path):
        raise ValueError(f"Checkpoint file not found: {path!r}.")
    lower = path.lower()
    if lower.endswith(SAFETENSORS_SUFFIX):
        from safetensors.numpy import load_file

        return load_file(path)
    if lower.endswith(TORCH_SUFFIXES):
        torch = _import_torch(f"read {path!r}")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several unpickling error types
            raise ValueError(
                f"Could not read {path!r} with torch.load(weights_only=True): {error}. Re-save "
                "the model's state_dict() alone, or convert it to .safetensors."
            ) from error
    raise ValueError(
        f"Unsupported checkpoint file {path!r}: expected one of {', '.join(SUFFIXES)}."
    )


def _import_torch(purpose: str):
    try:
        import torch
    except ImportError as error:
        raise ValueError(
            f"PyTorch is needed to {purpose}: pip install torch, or use a .safetensors file "
            "(read and written without PyTorch)."
        ) from error
    return torch


def _is_tensor_like(value) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "shape")


def _unwrap(state: Mapping) -> Mapping:
    if not isinstance(state, Mapping):
        raise ValueError(
            f"A checkpoint must hold a mapping of names; found {type(state).__name__}."
        )
    if state and not all(_is_tensor_like(v) for v in state.values()):
        for key in _NESTED_KEYS:
            if isinstance(state.get(key), Mapping):
                return _unwrap(state[key])
        raise ValueError(
            "The checkpoint is not a state dict (name -> tensor) and holds none under "
            f"{', '.join(repr(k) for k in _NESTED_KEYS)}; its top-level keys: "
            f"{', '.join(map(str, list(state)[:10]))}."
        )
    for prefix in _WRAPPER_PREFIXES:
        if state and all(name.startswith(prefix) for name in state):
            state = {name[len(prefix) :]: value for name, value in state.items()}
    return state


def _to_numpy(name: str, value) -> np.ndarray:
    """``value`` as a numpy array of its own dtype; bfloat16 is widened to float32 (exactly).

    Other dtypes are kept as they are (int64 ``num_batches_tracked``, or an integer, bool or
    complex tensor that the loader then refuses by name).
    """
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()  # numpy has no bfloat16
        try:
            return value.numpy()
        except TypeError as error:  # float8, quantized...: no numpy counterpart
            raise ValueError(
                f"Tensor {name!r} has dtype {value.dtype}, which has no numpy counterpart; "
                "only float16, bfloat16, float32 and float64 weights load."
            ) from error
    try:
        array = np.asarray(value)
    except Exception as error:
        raise ValueError(
            f"Tensor {name!r} cannot be converted to a numpy array: {error}"
        ) from error
    if array.dtype.name == "bfloat16":  # safetensors reads BF16 as ml_dtypes' bfloat16
        array = array.astype(np.float32)
    return array


def write_state_dict(state: Mapping[str, np.ndarray], path) -> str:
    """Write ``{name: array}`` atomically as ``.safetensors`` (no PyTorch needed) or ``.pth``.

    Returns:
        The path written.
    """
    path = os.fspath(path)
    lower = path.lower()
    if not lower.endswith(SUFFIXES):
        raise ValueError(
            f"Cannot write {path!r}: the file name must end with {', '.join(SUFFIXES)}."
        )
    arrays = {name: np.ascontiguousarray(value) for name, value in state.items()}
    suffix = SAFETENSORS_SUFFIX if lower.endswith(SAFETENSORS_SUFFIX) else ".pth"
    with storage.replacing(path, suffix) as temporary:
        if suffix == SAFETENSORS_SUFFIX:
            from safetensors.numpy import save_file

            save_file(arrays, str(temporary))
        else:
            torch = _import_torch(f"write {path!r}")
            torch.save({name: torch.from_numpy(a) for name, a in arrays.items()}, temporary)
    return path
