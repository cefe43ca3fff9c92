"""The run folder: a kill after ``fit`` returns, a changed recipe, a second writer.

One child process trains a tiny run and stops in ``on_train_end`` (after ``fit``'s epochs, before
the final files); while it holds the folder another ``train`` is refused, then it is killed with
``SIGKILL``. Each test works on a copy of what the kill left.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srm_keras.training import TrainConfig, train
from srm_keras.training.run_folder import RunFolder, RunFolderBusy, differences

from .conftest import TINY

CHILD = """
import json, sys, time
import keras
from srm_keras.training import TrainConfig, train

class StopAtTrainEnd(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        open(sys.argv[2], "w").close()
        time.sleep(600)

train(TrainConfig(**json.loads(sys.argv[1])), callbacks=[StopAtTrainEnd()])
"""


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file of a run folder (the lock file aside) and a hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


@pytest.fixture(scope="module")
def killed(tmp_path_factory, digits_dir):
    """(run folder, its settings, the refusal a second writer got) after the kill."""
    root = tmp_path_factory.mktemp("killed")
    settings = {**TINY, "data_dir": str(digits_dir), "output": str(root / "run")}
    marker = root / "fit_returned"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(settings), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert child.poll() is None, child.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the child never reached on_train_end"
            time.sleep(0.05)
        with pytest.raises(RunFolderBusy) as busy:  # a real second process holds the folder
            train(TrainConfig(**settings))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return Path(settings["output"]), settings, str(busy.value), child.pid


@pytest.fixture
def run(killed, tmp_path):
    """A copy of the killed run and its settings (pointing at the copy)."""
    folder, settings, _, _ = killed
    copy = shutil.copytree(folder, tmp_path / "run")
    return copy, {**settings, "output": str(copy)}


def test_a_second_writer_is_refused_naming_the_holder(killed):
    _, _, message, pid = killed
    assert f"is being written by process {pid} on {os.uname().nodename}" in message
    assert "choose another output folder" in message


def test_a_kill_after_fit_leaves_a_run_that_finishes_without_training_again(run):
    folder, settings = run
    assert (folder / "backup").is_dir() and not (folder / "final_metrics.json").exists()
    before = _snapshot(folder)
    result = train(TrainConfig(**settings))
    assert result.history == {}  # no epoch was trained again
    assert result.metrics["finished"] and result.metrics["epochs_completed"] == TINY["epochs"]
    after = _snapshot(folder)
    for name in ("history.csv", "best.keras", "best.json"):
        assert after[name] == before[name], name
    assert not (folder / "backup").exists()  # retired once the final files were written
    for name in ("model.keras", "evaluation.json", "final_metrics.json"):
        assert name in after


@pytest.mark.parametrize(
    "change, listed",
    [
        ({"epochs": 3}, "epochs 2 -> 3"),
        ({"batch_size": 32}, "batch_size 40 -> 32"),
        ({"image_size": 8}, "image_size 16 -> 8"),
        ({"model": "se_resnet20"}, "model 'srm_resnet20' -> 'se_resnet20'"),
    ],
)
def test_a_changed_recipe_is_refused_before_anything_is_written(run, change, listed):
    folder, settings = run
    before = _snapshot(folder)
    with pytest.raises(ValueError, match="holds an unfinished run with other settings") as error:
        train(TrainConfig(**{**settings, **change}))
    assert listed in str(error.value) and "--no-resume" in str(error.value)
    assert _snapshot(folder) == before


def test_no_resume_discards_the_unfinished_run(run):
    folder, settings = run
    result = train(TrainConfig(**{**settings, "epochs": 1, "resume": False}))
    assert result.metrics["finished"] and result.metrics["epochs_completed"] == 1


def test_what_may_change_between_launches():
    stored = {"epochs": 5, "progress": "2", "output": "a", "jit_compile": "auto"}
    assert (
        differences(stored, {**stored, "progress": "0", "output": "b", "jit_compile": "true"}) == {}
    )
    assert differences(stored, {**stored, "epochs": 6}) == {"epochs": (5, 6)}
    assert differences({"epochs": 5}, {"epochs": 5, "added_later": 1}) == {}


def test_the_lock_is_released_when_its_holder_ends(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder.lock():
        with pytest.raises(RunFolderBusy, match=f"process {os.getpid()}"):
            with RunFolder(tmp_path / "run").lock():
                pass
    with folder.lock():  # free again
        pass


def test_split_settings_fill_the_defaults_training_applies(tmp_path):
    from srm_keras import storage

    folder = RunFolder(tmp_path)
    storage.write_json(folder.config_json, {"dataset": "digits", "seed": None, "image_size": 32})
    assert folder.split_settings() == {
        "dataset": "digits",
        "data_dir": None,
        "image_size": 32,
        "validation_split": 0.2,
        "seed": 0,
        "augment": "auto",
    }
    recorded = {"dataset": "digits", "seed": 7, "validation_split": 0.3, "augment": "none"}
    storage.write_json(folder.config_json, recorded)
    split = folder.split_settings()
    assert (split["seed"], split["validation_split"], split["augment"]) == (7, 0.3, "none")
    storage.write_json(folder.config_json, {"dataset": "digits", "validation_split": "a fifth"})
    with pytest.raises(ValueError, match="validation_split 'a fifth'"):
        folder.split_settings()
