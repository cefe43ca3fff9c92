"""The benchmark on tiny models: rows, ratios, and well-formed JSON, CSV and Markdown."""

import csv
import io
import json

import keras
import pytest

from srm_keras.benchmark import run_benchmark
from srm_keras.benchmark.report import CSV_COLUMNS


def _tiny(input_shape, classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


@pytest.fixture(scope="module")
def report():
    return run_benchmark(
        ["resnet20", "srm_resnet20"],
        modes=("inference", "train"),
        batch_sizes=4,
        image_size=16,
        repeats=2,
        classes=10,
    )


def test_rows_cover_every_model_and_mode(report):
    assert [(r["model"], r["mode"]) for r in report.rows] == [
        ("resnet20", "inference"),
        ("resnet20", "train"),
        ("srm_resnet20", "inference"),
        ("srm_resnet20", "train"),
    ]
    for row in report.rows:
        assert row["repeats"] == 2 and len(row["per_step_s"]) == 2
        assert row["min_s"] <= row["median_s"] <= row["max_s"]
        assert row["images_per_s"] == pytest.approx(4 / row["median_s"])
        assert row["baseline"] == "resnet20"
        assert row["precision"] == "float32" and row["jit_compile"] is False
    srm = next(r for r in report.rows if r["model"] == "srm_resnet20")
    assert srm["params"] == 269_722 + 1_344  # docs/design.md §6: plain option A + SRM
    baseline = [r for r in report.rows if r["model"] == "resnet20"]
    assert all(r["ratio"] == 1.0 and r["cpu_ratio"] == 1.0 for r in baseline)


def test_ratio_is_over_the_baseline_in_the_same_mode(report):
    by = {(r["model"], r["mode"]): r for r in report.rows}
    for mode in ("inference", "train"):
        expected = by["srm_resnet20", mode]["median_s"] / by["resnet20", mode]["median_s"]
        assert by["srm_resnet20", mode]["ratio"] == pytest.approx(expected)


def test_outputs_are_well_formed(report, tmp_path):
    written = report.write(tmp_path / "out" / "results.json")
    assert [p.name for p in written] == ["results.json", "results.csv", "results.md"]
    data = json.loads(written[0].read_text())
    assert data["settings"]["models"] == ["resnet20", "srm_resnet20"]
    assert data["machine"]["cpus"] >= 1 and "keras" in data["machine"]["versions"]
    assert len(data["results"]) == 4
    rows = list(csv.DictReader(io.StringIO(written[1].read_text())))
    assert list(rows[0]) == list(CSV_COLUMNS) and len(rows) == 4
    assert float(rows[2]["median_s"]) == pytest.approx(report.rows[2]["median_s"])
    markdown = written[2].read_text()
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 4
    assert all(line.count("|") == table[0].count("|") for line in table)
    assert "| srm_resnet20 | train | float32 | off | 4 | 16 |" in markdown
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left behind


@pytest.mark.bfloat16
def test_precision_xla_and_baseline_options():
    report = run_benchmark(
        [("tiny", _tiny), ("tiny_b", _tiny)],
        modes="train",
        precisions=("mixed_bfloat16",),
        jit_compile=(True, False),
        batch_sizes=(2, 3),
        image_size=8,
        repeats=1,
        warmup=0,
        baseline="tiny_b",
        classes=3,
    )
    assert len(report.rows) == 2 * 2 * 2
    assert {(r["jit_compile"], r["batch_size"]) for r in report.rows} == {
        (True, 2),
        (True, 3),
        (False, 2),
        (False, 3),
    }
    assert all(r["baseline"] == "tiny_b" for r in report.rows)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"modes": "serve"}, "mode must be one of"),
        ({"precisions": "float64"}, "precision must be one of"),
        ({"jit_compile": "on"}, "jit_compile values"),
        ({"batch_sizes": 0}, "batch_size must be a positive integer"),
        ({"baseline": "resnet50"}, "baseline 'resnet50' is not one of"),
        ({"models": ["resnet20", "resnet20"]}, "Each model may appear once"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"models": ["resnet20"], "image_size": 16, "repeats": 1}
    arguments.update(kwargs)
    models = arguments.pop("models")
    with pytest.raises(ValueError, match=message):
        run_benchmark(models, **arguments)


def test_threads_must_be_set_before_tensorflow_starts():
    import tensorflow as tf

    from srm_keras.benchmark.machine import machine_info, set_threads

    tf.constant(1.0) + 1.0  # TensorFlow's thread pools exist from the first op on
    current = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.raises(ValueError, match="fresh process"):
        set_threads(current + 1)
    assert machine_info()["threads"]["intra_op"] == current


def test_the_machine_record_names_nvidia_gpus_where_nvidia_smi_answers(tmp_path, monkeypatch):
    from srm_keras.benchmark.machine import machine_info
    from srm_keras.benchmark.report import machine_line

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H200, 143771 MiB, 580.159.04'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    machine = machine_info()
    assert machine["nvidia_gpus"] == ["NVIDIA H200, 143771 MiB, 580.159.04"]
    assert "nvidia-smi: NVIDIA H200, 143771 MiB, 580.159.04" in machine_line(machine)
    fake.write_text("#!/bin/sh\nexit 9\n")  # no driver: nothing recorded, no error
    assert machine_info()["nvidia_gpus"] is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert machine_info()["nvidia_gpus"] is None
