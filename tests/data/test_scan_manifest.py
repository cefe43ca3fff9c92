"""The remembered image-folder scan: what a second scan decodes, where the manifest lives, and the
scan's progress output."""

import io
import json
import logging
import os

import numpy as np
import pytest

from srm_keras.data import images, load_datasets, scan_manifest
from srm_keras.data.folder import folder_source
from tests.data.conftest import DOG, solid, write_class


@pytest.fixture
def decoded(monkeypatch):
    """The paths handed to the decoding scan, call after call."""
    seen = []
    scan_images = images.scan_images

    def counting(paths, *args, **kwargs):
        seen.extend(os.fspath(path) for path in paths)
        return scan_images(paths, *args, **kwargs)

    monkeypatch.setattr(images, "scan_images", counting)
    return seen


def source(root, **kwargs):
    return folder_source(root, **({"validation_split": 0.25, "seed": 0, "strict": False} | kwargs))


def outcome(data):
    """What a scan decided, in a comparable form."""
    splits = [
        sorted(
            (p.decode(), int(label), bool(pil))
            for p, label, pil in split.records.as_numpy_iterator()
        )
        for split in (data.train, data.validation)
    ]
    sizes = (data.train.decoded_bytes, data.validation.decoded_bytes)
    return splits, sizes, sorted(data.skipped)


def manifest_of(root):
    return json.loads((root / scan_manifest.MANIFEST_NAME).read_text())


def test_second_scan_of_an_unchanged_folder_decodes_nothing(image_tree, decoded):
    root = image_tree["root"]
    first = outcome(source(root))
    files = image_tree["cat"] + image_tree["dog"] + len(image_tree["bad"])
    assert len(decoded) == files
    manifest = root / scan_manifest.MANIFEST_NAME
    written = manifest.stat().st_mtime_ns
    decoded.clear()
    assert outcome(source(root)) == first
    assert decoded == [] and manifest.stat().st_mtime_ns == written  # not even rewritten
    images_found = [p for p in root.rglob("*") if p.is_file() and p.suffix != ".txt"]
    visible = [str(p.relative_to(root)) for p in images_found if not p.name.startswith(".")]
    assert sorted(manifest_of(root)["files"]) == sorted(visible)


def test_the_manifest_reports_a_corrupted_file_without_decoding_it(image_tree, decoded):
    root = image_tree["root"]
    bad = sorted(str(path) for path in image_tree["bad"].values())
    assert sorted(path for path, _ in source(root).skipped) == bad
    first_reasons = dict(source(root).skipped)
    decoded.clear()
    data = source(root)
    assert decoded == [] and dict(data.skipped) == first_reasons
    with pytest.raises(ValueError, match="cannot be decoded") as error:
        load_datasets(root, image_size=8, batch_size=4, strict=True)
    assert decoded == [] and all(path in str(error.value) for path in bad)


def test_a_changed_file_is_decoded_again(image_tree, decoded):
    root = image_tree["root"]
    source(root)
    good = root / "cat" / "000.png"
    bad = image_tree["bad"]["truncated_jpeg"]
    for path, write in (
        (good, lambda path: solid((1, 2, 3), size=(40, 30)).save(path, format="PNG")),
        (bad, lambda path: solid((1, 2, 3)).save(path, format="JPEG")),
    ):
        before = path.stat().st_mtime_ns
        write(path)
        os.utime(path, ns=(before + 10**9, before + 10**9))
    decoded.clear()
    data = source(root)
    assert sorted(decoded) == sorted([str(good), str(bad)])
    assert str(bad) not in dict(data.skipped)  # repaired
    assert manifest_of(root)["files"]["cat/000.png"][2:] == [30, 40, 0]  # its new size
    good.write_bytes(b"broken now")  # new size, so a new key even within one mtime tick
    decoded.clear()
    assert str(good) in dict(source(root).skipped) and decoded == [str(good)]


def test_new_files_are_decoded_and_removed_ones_dropped(image_tree, decoded):
    root = image_tree["root"]
    source(root)
    (root / "cat" / "001.png").unlink()
    image_tree["bad"]["dog_random"].unlink()
    (added,) = write_class(root / "dog", DOG, 1, start=50)
    decoded.clear()
    data = source(root)
    assert decoded == [str(added)]
    files = manifest_of(root)["files"]
    assert "dog/050.png" in files and "cat/001.png" not in files and "dog/random.jpg" not in files
    assert str(image_tree["bad"]["dog_random"]) not in dict(data.skipped)


@pytest.mark.parametrize(
    "text",
    [
        "not json {",
        json.dumps([1, 2, 3]),
        json.dumps({"format": 1, "decoders": {}, "files": []}),
        json.dumps({"format": 99, "decoders": {}, "files": {}}),
    ],
)
def test_a_malformed_manifest_is_ignored_and_rebuilt(image_tree, decoded, caplog, text):
    root = image_tree["root"]
    first = outcome(source(root))
    (root / scan_manifest.MANIFEST_NAME).write_text(text)
    decoded.clear()
    with caplog.at_level(logging.WARNING, logger="srm_keras.data.scan_manifest"):
        assert outcome(source(root)) == first
    assert len(decoded) == sum(1 for _ in manifest_of(root)["files"]) and decoded
    assert "ignoring the" in caplog.text and "scan manifest" in caplog.text
    decoded.clear()
    source(root)
    assert decoded == []  # rebuilt


