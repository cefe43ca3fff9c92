"""The notebooks: committed clean, runnable top to bottom in a kernel of this interpreter.

Each notebook starts with a cell tagged ``parameters``. The tests insert a cell after it that
overrides those settings with small ones (as papermill does), run every cell with nbclient,
and check the pictures each notebook promises for the README's gallery.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
GALLERY = ROOT / "docs" / "images"
KERNEL = "python3"
CELL_TIMEOUT = 600

# Small settings for each notebook; OUTPUT_DIR, DATA_DIR and the gallery flags come on top.
SMALL = {
    "01_quickstart.ipynb": {"EPOCHS": 1, "IMAGE_SIZE": 8, "TABLE_MODELS": ["srm_resnet50"]},
    "02_compare_modules.ipynb": {"EPOCHS": 1, "IMAGE_SIZE": 8, "MODULES": ["se", "srm", "mssar"]},
    "03_export_and_serve.ipynb": {
        "EPOCHS": 1,
        "IMAGE_SIZE": 8,
        # The quantised formats' top-1 bound is for trained models, not for a 1-epoch one.
        "FORMATS": ["savedmodel", "tflite_float32", "tflite_float16", "onnx"],
    },
    "04_tuning.ipynb": {"EPOCHS": 1, "IMAGE_SIZE": 8, "MAX_TRIALS": 2, "BATCH_SIZES": [64]},
    "05_pretrained_weights.ipynb": {"EPOCHS": 1, "IMAGE_SIZE": 8, "IMAGENET_MODEL": "srm_resnet18"},
    "06_paper_analyses.ipynb": {
        "EPOCHS": 1,
        "IMAGE_SIZE": 8,
        "MODULES": ["srm", "srm_mlp"],
        "FRACTIONS": [0.0, 0.5],
        "CRITERIA": ["gate", "random"],
    },
}
# The README's gallery: the pictures each notebook writes when SAVE_GALLERY is on.
PICTURES = {
    "01_quickstart.ipynb": {"quickstart_predictions.png"},
    "02_compare_modules.ipynb": {"compare_modules.png", "gate_histograms.png", "std_response.png"},
    "03_export_and_serve.ipynb": {"export_parity.png"},
    "04_tuning.ipynb": {"tuning_trials.png"},
    "05_pretrained_weights.ipynb": set(),
    "06_paper_analyses.ipynb": {"ablations.png", "pruning_curves.png"},
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PICTURE_BYTES = 200_000


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def parameters_cell(notebook: nbformat.NotebookNode) -> int:
    tagged = [
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


def parameter_names(notebook: nbformat.NotebookNode) -> set[str]:
    source = notebook.cells[parameters_cell(notebook)].source
    return {
        target.id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def kernel_environment() -> dict[str, str]:
    """This process's environment, with the repository importable in the kernel."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started from the notebooks folder; raises on an error."""
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=kernel_environment())
    return notebook


def with_overrides(notebook: nbformat.NotebookNode, overrides: dict) -> nbformat.NotebookNode:
    unknown = sorted(set(overrides) - parameter_names(notebook))
    assert not unknown, f"overrides {unknown} are not settings of the parameters cell"
    source = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(parameters_cell(notebook) + 1, cell)
    return notebook


def test_every_notebook_has_small_settings():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_is_committed_clean(name):
    notebook = read(name)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == KERNEL
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0] is notebook.cells[parameters_cell(notebook)], "parameters come first"
    for cell in code:
        assert cell.outputs == [], "strip the outputs before committing"
        assert cell.execution_count is None, "strip the execution counts before committing"
    expected = set(SMALL[name]) | {"OUTPUT_DIR", "DATA_DIR"}
    if PICTURES[name]:
        expected |= {"SAVE_GALLERY", "GALLERY_DIR"}
    assert expected <= parameter_names(notebook)


def test_gallery_pictures_are_committed():
    for picture in set().union(*PICTURES.values()):
        data = (GALLERY / picture).read_bytes()
        assert data.startswith(PNG_SIGNATURE), picture
        assert len(data) < MAX_PICTURE_BYTES, f"{picture} is {len(data)} bytes; save it smaller"


def test_kernel_runs_this_interpreter():
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, srm_keras\nprint(sys.executable)")]
    )
    execute(notebook)
    printed = notebook.cells[0].outputs[0].text.strip()
    assert Path(printed).resolve() == Path(sys.executable).resolve()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One tensorflow-datasets folder for all notebooks: the digits are prepared once."""
    return tmp_path_factory.mktemp("tfds")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs(name, data_dir, tmp_path):
    gallery = tmp_path / "gallery"
    overrides = {**SMALL[name], "OUTPUT_DIR": str(tmp_path / "output"), "DATA_DIR": str(data_dir)}
    if PICTURES[name]:
        overrides.update(SAVE_GALLERY=True, GALLERY_DIR=str(gallery))
    notebook = execute(with_overrides(read(name), overrides))

    assert {p.name for p in gallery.glob("*")} == PICTURES[name]
    for picture in gallery.glob("*"):
        assert picture.read_bytes().startswith(PNG_SIGNATURE)
    shown = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    # Every picture saved for the gallery is also shown in the notebook.
    assert len(shown) >= len(PICTURES[name])


#: The packages a notebook may import names from: the public API (a package, not one of the
#: modules inside it).
PUBLIC = {
    "srm_keras",
    *(
        f"srm_keras.{name}"
        for name in (
            "analysis",
            "data",
            "distributed",
            "export",
            "layers",
            "models",
            "training",
            "tuning",
            "weights",
        )
    ),
}


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_uses_the_public_api_only(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    private = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            private += [m for m in modules if m.startswith("srm_keras") and m not in PUBLIC]
    assert private == [], f"{name} imports non-public modules: {private}"
