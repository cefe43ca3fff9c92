"""The ``srm-keras`` command.

Thin by design: every sub-command lives in its own module of this package, which adds its
parser in ``register(subparsers)`` (importing nothing heavy: ``--help`` answers without
TensorFlow) and does its work by calling the library.

* **Backend.** The command's input pipelines (``tf.data``) and exporters are TensorFlow, so it
  runs Keras on the TensorFlow backend whatever ``KERAS_BACKEND`` or ``keras.json`` say, and
  says so when they say otherwise. The library's models, layers and weights work on every
  backend. ``bench`` is the exception: it times the models on the backend the user configured
  (JAX on a GPU machine, say), which needs no TensorFlow unless it times a SavedModel or the
  input pipeline. A sub-command opts out of the pin with ``set_defaults(any_backend=True)``.
* **Quiet.** TensorFlow's start-up lines, deprecation warnings of TensorFlow, tf2onnx and Keras,
  and the INFO logs of other libraries are hidden unless ``-v``.
* **Errors.** A failure prints ``srm-keras COMMAND: error: ...`` without a traceback (exit status
  2 for bad input, 1 for anything unexpected, whose first line is shown; the traceback with
  ``-v``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import warnings

from srm_keras import __version__
from srm_keras._import_hooks import around_first_import
from srm_keras.errors import DiskFullError, FolderBusy

# Sub-command modules, in the order ``srm-keras --help`` lists them.
COMMANDS = (
    "models",
    "train",
    "worker",
    "evaluate",
    "plot",
    "compare",
    "analyze",
    "demo",
    "export",
    "verify",
    "convert",
    "tune",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srm-keras",
        description="Recalibrated ResNets (SRM, SE, GE) for Keras 3: build, train, export.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, TensorFlow's own messages, and tracebacks on errors",
    )
    parser.add_argument("--version", action="version", version=f"srm-keras {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        importlib.import_module(f"{__name__}.{command}").register(subparsers)
    return parser


# With TensorFlow's default CPU allocator every full-size temporary (a module's pooling, a
# batch norm's centred input) costs far more than its arithmetic, most likely page faults on
# buffers handed back to the system; the BFC allocator keeps its buffers. ResNet-50 inference
# measured 0.87x the time with it, SRM-ResNet-50 0.82x: BENCHMARKS.md, "The CPU allocator".
# TensorFlow reads the variable when it creates its CPU allocator, at the first operation, so
# setting it here, before any work, is in time.
CPU_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


def prefer_bfc_cpu_allocator() -> None:
    """Use TensorFlow's BFC CPU allocator unless ``TF_CPU_ALLOCATOR_USE_BFC`` is already set."""
    os.environ.setdefault(CPU_ALLOCATOR_VARIABLE, "true")


def use_tensorflow_backend() -> str | None:
    """Pin Keras to the TensorFlow backend before Keras is loaded; return the backend the user
    configured instead (``KERAS_BACKEND``, else ``keras.json``), if it is another one."""
    configured = os.environ.get("KERAS_BACKEND") or _keras_json_backend()
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if configured and configured != "tensorflow":
        return configured
    return None


def _keras_json_backend() -> str | None:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


#: Libraries whose warnings and INFO logs are noise to a command's user (shown with -v).
NOISY = ("tensorflow", "tf2onnx", "keras", "absl", "onnx", "h5py", "google", "jax")


def quiet_libraries(verbose: bool) -> None:
    """Hide TensorFlow's start-up lines and the other libraries' warnings unless ``verbose``."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # read when TensorFlow loads
    if "tensorflow" not in sys.modules:
        # TensorFlow's native libraries log as they load, before any setting applies.
        around_first_import("tensorflow", _without_stderr)
    pattern = r"^(" + "|".join(NOISY) + r")(\.|$)"
    for category in (DeprecationWarning, FutureWarning, UserWarning, RuntimeWarning):
        warnings.filterwarnings("ignore", category=category, module=pattern)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.ERROR)


def _without_stderr(run) -> None:
    """``run()`` with file descriptor 2 pointed at the null device (native code writes there)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        run()
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def main(argv: list[str] | None = None) -> int:
    prefer_bfc_cpu_allocator()  # also for bench on JAX: its SavedModels and tf.data use it
    args = build_parser().parse_args(argv)
    other_backend = None if getattr(args, "any_backend", False) else use_tensorflow_backend()
    quiet_libraries(args.verbose)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("srm_keras").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if other_backend:
        print(
            f"srm-keras: running Keras on TensorFlow (configured: {other_backend}); the "
            "command's data pipelines and exporters are TensorFlow. The library itself runs "
            f"on {other_backend}.",
            file=sys.stderr,
        )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Every file is written atomically and the run folder's backup stays: nothing to undo.
        print(
            f"srm-keras {args.command}: stopped. Run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    except (ValueError, FolderBusy, DiskFullError) as error:
        if args.verbose:
            raise
        print(f"srm-keras {args.command}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if args.verbose:
            raise
        print(
            f"srm-keras {args.command}: error: {type(error).__name__}: {_first_line(error)} "
            "(run with -v for the traceback)",
            file=sys.stderr,
        )
        return 1


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else "no details"


if __name__ == "__main__":
    sys.exit(main())
