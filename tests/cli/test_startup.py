"""The command starts light and speaks plainly: no TensorFlow for --help or --version, one line
for an error, ``python -m srm_keras`` works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from srm_keras import __version__, cli


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


HEAVY = ("tensorflow", "keras", "jax", "torch", "tf2onnx", "keras_tuner")


def test_help_and_version_load_no_framework():
    code = (
        "import sys, contextlib, io\n"
        "from srm_keras import cli\n"
        "for argv in (['--help'], ['--version'], ['train', '--help'], ['export', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            cli.main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""  # no start-up lines either


def test_python_dash_m_and_version():
    result = _run("-m", "srm_keras", "--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"srm-keras {__version__}")


def test_an_unexpected_error_is_one_line_and_the_traceback_needs_dash_v(monkeypatch, capsys):
    import srm_keras.cli.plot as plot_cli

    def run(args):
        raise RuntimeError("the disk went away\nmore details")

    monkeypatch.setattr(plot_cli, "run", run)
    assert cli.main(["plot", "runs/x", "--output", "x.png"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "srm-keras plot: error: RuntimeError: the disk went away (run with -v for the traceback)"
    )
    with pytest.raises(RuntimeError):
        cli.main(["-v", "plot", "runs/x", "--output", "x.png"])


def test_the_names_listed_without_the_library_are_the_librarys():
    from srm_keras.cli.convert import LAYOUT_NAMES
    from srm_keras.tuning import TUNER_NAMES, TUNERS
    from srm_keras.weights import LAYOUTS

    assert LAYOUT_NAMES == tuple(sorted(LAYOUTS))
    assert TUNER_NAMES == tuple(sorted(TUNERS))


def test_models_names_lists_the_zoo_without_a_framework():
    code = (
        "import sys, contextlib, io\n"
        "from srm_keras import cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    cli.main(['models', '--names'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(out.getvalue())\n"
    )
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    loaded, *names = result.stdout.split()
    from srm_keras.models import list_models

    assert loaded == "[]" and names == list_models()
