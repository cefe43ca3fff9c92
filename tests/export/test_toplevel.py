"""``srm_keras.export(model, path)``: the package is callable, as the README shows."""

import importlib
import subprocess
import sys

import srm_keras


def test_srm_keras_export_is_callable(tmp_path):
    model = srm_keras.SRMResNet20(input_shape=(8, 8, 3), classes=3)
    report = srm_keras.export(model, tmp_path / "out", formats=["tflite_float32"])
    assert [a["format"] for a in report["artifacts"]] == ["tflite_float32"]
    importlib.import_module("srm_keras.export.parity")  # a submodule import keeps it callable

    assert callable(srm_keras.export)


def test_import_srm_keras_does_not_load_the_exporters():
    code = (
        "import sys, srm_keras; print('tf2onnx' in sys.modules, 'srm_keras.export' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]


def test_a_submodule_is_reached_as_an_attribute_as_the_readme_writes_it():
    # README: srm_keras.export.folding.fold_model(model), in a fresh interpreter where nothing
    # has imported the submodule yet.
    code = "import srm_keras; print(srm_keras.export.folding.fold_model.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "fold_model", out.stderr[-2000:]


def test_the_inference_forms_import_without_the_converters_or_datasets():
    # The benchmarks fold models on machines with TensorFlow but without tensorflow-datasets or
    # the converters (BENCHMARKS.md, "TensorFlow on the Intel Xeon"): the package's names load
    # on first use.
    code = (
        "import sys; from srm_keras.export.folding import fold_model; "
        "print(sorted(m for m in ('tensorflow_datasets', 'tf2onnx', 'onnx', 'srm_keras.data')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
