import json

from srm_keras.cli import main


def test_models_command_prints_json(capsys):
    assert main(["models", "--names", "srm_resnet20", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "srm_resnet20" and rows[0]["params"] == 271_066


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["models", "--names", "alexnet"]) == 2
    assert "Unknown model name 'alexnet'" in capsys.readouterr().err
