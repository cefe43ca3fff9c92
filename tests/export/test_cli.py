"""``srm-keras export`` and ``srm-keras verify``."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from srm_keras.cli import export as export_cli
from srm_keras.cli import verify as verify_cli
from srm_keras.export import export
from tests.export.conftest import perturbed_resnet20


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="srm-keras")
    subparsers = parser.add_subparsers(dest="command", required=True)
    export_cli.register(subparsers)
    verify_cli.register(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, srm_model):
    """A training output folder: model.keras and the config.json naming its dataset."""
    folder = tmp_path_factory.mktemp("run")
    srm_model.save(folder / "model.keras")
    (folder / "config.json").write_text(json.dumps({"model": "srm_resnet20", "dataset": "digits"}))
    return folder


def test_export_then_verify(tmp_path, run_folder, capsys):
    output = tmp_path / "export"
    code = _run(
        [
            "export",
            str(run_folder),
            "--output",
            str(output),
            "--formats",
            "savedmodel,tflite_float16",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| tflite_float16 |" in printed and "All bounds hold." in printed
    report = json.loads((output / "export_report.json").read_text())
    # The dataset came from config.json: calibration on train, verification on validation.
    assert report["verification"]["origin"] == "verification_data"
    assert report["verification"]["calibration_samples"] == 200
    assert [a["format"] for a in report["artifacts"]] == ["savedmodel", "tflite_float16"]

    assert _run(["verify", str(output), "--repeats", "2"]) == 0
    assert "All bounds hold." in capsys.readouterr().out

    # An artifact of another model: verify prints the numbers and exits non-zero.
    export(perturbed_resnet20("srm", seed=11), tmp_path / "other", ["onnx"], verify=False)
    (output / "onnx").mkdir()
    shutil.copy(
        tmp_path / "other" / "onnx" / "srm_resnet20.onnx", output / "onnx" / "srm_resnet20.onnx"
    )
    report["artifacts"].append({"format": "onnx", "path": "onnx/srm_resnet20.onnx", "bytes": 1})
    (output / "export_report.json").write_text(json.dumps(report))
    capsys.readouterr()
    assert _run(["verify", str(output), "--repeats", "1"]) == 1
    printed = capsys.readouterr().out
    assert "**FAIL**" in printed and "onnx: max abs diff of probabilities" in printed


def test_existing_version_needs_force(tmp_path, run_folder, capsys):
    output = tmp_path / "export"
    argv = ["export", str(run_folder / "model.keras"), "--output", str(output)]
    argv += ["--formats", "savedmodel", "--version", "3", "--no-verify", "--data", "digits"]
    assert _run(argv) == 0
    with pytest.raises(ValueError, match="--force"):
        _run(argv)
    assert _run([*argv, "--force"]) == 0
    assert sorted(p.name for p in (output / "savedmodel" / "srm_resnet20").iterdir()) == ["3"]


def test_image_size_errors(tmp_path, run_folder):
    with pytest.raises(ValueError, match="built for 8x8"):
        _run(["export", str(run_folder), "--output", str(tmp_path / "x"), "--image-size", "32"])
