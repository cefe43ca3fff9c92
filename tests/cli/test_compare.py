"""``srm-keras compare``: one recipe, several modules, one table and one figure; a second run of
the same command trains nothing; bad input stops before any training."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

from srm_keras import cli
from srm_keras.training import compare as compare_module

MODULES = ("none", "se", "srm")
MODELS = ("resnet20", "se_resnet20", "srm_resnet20")
FAST = (
    *("--model", "resnet20", "--dataset", "digits", "--image-size", "8", "--epochs", "2"),
    *("--steps-per-epoch", "3", "--batch-size", "32", "--no-tensorboard", "--seed", "0"),
    *("--progress", "0"),
)


def _compare(output, data_dir, *argv: str) -> int:
    return cli.main(["compare", *FAST, "--data-dir", str(data_dir), "--output", str(output), *argv])


def _run_files(output) -> dict[str, int]:
    """Every file of the runs, with its modification time (ns)."""
    return {
        str(path.relative_to(output)): path.stat().st_mtime_ns
        for model in MODELS
        for path in (output / model).rglob("*")
        if path.is_file()
    }


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """(output folder, data dir, what the command printed) after one comparison."""
    root = tmp_path_factory.mktemp("compare")
    output, data_dir = root / "comparison", root / "tfds"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert _compare(output, data_dir, "--modules", *MODULES) == 0
    return output, data_dir, printed.getvalue()


def _rows(output) -> list[dict[str, str]]:
    with (output / "comparison.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_each_module_is_trained_in_its_own_run_folder(compared):
    output, _, _ = compared
    for model in MODELS:
        metrics = json.loads((output / model / "final_metrics.json").read_text())
        assert (metrics["model"], metrics["epochs_completed"]) == (model, 2)
    assert (output / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_has_one_row_per_module(compared):
    import keras

    from srm_keras.models import count_params, create_model

    output, _, printed = compared
    rows = _rows(output)
    assert [row["model"] for row in rows] == list(MODELS)
    params = {row["model"]: int(row["params"]) for row in rows}
    for model in MODELS:
        assert params[model] == count_params(create_model(model, input_shape=(8, 8, 3)))
    keras.backend.clear_session()
    # SRM adds 4 parameters a channel (CFC weights and BN); SE two 1/16 bottleneck layers.
    assert params["resnet20"] < params["srm_resnet20"] < params["se_resnet20"]
    for row in rows:
        assert (row["image_size"], row["epochs"], row["epochs_completed"]) == ("8", "2", "2")
        assert row["epochs_last_process"] == "2"  # one process trained both epochs
        assert float(row["seconds_per_epoch"]) == pytest.approx(
            float(row["train_seconds_last_process"]) / 2, abs=0.01
        )
        assert 0 <= float(row["val_top1"]) <= float(row["val_top5"]) <= 1
        assert int(row["best_epoch"]) in (0, 1)
    table = (output / "comparison.md").read_text()
    assert table.splitlines()[0].startswith("| model | params | GMACs (8×8) |")
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == 1 + 3
    assert table in printed  # printed at the end


def test_the_same_command_again_trains_nothing(compared, monkeypatch, caplog):
    output, data_dir, _ = compared
    before = {
        name: (output / name).read_bytes()
        for name in (compare_module.CSV, compare_module.MARKDOWN, compare_module.FIGURE)
    }
    runs = _run_files(output)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(compare_module, "train", refuse)
    caplog.set_level("INFO", logger="srm_keras.training.compare")
    assert _compare(output, data_dir, "--modules", *MODULES) == 0
    assert _run_files(output) == runs
    assert {name: (output / name).read_bytes() for name in before} == before
    assert caplog.text.count("already finished") == 3


def test_a_finished_run_with_other_settings_is_refused(compared, capsys):
    output, data_dir, _ = compared
    runs = _run_files(output)
    assert _compare(output, data_dir, "--modules", "srm", "--lr", "0.2") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "srm_resnet20' holds a finished run with other settings: learning_rate" in line
    assert _run_files(output) == runs


def test_an_unknown_module_stops_before_any_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compare_module, "train", pytest.fail)
    assert _compare(tmp_path / "out", tmp_path / "tfds", "--modules", "none", "sre", "srm") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("srm-keras compare: error: unknown module 'sre'; valid ones: none, ")
    assert "srm" in line and "se" in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "tfds").exists()


def test_an_unfinished_run_with_other_settings_is_refused_by_its_run_folder(
    compared, tmp_path, monkeypatch, capsys
):
    output, data_dir, _ = compared
    unfinished = tmp_path / "out" / "resnet20"  # its settings, and a backup to resume from
    (unfinished / "backup").mkdir(parents=True)
    (unfinished / "config.json").write_bytes((output / "resnet20" / "config.json").read_bytes())
    monkeypatch.setattr(compare_module, "train", pytest.fail)
    assert _compare(tmp_path / "out", data_dir, "--modules", "srm", "none", "--lr", "0.2") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "resnet20' holds an unfinished run with other settings: learning_rate" in line
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["resnet20"]


def test_an_unknown_time_per_epoch_is_a_dash():
    row = dict.fromkeys(compare_module.FIELDS, 0)
    row.update(model="srm_resnet20", image_size=32, epochs_last_process=None)
    row.update(seconds_per_epoch=None, best_val_top1=None)
    table = compare_module.format_markdown([row])
    assert table.splitlines()[2] == "| srm_resnet20 | 0 | 0 | 0/0 | 0.00 | 0.00 | – | – |"
    from srm_keras.storage import format_csv

    assert format_csv([row], compare_module.FIELDS).splitlines()[1].endswith(",,")
