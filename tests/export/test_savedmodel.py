"""The SavedModel in TF Serving layout: signatures, warm-up, versions, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from srm_keras.export import export, serving_model
from srm_keras.export.frozen import freeze
from srm_keras.export.savedmodel import export_savedmodel, versions
from srm_keras.export.signatures import NOT_AN_IMAGE
from srm_keras.export.warmup import WARMUP_FILE, encode_png, read_warmup
from tests.export.conftest import SIZE

# Runs in a fresh interpreter that refuses to import srm_keras: the SavedModel must stand alone.
LOADER = textwrap.dedent(
    """
    import importlib.abc, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "srm_keras":
                raise ImportError("srm_keras must not be imported")

    sys.meta_path.insert(0, Refuse())
    import numpy as np, tensorflow as tf

    version_dir, data = sys.argv[1], np.load(sys.argv[2], allow_pickle=True)
    model = tf.saved_model.load(version_dir)
    pixels = model.signatures["serving_default"](images=tf.constant(data["images"]))
    files = model.signatures["serving_bytes"](image_bytes=tf.constant(list(data["files"])))
    try:
        model.signatures["serving_bytes"](image_bytes=tf.constant([b"not an image"]))
        error = ""
    except tf.errors.InvalidArgumentError as caught:
        error = caught.message
    again = model.signatures["serving_bytes"](image_bytes=tf.constant(list(data["files"][:1])))
    np.savez(
        sys.argv[3],
        error=np.array(error),
        again=again["probabilities"].numpy(),
        srm_keras_loaded=np.array(any(m.startswith("srm_keras") for m in sys.modules)),
        **{"pixels_" + k: v.numpy() for k, v in pixels.items()},
        **{"files_" + k: v.numpy() for k, v in files.items()},
    )
    """
)


@pytest.fixture(scope="module")
def frozen(srm_model):
    return freeze(serving_model(srm_model))


def test_layout_and_models_config(srm_export):
    output, report = srm_export
    version_dir = output / "savedmodel" / "srm_resnet20" / "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert (version_dir / WARMUP_FILE).is_file()
    assert report["artifacts"][0]["path"] == "savedmodel/srm_resnet20/1"
    assert report["artifacts"][0]["warmup_requests"]
    config = (output / "savedmodel" / "models.config").read_text()
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    parsed = text_format.Parse(config, model_server_config_pb2.ModelServerConfig())
    (entry,) = parsed.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == (
        "srm_resnet20",
        "/models/srm_resnet20",
        "tensorflow",
    )


def test_loads_and_answers_without_srm_keras(tmp_path, srm_export, srm_model):
    output, _ = srm_export
    images = np.random.default_rng(5).integers(0, 256, (3, SIZE, SIZE, 3)).astype("float32")
    files = np.array([encode_png(image) for image in images], dtype=object)
    np.savez(tmp_path / "in.npz", images=images, files=files)
    script = tmp_path / "load.py"
    script.write_text(LOADER)
    version_dir = output / "savedmodel" / "srm_resnet20" / "1"
    subprocess.run(
        [
            sys.executable,
            str(script),
            str(version_dir),
            str(tmp_path / "in.npz"),
            str(tmp_path / "out.npz"),
        ],
        check=True,
        cwd=tmp_path,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    got = np.load(tmp_path / "out.npz")
    assert not got["srm_keras_loaded"]
    expected = serving_model(srm_model)(images)
    for prefix in ("pixels_", "files_"):
        np.testing.assert_allclose(
            got[prefix + "probabilities"], expected["probabilities"], atol=1e-4
        )
        np.testing.assert_allclose(got[prefix + "logits"], expected["logits"], atol=1e-3)
        top = np.argsort(-np.asarray(expected["probabilities"]), axis=-1)[:, :5]
        np.testing.assert_array_equal(got[prefix + "classes"], top)
        np.testing.assert_allclose(
            got[prefix + "scores"], np.take_along_axis(got[prefix + "probabilities"], top, -1)
        )
    assert NOT_AN_IMAGE[:40] in str(got["error"])
    np.testing.assert_allclose(got["again"], got["files_probabilities"][:1], atol=1e-6)


def test_bytes_signature_resizes_other_sizes_and_reads_jpeg(srm_export):
    output, _ = srm_export
    model = tf.saved_model.load(str(output / "savedmodel" / "srm_resnet20" / "1"))
    big = np.random.default_rng(0).integers(0, 256, (20, 28, 3)).astype("uint8")
    files = [tf.io.encode_jpeg(big).numpy(), encode_png(big)]
    outputs = model.signatures["serving_bytes"](image_bytes=tf.constant(files))
    assert outputs["probabilities"].shape == (2, 10)
    np.testing.assert_allclose(np.sum(outputs["probabilities"], -1), 1.0, atol=1e-5)


def test_warmup_file_parses_and_replays(srm_export):
    output, _ = srm_export
    version_dir = output / "savedmodel" / "srm_resnet20" / "1"
    logs = read_warmup(version_dir / WARMUP_FILE)
    requests = [log.predict_log.request for log in logs]
    assert [r.model_spec.signature_name for r in requests] == ["serving_default", "serving_bytes"]
    assert {r.model_spec.name for r in requests} == {"srm_resnet20"}
    model = tf.saved_model.load(str(version_dir))
    for request in requests:
        inputs = {name: tf.constant(tf.make_ndarray(t)) for name, t in request.inputs.items()}
        outputs = model.signatures[request.model_spec.signature_name](**inputs)
        assert outputs["probabilities"].shape == (1, 10)


def test_versions_are_never_overwritten_without_force(tmp_path, frozen):
    root = tmp_path / "savedmodel"
    first = export_savedmodel(frozen, root, "m")
    second = export_savedmodel(frozen, root, "m")
    assert (first.name, second.name) == ("1", "2")
    with pytest.raises(ValueError, match="already exists"):
        export_savedmodel(frozen, root, "m", 1)
    marker = first / "marker"
    marker.write_text("old")
    replaced = export_savedmodel(frozen, root, "m", 1, force=True)
    assert replaced == first and not marker.exists()
    assert sorted(p.name for p in (root / "m").iterdir()) == ["1", "2"]
    with pytest.raises(ValueError, match="positive integer"):
        export_savedmodel(frozen, root, "m", 0)
    with pytest.raises(ValueError, match="model name"):
        export_savedmodel(frozen, root, "bad name/")


def test_failure_mid_write_leaves_no_partial_version(tmp_path, frozen, monkeypatch):
    root = tmp_path / "savedmodel"
    export_savedmodel(frozen, root, "m")

    def broken(version_dir, *args, **kwargs):
        assert (version_dir / "saved_model.pb").is_file()  # halfway: the graph is written
        raise OSError("disk full")

    monkeypatch.setattr("srm_keras.export.savedmodel.write_warmup", broken)
    with pytest.raises(OSError, match="disk full"):
        export_savedmodel(frozen, root, "m")
    with pytest.raises(OSError, match="disk full"):
        export_savedmodel(frozen, root, "m", 1, force=True)
    assert [p.name for p in (root / "m").iterdir()] == ["1"]
    assert versions(root / "m") == [1]
    assert (root / "m" / "1" / WARMUP_FILE).is_file()


def test_missing_serving_protos_only_skip_the_warmup(tmp_path, frozen, monkeypatch):
    def missing(*args, **kwargs):
        raise ImportError("no tensorflow_serving")

    monkeypatch.setattr("srm_keras.export.savedmodel.write_warmup", missing)
    version_dir = export_savedmodel(frozen, tmp_path, "m")
    assert (version_dir / "saved_model.pb").is_file()
    assert not (version_dir / WARMUP_FILE).exists()


def test_foreign_output_folder_is_refused(tmp_path, srm_model):
    (tmp_path / "notes.txt").write_text("not an export")
    with pytest.raises(ValueError, match="not an export folder"):
        export(srm_model, tmp_path, ["savedmodel"])
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        export(srm_model, file, ["savedmodel"])


def test_report_records_the_savedmodel(srm_export):
    output, report = srm_export
    stored = json.loads((output / "export_report.json").read_text())
    assert stored["artifacts"][0]["format"] == "savedmodel"
    assert stored["version"] == 1 and stored["model_name"] == "srm_resnet20"
