"""The bar chart of the ratios to the baseline, written beside the report as a PNG."""

import argparse

import pytest
from PIL import Image

from srm_keras.benchmark.report import BenchmarkReport, ratio_figure
from srm_keras.cli import bench


def _row(model, mode, ratio, cpu_ratio):
    return {
        "model": model,
        "mode": mode,
        "precision": "float32",
        "jit_compile": False,
        "batch_size": 4,
        "image_size": 16,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
    }


@pytest.fixture
def report():
    rows = [
        _row("resnet20", "inference", 1.0, 1.0),
        _row("srm_resnet20", "inference", 1.12, 1.08),
        _row("resnet20", "train", 1.0, 1.0),
        _row("srm_resnet20", "train", 1.2, None),
        _row("model.onnx", "inference", None, None),  # no ratio: no bar
    ]
    return BenchmarkReport(rows=rows, settings={"baseline": "resnet20"}, machine={})


def _assert_png(path):
    assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()


def test_one_bar_pair_per_row_with_a_ratio(report):
    ax = ratio_figure(report).axes[0]
    wall, cpu = ax.containers
    assert [bar.get_width() for bar in wall] == [1.0, 1.12, 1.0, 1.2]
    assert [bar.get_width() for bar in cpu] == [1.0, 1.08, 1.0, 0.0]
    # Only the mode varies between the rows, so the labels name only the mode.
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "resnet20 (inference)",
        "srm_resnet20 (inference)",
        "resnet20 (train)",
        "srm_resnet20 (train)",
    ]
    assert ax.get_xlabel().startswith("ratio to resnet20")


def test_written_beside_the_report(report, tmp_path):
    written = report.write_chart(tmp_path / "out" / "results.json")
    assert written == tmp_path / "out" / "results.png"
    _assert_png(written)
    assert report.write_chart(tmp_path / "other") == tmp_path / "other.png"
    empty = BenchmarkReport(rows=[], settings={}, machine={})
    assert empty.write_chart(tmp_path / "none.json") is None
    assert not (tmp_path / "none.png").exists()


def test_bench_command_writes_the_chart(report, tmp_path, monkeypatch, capsys):
    # The command imports the harness when it runs (its --help loads no framework).
    monkeypatch.setattr("srm_keras.benchmark.run_benchmark", lambda *args, **kwargs: report)
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    output = tmp_path / "results.json"
    args = parser.parse_args(["bench", "--models", "resnet20", "--output", str(output)])
    monkeypatch.setattr(BenchmarkReport, "to_markdown", lambda self: "")
    assert args.func(args) == 0
    assert f"wrote {tmp_path / 'results.png'}" in capsys.readouterr().out
    _assert_png(tmp_path / "results.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "results.csv",
        "results.json",
        "results.md",
        "results.png",
    ]
