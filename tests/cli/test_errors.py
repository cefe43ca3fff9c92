"""What the command prints when it stops: one line, no traceback."""

from __future__ import annotations

import pytest

from srm_keras import cli
from srm_keras.errors import DiskFullError, RunFolderBusy


def _stopping(monkeypatch, error: BaseException) -> None:
    import srm_keras.cli.train as train_cli

    def run(args):
        raise error

    monkeypatch.setattr(train_cli, "run", run)


def test_ctrl_c_says_how_to_resume(monkeypatch, capsys):
    _stopping(monkeypatch, KeyboardInterrupt())
    assert cli.main(["train", "--model", "srm_resnet20"]) == 130
    assert capsys.readouterr().err == (
        "srm-keras train: stopped. Run the same command again to resume.\n"
    )


@pytest.mark.parametrize(
    "error",
    [RunFolderBusy("'runs/x' is being written by process 7"), DiskFullError(28, "no space left")],
)
def test_a_busy_folder_or_a_full_disk_is_one_line(monkeypatch, capsys, error):
    _stopping(monkeypatch, error)
    assert cli.main(["train", "--model", "srm_resnet20"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("srm-keras train: error: ")
