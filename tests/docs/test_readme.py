"""The README's Python examples run as written, and every ``srm_keras.…`` name it cites exists.

A ``readme-test`` comment right above a code block may swap in small stand-ins for ImageNet-size
work, without changing the text a reader sees::

    <!-- readme-test
    setup: code run before the block (``standins`` is tests/docs/standins.py)
    replace: text in the block => what runs instead
    -->

Blocks run in order in one namespace, in a temporary working directory, as a reader would paste
them into one session.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs import standins

README = Path(__file__).parents[2] / "README.md"
BLOCK = re.compile(
    r"(?:<!-- readme-test\n(?P<marker>.*?)-->\n)?```python\n(?P<code>.*?)```", re.DOTALL
)
CITED = re.compile(r"`[^`\n]*?\b(srm_keras(?:\.\w+)+)")


@dataclasses.dataclass
class Example:
    line: int  # where the code starts in README.md
    code: str
    setup: list[str]
    replacements: list[tuple[str, str]]


def examples(text: str) -> list[Example]:
    found = []
    for match in BLOCK.finditer(text):
        setup, replacements = [], []
        for entry in (match["marker"] or "").splitlines():
            key, _, value = entry.partition(":")
            if key == "setup":
                setup.append(value.strip())
            elif key == "replace":
                old, arrow, new = value.strip().partition(" => ")
                assert arrow, f"README marker {entry!r}: write 'replace: old => new'"
                replacements.append((old, new))
            elif entry.strip():
                raise AssertionError(f"README marker line {entry!r}: use setup: or replace:")
        line = text.count("\n", 0, match.start("code")) + 1
        found.append(Example(line, match["code"], setup, replacements))
    return found


def test_markers_are_parsed_and_every_replacement_applies():
    found = examples(README.read_text())
    assert len(found) >= 5
    for example in found:
        for old, _ in example.replacements:
            # A stand-in whose text is gone from the block would silently test nothing.
            assert old in example.code, f"README.md:{example.line}: {old!r} is not in the block"


@pytest.mark.slow
def test_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tensorflow_datasets"))
    namespace = {"standins": standins}
    for example in examples(README.read_text()):
        code = example.code
        for old, new in example.replacements:
            code = code.replace(old, new)
        for statement in example.setup:
            exec(compile(statement, f"README.md:{example.line} (setup)", "exec"), namespace)
        # Padding keeps tracebacks on README.md's own line numbers.
        padded = "\n" * (example.line - 1) + code
        exec(compile(padded, str(README), "exec"), namespace)
    assert (tmp_path / "export" / "artifacts" / "export_report.json").is_file()
    assert (tmp_path / "srm_resnet50.safetensors").is_file()


def test_every_cited_name_exists():
    names = sorted(set(CITED.findall(README.read_text())))
    assert "srm_keras.data.load_datasets" in names and "srm_keras.tuning.search" in names
    # A fresh process: after `import srm_keras` alone, as a reader's session starts (in this one,
    # other tests have imported the sub-packages already).
    code = (
        "import functools, sys, srm_keras\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        functools.reduce(getattr, name.split('.')[1:], srm_keras)\n"
        "    except AttributeError:\n"
        "        print(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not result.stdout.split(), f"README.md cites names that do not exist: {result.stdout}"
