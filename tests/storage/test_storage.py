"""The ground floor of every write: atomic files and folders, one writer, no debris left."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import pytest

from srm_keras import storage
from srm_keras.errors import DiskFullError, FolderBusy
from srm_keras.training.run_folder import RunFolder


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(child.stdout)


def _start(code: str, ready) -> subprocess.Popen:
    """A child running ``code``; returns once ``ready()`` holds (or fails after 60 s)."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    deadline = time.monotonic() + 60
    while not ready():
        assert child.poll() is None, "the child exited early"
        assert time.monotonic() < deadline, "the child never got ready"
        time.sleep(0.05)
    return child


def _kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()


def test_disk_full_during_a_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("previous")
    with pytest.raises(DiskFullError, match="Free some space and run the same command again"):
        with storage.replacing(path) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_any_failure_removes_the_temporary_file(tmp_path):
    path = tmp_path / "model.keras"
    with pytest.raises(KeyboardInterrupt):
        with storage.replacing(path, ".keras") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_writer_killed_mid_write_leaves_the_old_file_and_debris_the_next_run_removes(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("previous")
    child = _start(
        f"""
        import time
        from srm_keras import storage
        with storage.replacing({str(path)!r}) as tmp:
            tmp.write_text("half")
            time.sleep(600)
        """,
        ready=lambda: any(p.name.endswith(".tmp") for p in tmp_path.iterdir()),
    )
    (temporary,) = [p for p in tmp_path.iterdir() if p.name != "history.csv"]
    assert storage.remove_temporaries(tmp_path) == []  # its writer still runs: kept
    _kill(child)
    assert path.read_text() == "previous"
    assert storage.remove_temporaries(tmp_path) == [temporary]
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_only_names_this_library_gives_are_removed(tmp_path):
    dead = _dead_pid()
    debris = [tmp_path / f".best.{dead}.tmp.keras", tmp_path / f".3.{dead}.tmp"]
    debris[0].write_bytes(b"half")
    debris[1].mkdir()  # a staging folder
    kept = [tmp_path / ".notes.tmp", tmp_path / f".best.{os.getpid()}.tmp.keras"]
    for path in kept:
        path.write_text("keep")
    assert sorted(storage.remove_temporaries(tmp_path)) == sorted(debris)
    assert all(path.exists() for path in kept)


def test_a_staged_folder_is_published_whole_or_not_at_all(tmp_path):
    final = tmp_path / "models" / "1"
    with pytest.raises(RuntimeError):
        with storage.staging_folder(final) as staging:
            (staging / "saved_model.pb").write_bytes(b"half")
            raise RuntimeError("conversion failed")
    assert not final.exists() and list((tmp_path / "models").iterdir()) == []

    with storage.staging_folder(final) as staging:
        (staging / "saved_model.pb").write_bytes(b"new")
        storage.publish_folder(staging, final)
    assert (final / "saved_model.pb").read_bytes() == b"new"
    assert sorted(p.name for p in final.parent.iterdir()) == ["1"]


def test_publishing_over_an_existing_folder_needs_replace(tmp_path):
    final = tmp_path / "1"
    final.mkdir()
    (final / "old").write_text("old")
    with storage.staging_folder(final) as staging:
        (staging / "new").write_text("new")
        with pytest.raises(FileExistsError):
            storage.publish_folder(staging, final)
        assert (final / "old").exists()
        storage.publish_folder(staging, final, replace=True)
    assert [p.name for p in final.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["1"]


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    lock = tmp_path / ".lock"
    child = _start(
        f"""
        import time
        from srm_keras import storage
        with storage.hold({str(lock)!r}, "x", "wait"):
            time.sleep(600)
        """,
        ready=lambda: lock.is_file() and lock.stat().st_size > 0,
    )
    try:
        with pytest.raises(FolderBusy, match=f"x is being written by process {child.pid} on "):
            with storage.hold(lock, "x", "wait"):
                pass
    finally:
        _kill(child)
    with storage.hold(lock, "x", "wait"):  # released by the kernel when its holder died
        pass


def test_scratch_folders_of_killed_processes_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    stale = tmp_path / f"srm_keras_test{_dead_pid()}_abc"
    live = tmp_path / f"srm_keras_test{os.getpid()}_def"
    stale.mkdir(), live.mkdir()
    with storage.scratch("srm_keras_test") as folder:
        assert folder.name.startswith(f"srm_keras_test{os.getpid()}_") and folder.is_dir()
        assert not stale.exists() and live.exists()
    assert not folder.exists()


def test_a_finished_run_folder_loses_its_debris_even_when_the_run_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "final_metrics.json").write_text("{}")
    debris = run / f".best.{_dead_pid()}.tmp.keras"
    debris.write_bytes(b"half")
    config = types.SimpleNamespace(resume=True, overwrite=False)
    with RunFolder(run).lock() as folder:
        with pytest.raises(ValueError, match="already holds a finished run"):
            folder.prepare(config)
    assert not debris.exists()


def test_csv_columns_come_from_the_first_row_or_are_named(tmp_path):
    rows = [{"model": "se", "top1": 0.9, "note": None}, {"model": "srm", "top1": 0.91, "note": "x"}]
    storage.write_csv(tmp_path / "t.csv", rows)
    assert (tmp_path / "t.csv").read_text() == "model,top1,note\nse,0.9,\nsrm,0.91,x\n"
    # Named columns leave the other keys out; unnamed, a row with a key of its own is an error.
    assert storage.format_csv(rows, ["model"]) == "model\nse\nsrm\n"
    with pytest.raises(ValueError):
        storage.format_csv([*rows, {"model": "ge", "top1": 0.8, "note": None, "extra": 1}])
