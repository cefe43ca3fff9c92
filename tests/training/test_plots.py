"""Pictures: training curves (epochs from 0, a marker on every point), comparisons, confusion."""

import csv

import numpy as np
import pytest
from matplotlib.lines import Line2D
from PIL import Image

from srm_keras.training.plots import (
    EPOCH_LABEL,
    comparison_figure,
    confusion_figure,
    history_figure,
    plot_comparison,
    plot_confusion_matrix,
    plot_history,
)

COLUMNS = (
    "epoch",
    "accuracy",
    "loss",
    "top5_accuracy",
    "learning_rate",
    "val_accuracy",
    "val_loss",
    "val_top5_accuracy",
)


def _run(folder, epochs: int):
    """A run folder whose history.csv has ``epochs`` rows, numbered from 0 as training writes."""
    folder.mkdir(parents=True)
    with (folder / "history.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for epoch in range(epochs):
            writer.writerow([epoch, 0.5, 1.0 / (epoch + 1), 0.9, 0.1, 0.4, 1.2, 0.8])
    return folder


def assert_png(path):
    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.width > 100 and image.height > 100
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporaries


def _lines(figure) -> list[Line2D]:
    return [line for ax in figure.axes for line in ax.get_lines()]


def test_one_epoch_shows_as_markers_at_epoch_0(tmp_path):
    figure = history_figure(_run(tmp_path / "run", 1))
    lines = _lines(figure)
    assert len(lines) == 7  # loss x2, accuracy x2, top-5 x2, learning rate
    for line in lines:
        assert line.get_marker() not in (None, "", " ", "None")
        assert line.get_markersize() > 0
        assert list(line.get_xdata()) == [0]
    assert {ax.get_xlabel() for ax in figure.axes} == {EPOCH_LABEL}
    assert all(list(ax.get_xticks()) == [0] for ax in figure.axes)  # no fractions of an epoch


def test_epochs_are_numbered_as_in_history_csv(tmp_path):
    run = _run(tmp_path / "run", 3)
    for figure in (history_figure(run), comparison_figure([run, run], ["a", "b"])):
        for line in _lines(figure):
            assert list(line.get_xdata()) == [0, 1, 2]
            assert line.get_marker() == "o"
        assert all(ax.get_xlabel() == EPOCH_LABEL for ax in figure.axes)


def test_plots_are_written_as_png(tmp_path):
    run = _run(tmp_path / "run", 1)
    out = tmp_path / "pictures"
    assert plot_history(run, out / "one.png") == out / "one.png"
    plot_comparison([run, run], out / "cmp.png", labels=["SRM", "SE"])
    plot_confusion_matrix([[3, 1], [0, 4]], out / "confusion.png", ["cat", "dog"])
    for name in ("one.png", "cmp.png", "confusion.png"):
        assert_png(out / name)


def test_confusion_figure_colours_by_share_and_counts_small_matrices():
    figure = confusion_figure([[3, 1], [0, 0]], ["cat", "dog"], title="digits")
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), [[0.75, 0.25], [0.0, 0.0]])
    assert sorted(text.get_text() for text in ax.texts) == ["0", "0", "1", "3"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["cat", "dog"]
    assert ax.get_title() == "digits"
    many = confusion_figure(np.eye(100, dtype=int))
    assert not many.axes[0].texts  # 100 classes: no numbers, no names


@pytest.mark.parametrize(
    "matrix, names, message",
    [([[1, 2]], None, "square"), ([[1]], ["a", "b"], "2 class names for 1 classes")],
)
def test_confusion_figure_errors(matrix, names, message):
    with pytest.raises(ValueError, match=message):
        confusion_figure(matrix, names)
