"""Exported models timed through their runtimes: tiny SavedModel, ONNX and TFLite files."""

import sys

import numpy as np
import onnx
import pytest
import tensorflow as tf
from onnx import TensorProto, helper

from srm_keras.benchmark import run_benchmark
from srm_keras.benchmark.runners import onnx_step, savedmodel_step, tflite_step


class _Scale(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        return {"mean": tf.reduce_mean(images / 255.0, axis=[1, 2])}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    module = _Scale()
    savedmodel = root / "savedmodel"
    tf.saved_model.save(module, str(savedmodel), signatures={"serving_default": module.__call__})

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module
    )
    tflite = root / "model.tflite"
    tflite.write_bytes(converter.convert())

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2], keepdims=0)],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", "h", "w", 3])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["n", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx_path = root / "model.onnx"
    onnx.save(model, str(onnx_path))
    return {"savedmodel": savedmodel, "tflite": tflite, "onnx": onnx_path}


@pytest.mark.parametrize("kind", ["savedmodel", "onnx", "tflite"])
def test_each_runtime_runs_a_batch(artifacts, kind):
    make = {"savedmodel": savedmodel_step, "onnx": onnx_step, "tflite": tflite_step}[kind]
    outputs = make(str(artifacts[kind]), batch_size=3, image_size=8, seed=0)()
    outputs = list(outputs.values()) if isinstance(outputs, dict) else outputs
    assert np.asarray(outputs[0]).shape == (3, 3)
    # Raw 0-255 pixels in (the ONNX graph does not scale them): means well inside the range.
    scale = 255.0 if kind == "onnx" else 1.0
    assert 0.25 < float(np.mean(outputs[0])) / scale < 0.75


def test_artifacts_join_the_benchmark_in_inference_only(artifacts):
    report = run_benchmark(
        ["resnet20", *(str(path) for path in artifacts.values())],
        modes=("inference", "train"),
        batch_sizes=2,
        image_size=16,
        repeats=2,
        warmup=0,
        classes=10,
    )
    kinds = [(row["kind"], row["mode"]) for row in report.rows]
    assert kinds == [
        ("srm_keras", "inference"),
        ("srm_keras", "train"),
        *((kind, "inference") for kind in artifacts),
    ]
    for row in report.rows[2:]:
        assert row["precision"] is None and row["jit_compile"] is None
        assert row["baseline"] == "resnet20" and row["ratio"] > 0
    assert "| — | — | 2 | 16 |" in report.to_markdown()


def test_fixed_batch_mismatch_is_a_clear_error(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["out"])],
        "fixed",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 8, 8, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 8, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "fixed.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="fixed batch size of 1"):
        onnx_step(str(path), batch_size=4, image_size=8, seed=0)


def test_a_savedmodel_without_tensorflow_is_a_clear_error(monkeypatch, tmp_path):
    # A GPU machine that runs Keras on JAX may have no TensorFlow; None in sys.modules makes
    # ``import tensorflow`` fail there as it does when the package is not installed.
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ValueError, match="loading a SavedModel needs TensorFlow"):
        savedmodel_step(str(tmp_path), batch_size=1, image_size=8, seed=0)


@pytest.mark.parametrize("threads", [None, 1])
def test_onnx_threads_reach_the_session(artifacts, monkeypatch, threads):
    import onnxruntime

    seen, session = [], onnxruntime.InferenceSession

    def spy(path, options, **kwargs):
        seen.append(options.intra_op_num_threads)
        return session(path, options, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", spy)
    onnx_step(str(artifacts["onnx"]), batch_size=1, image_size=8, seed=0, threads=threads)()
    assert seen == [0 if threads is None else threads]  # 0: ONNX Runtime's own choice


def test_runtime_thread_counts_are_checked_and_recorded(artifacts):
    with pytest.raises(ValueError, match="onnx_threads must be a positive integer"):
        run_benchmark([str(artifacts["onnx"])], onnx_threads=0, image_size=8)
    report = run_benchmark(
        [str(artifacts["onnx"])], batch_sizes=1, image_size=8, repeats=1, warmup=0, onnx_threads=1
    )
    assert report.settings["onnx_threads"] == 1 and report.settings["tflite_threads"] is None
    assert report.settings["jit_compile"] is None  # no Keras step was timed
