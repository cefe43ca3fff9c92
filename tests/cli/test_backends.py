"""Other Keras backends: the library runs on them; the command pins TensorFlow and says so.

With ``KERAS_BACKEND=jax`` (or ``"backend": "torch"`` in ``keras.json``) the command trains,
evaluates and exports end to end on TensorFlow. ``bench`` alone times the models on the
configured backend, with no TensorFlow installed. The library's models, layers and weights give
TensorFlow's answers on JAX and PyTorch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow

NOTICE = "running Keras on TensorFlow (configured: {})"


def _command(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "srm_keras", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def test_the_command_runs_end_to_end_when_keras_is_set_to_jax_or_torch(tmp_path):
    run = tmp_path / "run"
    jax = {"KERAS_BACKEND": "jax"}
    train = _command(
        "train",
        *("--model", "srm_resnet20", "--dataset", "digits", "--image-size", "8"),
        *("--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "32", "--seed", "0"),
        *("--no-tensorboard", "--output", str(run)),
        env=jax,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    assert NOTICE.format("jax") in train.stderr
    # Quiet by default: TensorFlow's native start-up lines are kept off the output.
    assert "absl::InitializeLog" not in train.stderr and "oneDNN" not in train.stderr
    assert json.loads((run / "final_metrics.json").read_text())["epochs_completed"] == 1

    keras_home = tmp_path / "keras_home"  # a keras.json that names torch, no variable
    keras_home.mkdir()
    (keras_home / "keras.json").write_text(json.dumps({"backend": "torch"}))
    torch = {"KERAS_HOME": str(keras_home)}
    env_without_variable = {**torch, "KERAS_BACKEND": ""}
    evaluate = _command(
        "evaluate", str(run), "--output", str(tmp_path / "m.json"), env=env_without_variable
    )
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert NOTICE.format("torch") in evaluate.stderr

    export = _command(
        "export", str(run), "--output", str(tmp_path / "export"), "--formats", "savedmodel", env=jax
    )
    assert export.returncode == 0, export.stderr[-3000:]
    assert json.loads((tmp_path / "export" / "export_report.json").read_text())["passed"]


# A GPU machine with JAX and no TensorFlow: importing any of these fails in the child, as it
# would there, so the bench below proves that timing Keras models loads none of them.
_WITHOUT_TENSORFLOW = textwrap.dedent(
    """
    import importlib.util, sys
    ABSENT = {"tensorflow", "tf2onnx", "tensorflow_datasets"}
    class NotInstalled:  # an import fails
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ABSENT:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, NotInstalled())
    find_spec = importlib.util.find_spec
    def look_up(name, *args):  # finds nothing, as PyTorch expects when it looks for TensorFlow
        return None if name.split(".")[0] in ABSENT else find_spec(name, *args)
    importlib.util.find_spec = look_up
    from srm_keras.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_bench_times_keras_models_on_the_configured_backend_without_tensorflow(tmp_path, backend):
    output = tmp_path / "bench.json"
    bench = [
        *("bench", "--models", "resnet20", "srm_resnet20", "--classes", "3"),
        *("--batch-size", "2", "--image-size", "8", "--repeats", "2", "--warmup", "0"),
    ]
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
    env.pop("TF_CPU_ALLOCATOR_USE_BFC", None)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-c", _WITHOUT_TENSORFLOW, *bench, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    result = run("--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "running Keras on TensorFlow" not in result.stderr
    report = json.loads(output.read_text())
    assert report["machine"]["keras_backend"] == backend
    # XLA by default on JAX, where a step without it runs op by op; off on PyTorch. TensorFlow's
    # allocator setting is left out of the record of a run that never loads TensorFlow.
    assert report["settings"]["jit_compile"] == [backend == "jax"]
    assert "TF_CPU_ALLOCATOR_USE_BFC" not in report["machine"]["environment"]
    assert [row["model"] for row in report["results"]] == ["resnet20", "srm_resnet20"]
    if backend != "jax":
        return

    # What does need TensorFlow says so in one line, before any model is built.
    pipeline = run("--input-pipeline")
    assert pipeline.returncode == 2
    assert "--input-pipeline times tf.data, which needs TensorFlow" in pipeline.stderr


# Same weights, same input: the backends run different kernels (oneDNN/Eigen for TensorFlow,
# XLA for JAX, ATen for PyTorch), which round each float32 operation differently, by about
# 6e-8 relative. Through 20 layers with BatchNorm and the modules' gates the logits then differ
# by ~1e-6 (measured 9e-7 on the probabilities); 1e-4 on softmax probabilities leaves a margin
# of 100 while any real difference (a wrong layout, a missing module) moves them by 1e-2 or more.
PROBABILITY_ATOL = 1e-4


@pytest.fixture(scope="module")
def tensorflows_answers(tmp_path_factory):
    """Every module's ResNet-20 saved with non-trivial weights, an SRM checkpoint, images, and
    TensorFlow's probabilities for them: the folder both backends are checked against."""
    import keras

    import srm_keras
    from srm_keras.layers import names
    from srm_keras.weights import save_torch_state_dict

    folder = tmp_path_factory.mktemp("tensorflow")
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 16, 16, 3)).astype("float32")
    expected = {}
    for module in ["none", *names()]:
        name = "resnet20" if module == "none" else f"{module}_resnet20"
        model = srm_keras.create_model(name, input_shape=(16, 16, 3), classes=5)
        for variable in model.weights:  # non-trivial statistics and gates
            if "moving" in variable.path or "gamma" in variable.path or "cfc" in variable.path:
                variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
        model.save(folder / f"{name}.keras")
        expected[name] = keras.ops.convert_to_numpy(model(images, training=False))
        keras.backend.clear_session()
    save_torch_state_dict(
        keras.models.load_model(folder / "srm_resnet20.keras"), folder / "srm.safetensors"
    )
    np.save(folder / "images.npy", images)
    np.savez(folder / "expected.npz", **expected)
    return folder


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_models_layers_and_weights_give_tensorflows_answers(tensorflows_answers, backend):
    tmp_path = tensorflows_answers

    code = textwrap.dedent(
        f"""
        import json, pathlib, numpy as np, keras, srm_keras
        assert keras.backend.backend() == {backend!r}
        root = pathlib.Path({str(tmp_path)!r})
        images = np.load(root / "images.npy")
        expected = np.load(root / "expected.npz")
        worst = {{}}
        for name in expected.files:
            model = keras.models.load_model(root / f"{{name}}.keras", safe_mode=True)
            got = keras.ops.convert_to_numpy(model(images, training=False))
            worst[name] = float(np.max(np.abs(got - expected[name])))
        model = srm_keras.SRMResNet20(input_shape=(16, 16, 3), classes=5,
                                      weights=str(root / "srm.safetensors"))
        got = keras.ops.convert_to_numpy(model(images, training=False))
        worst["weights"] = float(np.max(np.abs(got - expected["srm_resnet20"])))
        print(json.dumps(worst))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": backend},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    worst = json.loads(result.stdout.strip().splitlines()[-1])
    assert worst and max(worst.values()) <= PROBABILITY_ATOL, worst
