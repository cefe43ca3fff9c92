"""What a benchmark ran on: cores, CPU, memory, load, library versions, accelerators."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys

import keras

# Settings that change the speed of the same model on the same machine.
_ENVIRONMENT = (
    "KERAS_BACKEND",
    "TF_CPU_ALLOCATOR_USE_BFC",
    "TF_ENABLE_ONEDNN_OPTS",
    "XLA_FLAGS",
    "OMP_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
)
_PACKAGES = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "jax",
    "jaxlib",
    "torch",
    "numpy",
    "onnxruntime",
    "ai-edge-litert",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _accelerators() -> list[str]:
    """Non-CPU devices of the running Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    # e.g. "gpu:0 NVIDIA H200": the platform and index, then the model of the card.
    if backend == "jax":
        import jax

        devices = [d for d in jax.devices() if d.platform != "cpu"]
        return [f"{d.platform}:{d.id} {d.device_kind}" for d in devices]
    if backend == "torch":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return [f"gpu:{i} {torch.cuda.get_device_name(i)}" for i in range(count)]
    return []


def _nvidia_gpus() -> list[str] | None:
    """``nvidia-smi``'s name, memory and driver of each NVIDIA GPU (None where it is absent or
    fails): what the backends' device names leave out."""
    command = shutil.which("nvidia-smi")
    if command is None:
        return None
    query = "--query-gpu=name,memory.total,driver_version"
    try:
        result = subprocess.run(
            [command, query, "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _environment() -> dict[str, str]:
    """The settings of ``_ENVIRONMENT`` that are set; TensorFlow's only once it is loaded (a
    run on JAX or PyTorch that never loads it is not affected by them)."""
    return {
        name: os.environ[name]
        for name in _ENVIRONMENT
        if name in os.environ and (not name.startswith("TF_") or "tensorflow" in sys.modules)
    }


def _threads() -> dict | None:
    """TensorFlow's intra- and inter-op thread pools (0: one thread per core)."""
    if "tensorflow" not in sys.modules:
        return None
    import tensorflow as tf

    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def set_threads(threads: int) -> None:
    """Limit TensorFlow to ``threads`` intra-op and inter-op threads; call before any op runs.

    With one thread, a step's CPU time is its work alone, which is what per-core comparisons
    need on a shared machine.
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"threads applies to the TensorFlow backend, not {keras.backend.backend()}; limit "
            "the cores the process may use instead (taskset -c 0,1 srm-keras bench ...)."
        )
    import tensorflow as tf

    current = tf.config.threading.get_intra_op_parallelism_threads()
    if current == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:
        raise ValueError(
            f"TensorFlow has already started its thread pools ({current or 'default'} threads); "
            "set threads in a fresh process, before any model is built."
        ) from error


def machine_info() -> dict:
    """A snapshot of the machine: call it before and after a run to see the load move."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "time_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "load_average_1_5_15": [None if v is None else round(v, 2) for v in load],
        "platform": platform.platform(),
        "keras_backend": keras.backend.backend(),
        "accelerators": _accelerators(),
        "nvidia_gpus": _nvidia_gpus(),
        "versions": _versions(),
        "environment": _environment(),
        "threads": _threads(),
    }
