"""``srm-keras analyze`` end to end on a tiny run folder; its help loads no framework."""

from __future__ import annotations

import csv
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import types

from PIL import Image

import srm_keras.analysis
from srm_keras import cli
from srm_keras.cli import analyze


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_analyze_pruning_writes_the_table_and_the_picture(trained_run, tmp_path, capsys):
    output = tmp_path / "pruning"
    argv = ["analyze", "pruning", str(trained_run), "--fractions", "0", "0.5", "1"]
    assert cli.main([*argv, "--output", str(output), "--batch-size", "120"]) == 0
    assert sorted(p.name for p in output.iterdir()) == ["pruning.csv", "pruning.md", "pruning.png"]
    rows = _read_csv(output / "pruning.csv")
    assert [(r["criterion"], float(r["fraction"])) for r in rows] == [
        (criterion, fraction)
        for criterion in ("gate", "bn_scale", "random")
        for fraction in (0.0, 0.5, 1.0)
    ]
    assert {r["model"] for r in rows} == {"srm_resnet20"}
    assert {r["num_examples"] for r in rows} == {"360"}  # the run's held-out fifth
    # Unpruned, the run's own held-out split gives the run's own evaluation.
    evaluation = json.loads((trained_run / "evaluation.json").read_text())
    assert float(rows[0]["accuracy"]) == evaluation["accuracy"]
    table = (output / "pruning.md").read_text()
    assert "| srm_resnet20 | gate |" in table and "without fine-tuning" in table
    with Image.open(output / "pruning.png") as image:
        image.verify()
    assert "wrote " in capsys.readouterr().out


def test_analyze_gates_writes_one_row_per_channel(trained_run, tmp_path):
    assert cli.main(["analyze", "gates", str(trained_run), "--output", str(tmp_path)]) == 0
    rows = _read_csv(tmp_path / "gates.csv")
    assert len(rows) == 3 * (16 + 32 + 64)
    assert list(rows[0]) == ["run", "name", "block", "module", "channel", "mean", "std"]
    assert rows[0]["name"] == "stage1_block1_srm" and rows[0]["run"] == "srm_resnet20"
    assert all(0 < float(r["mean"]) < 1 for r in rows)


def test_a_folder_that_is_no_run_is_an_error(tmp_path, capsys):
    assert cli.main(["analyze", "pruning", str(tmp_path), "--output", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_help_loads_no_framework():
    code = (
        "import sys, contextlib, io\n"
        "from srm_keras import cli\n"
        "for argv in (['analyze', '--help'], ['analyze', 'pruning', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            cli.main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_command_offers_the_library_criteria():
    assert analyze.CRITERIA == srm_keras.analysis.CRITERIA


def test_every_lazy_name_is_the_object_after_every_submodule_is_imported():
    package = srm_keras.analysis
    for module in pkgutil.iter_modules(package.__path__, prefix="srm_keras.analysis."):
        importlib.import_module(module.name)
    for name in package._NAMES:
        assert not isinstance(getattr(package, name), types.ModuleType), name
    assert set(package._NAMES) <= set(dir(package))
    assert srm_keras.analysis is importlib.import_module("srm_keras").analysis
