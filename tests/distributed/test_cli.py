"""`srm-keras worker`: the cluster flags, and --local starting workers on one resolved recipe."""

from __future__ import annotations

import sys

import pytest

import srm_keras.cli as cli
import srm_keras.distributed
from srm_keras.training import TrainConfig


@pytest.fixture
def main(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys((*cli.COMMANDS, "worker"))))
    monkeypatch.delenv("TF_CONFIG", raising=False)
    return cli.main


def test_local_starts_workers_on_the_resolved_recipe(main, monkeypatch, tmp_path):
    calls = []

    def launch_local(argv, workers):
        recipe = argv[argv.index("--config") + 1]
        calls.append((argv, workers, TrainConfig.from_file(recipe)))
        return 0

    monkeypatch.setattr(srm_keras.distributed, "launch_local", launch_local)
    flags = ["--model", "srm_resnet20", "--epochs", "3", "--decay-epochs", "1", "2"]
    code = main(["worker", "--local", "2", "--output", str(tmp_path), "--timeout", "9", *flags])
    assert code == 0
    ((argv, workers, config),) = calls
    assert workers == 2
    recipe = argv[argv.index("--config") + 1]
    assert argv[:6] == [sys.executable, "-m", "srm_keras.cli", "worker", "--config", recipe]
    assert argv[6:] == ["--timeout", "9.0", "--startup-timeout", "900.0"]
    assert config == TrainConfig(
        model="srm_resnet20", epochs=3, decay_epochs=[1.0, 2.0], output=str(tmp_path)
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "10.0.0.1:2222,10.0.0.2:2222"], "--workers needs --index"),
        (["--index", "1"], "--index goes with --workers"),
        (["--workers", "10.0.0.1,10.0.0.2", "--index", "0"], "is not 'host:port'"),
        ([], "TF_CONFIG is not set"),
        (["--local", "0"], "positive number of workers"),
    ],
)
def test_cluster_flag_errors(main, capsys, flags, message):
    assert main(["worker", *flags]) == 2
    assert message in capsys.readouterr().err
