"""Only a verified artifact set becomes a servable version, whatever kills or races it.

Kills are real ``SIGKILL``s of a child process that exports, at the moment a hook in the child
reports reaching (the TFLite conversion: before the commit point; the moving of the files
after the SavedModel version went live: after it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from srm_keras.errors import FolderBusy
from srm_keras.export import ParityError, export, publish, verify
from srm_keras.export.savedmodel import versions
from tests.export.conftest import perturbed_resnet20

NAME = "srm"
FORMATS = ["savedmodel", "tflite_float32"]


def _export(model, output, digits, **kwargs):
    train, validation = digits
    return export(
        model,
        output,
        kwargs.pop("formats", FORMATS),
        model_name=NAME,
        representative_data=train,
        verification_data=validation,
        verification_samples=32,
        latency_repeats=1,
        **kwargs,
    )


def _report(output: Path) -> dict:
    return json.loads((output / "export_report.json").read_text())


def _hidden(output: Path) -> list[str]:
    return sorted(p.name for p in output.rglob(".*") if p.name != publish.LOCK)


@pytest.fixture
def published(tmp_path, srm_model, digits):
    """An export folder holding version 1 of ``srm_model``, and the model saved beside it."""
    output = tmp_path / "export"
    _export(srm_model, output, digits)
    model_file = tmp_path / "srm.keras"
    srm_model.save(model_file)
    return output, model_file


def test_a_set_that_fails_verification_is_never_published(published, digits, monkeypatch):
    output, _ = published
    before = (output / "export_report.json").read_bytes()
    other = perturbed_resnet20("srm", seed=5)  # its artifacts answer for another model
    from srm_keras.export import exporter
    from srm_keras.export.prepare import serving_model

    real_freeze = exporter.freeze
    monkeypatch.setattr(exporter, "freeze", lambda serving: real_freeze(serving_model(other)))
    with pytest.raises(ParityError) as failed:
        _export(perturbed_resnet20("srm", seed=1), output, digits)
    message = str(failed.value)
    assert f"version 2 of {NAME} was not published (version 1 stays the one served)" in message
    assert versions(output / "savedmodel" / NAME) == [1]
    assert (output / "export_report.json").read_bytes() == before
    (rejected,) = (output / publish.REJECTED).iterdir()
    assert str(rejected) in message
    assert (rejected / "savedmodel" / NAME / "2" / "saved_model.pb").is_file()
    assert _report(rejected)["passed"] is False
    assert _hidden(output) == []


def _start_export(model_file: Path, output: Path, hook: str, ready: Path) -> subprocess.Popen:
    """A child exporting ``model_file`` into ``output``, killed once it calls ``hook`` (the dotted
    name of a function of the export), which it replaces by touching ``ready`` and sleeping."""
    module, function = hook.rsplit(".", 1)
    code = f"""
        import importlib, pathlib, time
        import keras
        import srm_keras
        from srm_keras.export import export
        from srm_keras.export.sources import export_data

        module = importlib.import_module({module!r})

        def hooked(*args, **kwargs):  # the moment: as the hooked function is entered
            pathlib.Path({str(ready)!r}).touch()
            time.sleep(600)

        setattr(module, {function!r}, hooked)
        train, validation = export_data("digits", (8, 8), batch_size=64)
        export({str(model_file)!r}, {str(output)!r}, {FORMATS!r}, model_name={NAME!r},
               representative_data=train, verification_data=validation,
               verification_samples=32, latency_repeats=1)
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=os.getcwd())
    deadline = time.monotonic() + 300
    while not ready.exists():
        assert child.poll() is None, "the export ended before the moment to kill it"
        assert time.monotonic() < deadline, "the export never reached the moment to kill it"
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return child


def test_a_kill_before_the_commit_point_leaves_the_previous_version_in_charge(
    published, digits, srm_model
):
    output, model_file = published
    before = (output / "export_report.json").read_bytes()
    _start_export(
        model_file, output, "srm_keras.export.exporter.convert_tflite", output.parent / "r"
    )
    assert versions(output / "savedmodel" / NAME) == [1]
    assert (output / "export_report.json").read_bytes() == before
    assert _hidden(output)  # the killed export's staging folder
    verify(output)  # holds the folder: removes what the killed export left
    assert _hidden(output) == []
    assert _export(srm_model, output, digits)["version"] == 2


def test_a_kill_after_the_commit_point_is_finished_by_the_next_verify(published):
    output, model_file = published
    _start_export(
        model_file, output, "srm_keras.export.publish._move_into_place", output.parent / "r"
    )
    # The verified version is live; the report still describes version 1 until repaired.
    assert versions(output / "savedmodel" / NAME) == [1, 2]
    assert _report(output)["version"] == 1
    report = verify(output)
    assert report["version"] == 2 and report["passed"]
    assert _report(output)["version"] == 2
    assert _hidden(output) == []


def test_an_interrupted_replacement_is_rolled_back(tmp_path):
    # As a kill leaves it between moving the old version aside and renaming the new one in.
    output = tmp_path / "export"
    journal = output / publish.PUBLISHING
    (output / "savedmodel" / NAME).mkdir(parents=True)
    (journal / publish.REPLACED).mkdir(parents=True)
    (journal / publish.REPLACED / "old").write_text("old")
    (journal / "savedmodel" / NAME / "1").mkdir(parents=True)
    (journal / publish.RECORD).write_text(json.dumps({"model_name": NAME, "version": 1}))
    publish.recover(output)
    assert (output / "savedmodel" / NAME / "1" / "old").read_text() == "old"
    assert not journal.exists()


def test_a_second_export_into_the_same_folder_is_refused(tmp_path, srm_model, digits):
    output = tmp_path / "export"
    output.mkdir()
    code = f"""
        import time
        from pathlib import Path
        from srm_keras.export import publish
        with publish.hold(Path({str(output)!r})):
            Path({str(tmp_path / "held")!r}).touch()
            time.sleep(600)
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "held").exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(FolderBusy, match=f"being written by process {child.pid} on"):
            _export(srm_model, output, digits)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert versions(output / "savedmodel" / NAME) == []


def test_a_model_loaded_from_a_keras_file_exports_to_onnx(published, digits):
    # Keras' own model.export(path, format="onnx") refuses a model that was loaded and never
    # called ("The model provided has never called"); srm_keras.export takes it as it is.
    _, model_file = published
    report = _export(str(model_file), model_file.parent / "onnx_export", digits, formats=["onnx"])
    assert report["passed"] and report["version"] is None