def test_malformed_entries_are_decoded_again(image_tree, decoded):
    root = image_tree["root"]
    first = outcome(source(root))
    manifest = manifest_of(root)
    manifest["files"]["cat/000.png"][2:] = ["16", 20, 0]  # a height that is not a number
    manifest["files"]["cat/002.png"] = {"size": 1}
    manifest["files"]["dog/nested/003.png"][4] = 7  # neither TensorFlow (0) nor Pillow (1)
    (root / scan_manifest.MANIFEST_NAME).write_text(json.dumps(manifest))
    decoded.clear()
    assert outcome(source(root)) == first
    assert sorted(decoded) == sorted(
        str(root / name) for name in ("cat/000.png", "cat/002.png", "dog/nested/003.png")
    )


def test_other_decoder_versions_rescan_everything(image_tree, decoded, monkeypatch):
    root = image_tree["root"]
    first = outcome(source(root))
    count = len(decoded)
    monkeypatch.setattr(scan_manifest, "_decoders", lambda: {"tensorflow": "0", "pillow": "0"})
    decoded.clear()
    assert outcome(source(root)) == first and len(decoded) == count
    assert manifest_of(root)["decoders"] == {"tensorflow": "0", "pillow": "0"}


def test_the_manifest_survives_moving_the_folder(image_tree, decoded, tmp_path):
    first = outcome(source(image_tree["root"]))
    moved = image_tree["root"].rename(tmp_path / "moved")
    decoded.clear()
    splits, sizes, skipped = outcome(source(moved))
    assert decoded == [] and sizes == first[1] and len(skipped) == len(first[2])


def test_a_folder_that_cannot_be_written_keeps_its_manifest_in_the_user_cache(
    image_tree, decoded, monkeypatch, tmp_path
):
    root = image_tree["root"]
    monkeypatch.setattr(scan_manifest, "_writable", lambda folder: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = outcome(source(root))
    assert not (root / scan_manifest.MANIFEST_NAME).exists()
    (cached,) = (tmp_path / "cache" / "srm_keras" / "scans").iterdir()
    assert cached == scan_manifest.manifest_path(root) and cached.suffix == ".json"
    decoded.clear()
    assert outcome(source(root)) == first and decoded == []


def test_a_manifest_that_cannot_be_written_is_skipped_with_a_warning(
    image_tree, monkeypatch, caplog
):
    def refuse(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(scan_manifest.storage, "write_text", refuse)
    with caplog.at_level(logging.WARNING, logger="srm_keras.data.scan_manifest"):
        data = source(image_tree["root"])
    assert data.train.size + data.validation.size == image_tree["cat"] + image_tree["dog"]
    assert "cannot write the scan manifest" in caplog.text


def test_an_interrupted_scan_keeps_what_it_decoded(image_tree, decoded, monkeypatch):
    root = image_tree["root"]
    monkeypatch.setattr(scan_manifest, "MIN_CHUNK", 4)
    monkeypatch.setattr(scan_manifest, "MAX_CHUNK", 4)
    counting = images.scan_images
    calls = []

    def interrupted(paths, *args, **kwargs):
        calls.append(len(paths))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return counting(paths, *args, **kwargs)

    monkeypatch.setattr(images, "scan_images", interrupted)
    with pytest.raises(KeyboardInterrupt):
        source(root)
    assert len(manifest_of(root)["files"]) == 8  # the two chunks done
    monkeypatch.setattr(images, "scan_images", counting)
    decoded.clear()
    source(root)
    total = image_tree["cat"] + image_tree["dog"] + len(image_tree["bad"])
    assert len(decoded) == total - 8


def test_progress_without_a_terminal_has_no_control_characters(
    image_tree, monkeypatch, capsys, caplog
):
    monkeypatch.setattr(scan_manifest, "MIN_CHUNK", 4)
    monkeypatch.setattr(scan_manifest, "MAX_CHUNK", 4)
    monkeypatch.setattr(scan_manifest, "QUIET_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger="srm_keras.data.scan_manifest"):
        source(image_tree["root"])
    assert capsys.readouterr().err == ""
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scanning")]
    assert len(lines) >= 3 and lines[-1].startswith("scanning image files: 31/31 (100%)")
    assert not any("\r" in line or "\x1b" in line for line in lines)


def test_progress_is_quiet_for_a_short_scan_without_a_terminal(image_tree, caplog):
    with caplog.at_level(logging.INFO, logger="srm_keras.data.scan_manifest"):
        source(image_tree["root"])
    assert not any(r.getMessage().startswith("scanning") for r in caplog.records)
    assert "31 decoded, 0 known from the manifest" in caplog.text


def test_progress_on_a_terminal_is_a_bar_redrawn_in_place(image_tree, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(scan_manifest, "MIN_CHUNK", 8)
    monkeypatch.setattr(scan_manifest, "MAX_CHUNK", 8)
    source(image_tree["root"])
    drawn = terminal.getvalue()
    assert drawn.count("\r") == 4 and drawn.endswith("\n") and "\x1b" not in drawn
    assert (
        drawn.rstrip("\n")
        .split("\r")[-1]
        .startswith("scanning image files [" + "=" * scan_manifest.BAR_WIDTH + "] 31/31 100% ")
    )
    terminal.truncate(0)
    source(image_tree["root"])
    assert terminal.getvalue() == ""  # nothing to decode, no bar


def test_scan_results_match_the_plain_scan(image_tree):
    root = image_tree["root"]
    paths = sorted(str(p) for p in root.rglob("*") if p.suffix != ".txt" and p.is_file())
    paths = [p for p in paths if "/." not in p[len(str(root)) :]]
    plain = images.scan_images(paths)
    for _ in range(2):  # decoded, then remembered
        remembered = scan_manifest.scan_folder(root, paths)
        np.testing.assert_array_equal(remembered.valid, plain.valid)
        np.testing.assert_array_equal(remembered.use_pil, plain.use_pil)
        np.testing.assert_array_equal(remembered.shapes, plain.shapes)
        assert remembered.skipped == plain.skipped
