import json
import os
import subprocess
import sys

from srm_keras.cli import CPU_ALLOCATOR_VARIABLE, main


def test_models_command_prints_json(capsys):
    assert main(["models", "--names", "srm_resnet20", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "srm_resnet20" and rows[0]["params"] == 271_066


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["models", "--names", "alexnet"]) == 2
    assert "Unknown model name 'alexnet'" in capsys.readouterr().err


ALLOCATOR_PROBE = """
import sys
import tensorflow as tf
from srm_keras.cli import main
main(["models", "--names", "srm_resnet20"])
tf.ones((4, 4)).numpy()  # TensorFlow creates its CPU allocator at the first operation
try:
    tf.config.experimental.get_memory_info("CPU:0")  # only the BFC allocator keeps statistics
except ValueError:
    sys.exit("default allocator")
"""


def test_cli_turns_on_the_bfc_cpu_allocator_before_tensorflow_allocates():
    env = {key: value for key, value in os.environ.items() if key != CPU_ALLOCATOR_VARIABLE}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [sys.executable, "-c", ALLOCATOR_PROBE], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_cli_leaves_an_explicit_allocator_choice_alone(monkeypatch):
    monkeypatch.setenv(CPU_ALLOCATOR_VARIABLE, "false")
    assert main(["models", "--names", "srm_resnet20", "--json"]) == 0
    assert os.environ[CPU_ALLOCATOR_VARIABLE] == "false"
