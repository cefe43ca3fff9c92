"""Benchmark results: the rows, the machine and the settings, as JSON, CSV and Markdown, and
the ratios to the baseline as a bar chart (PNG)."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from srm_keras import storage

CSV_COLUMNS = (
    "model",
    "kind",
    "mode",
    "precision",
    "jit_compile",
    "batch_size",
    "image_size",
    "params",
    "repeats",
    "steps_per_repeat",
    "median_s",
    "min_s",
    "max_s",
    "first_step_s",
    "images_per_s",
    "baseline",
    "ratio",
)
PIPELINE_COLUMNS = (
    "threads",
    "batch_size",
    "image_size",
    "repeats",
    "batches_per_repeat",
    "median_s",
    "min_s",
    "max_s",
    "images_per_s",
    "images_per_s_per_thread",
)


@dataclass
class BenchmarkReport:
    """The outcome of :func:`srm_keras.benchmark.run_benchmark`.

    ``rows``: one dict per (model, configuration) with the columns of :data:`CSV_COLUMNS` and
    ``per_step_s`` (every round's seconds per step). ``pipeline``: rows of the input pipeline
    benchmark, if one ran (:data:`PIPELINE_COLUMNS`). ``machine`` and ``machine_after``: the
    machine before and after the timing (the load average moves).
    """

    rows: list[dict]
    settings: dict
    machine: dict
    machine_after: dict | None = None
    pipeline: list[dict] = field(default_factory=list)
    pipeline_settings: dict | None = None

    def to_dict(self) -> dict:
        return {
            "settings": self.settings,
            "machine": self.machine,
            "machine_after": self.machine_after,
            "results": self.rows,
            "pipeline_settings": self.pipeline_settings,
            "pipeline": self.pipeline,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_csv(self) -> str:
        """The model rows (the pipeline rows are in the JSON and the Markdown)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue()

    def to_markdown(self) -> str:
        return format_markdown(self)

    def write(self, path: str | os.PathLike) -> list[Path]:
        """Write ``path`` (JSON) and, beside it, the same name with ``.csv`` and ``.md``."""
        path = _json_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for target, text in (
            (path, self.to_json()),
            (path.with_suffix(".csv"), self.to_csv()),
            (path.with_suffix(".md"), self.to_markdown()),
        ):
            storage.write_text(target, text)
            written.append(target)
        return written

    def write_chart(self, path: str | os.PathLike) -> Path | None:
        """Write :func:`ratio_figure` beside the report ``path`` would write (``.png``), or
        nothing (None) when no row has a ratio."""
        from srm_keras.training.plots import save_figure

        figure = ratio_figure(self)
        if figure is None:
            return None
        return save_figure(figure, _json_path(path).with_suffix(".png"))


def _json_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path if path.suffix.lower() == ".json" else path.with_name(path.name + ".json")


def ratio_figure(report: BenchmarkReport):
    """A ``matplotlib.figure.Figure``: one pair of horizontal bars per model and configuration,
    the wall-time ratio to the baseline and the CPU-time ratio, with the baseline's 1.0 drawn;
    None when no row has a ratio. A configuration names only what varies between the rows."""
    from matplotlib.figure import Figure

    rows = [row for row in report.rows if row.get("ratio") is not None]
    if not rows:
        return None
    varying = [
        key
        for key in ("mode", "precision", "jit_compile", "batch_size", "image_size")
        if len({str(row.get(key)) for row in rows}) > 1
    ]
    labels = [_bar_label(row, varying) for row in rows]
    positions = list(range(len(rows)))[::-1]  # the first row on top
    fig = Figure(figsize=(8, 1.5 + 0.45 * len(rows)))
    ax = fig.subplots()
    height = 0.4
    bars = [
        ax.barh(
            [p + height / 2 for p in positions],
            [r["ratio"] for r in rows],
            height,
            label="wall time",
        )
    ]
    cpu = [r.get("cpu_ratio") for r in rows]
    if any(value is not None for value in cpu):
        bars.append(
            ax.barh(
                [p - height / 2 for p in positions],
                [value or 0.0 for value in cpu],
                height,
                label="CPU time",
            )
        )
    for container in bars:
        ax.bar_label(container, fmt="%.3f", padding=2, fontsize=8)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlim(0, 1.15 * max(max(r["ratio"] for r in rows), *(v or 0.0 for v in cpu)))
    ax.set_yticks(positions, labels)
    ax.set_xlabel(f"ratio to {report.settings.get('baseline')} (median per step; 1 = baseline)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return fig


def _bar_label(row: dict, varying: list[str]) -> str:
    parts = []
    for key in varying:
        value = row.get(key)
        if key == "jit_compile":
            parts.append(f"XLA {_xla(value)}")
        elif key == "batch_size":
            parts.append(f"batch {value}")
        elif key == "image_size":
            parts.append(f"{value} px")
        else:
            parts.append(str(value))
    return row["model"] + (f" ({', '.join(parts)})" if parts else "")


def _xla(value) -> str:
    return "—" if value is None else ("on" if value else "off")


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def machine_line(machine: dict, after: dict | None = None) -> str:
    versions = machine.get("versions", {})
    tf_version = versions.get("tensorflow") or versions.get("tensorflow-cpu")
    parts = [
        f"{machine.get('cpu_model')}",
        f"{machine.get('usable_cpus')} usable of {machine.get('cpus')} CPUs",
        f"{machine.get('memory_gib')} GiB",
        f"Keras {versions.get('keras')} ({machine.get('keras_backend')} backend)",
    ]
    if tf_version:
        parts.append(f"TensorFlow {tf_version}")
    if machine.get("accelerators"):
        parts.append("accelerators: " + ", ".join(machine["accelerators"]))
    if machine.get("nvidia_gpus"):
        parts.append("nvidia-smi: " + "; ".join(machine["nvidia_gpus"]))
    threads = machine.get("threads")
    if threads and threads.get("intra_op"):
        parts.append(
            f"TensorFlow threads {threads['intra_op']} intra-op / {threads['inter_op']} inter-op"
        )
    for name, value in (machine.get("environment") or {}).items():
        parts.append(f"{name}={value}")
    load = machine.get("load_average_1_5_15")
    text = "; ".join(parts) + f"; load average (1/5/15 min) {load} at start"
    if after is not None:
        text += f", {after.get('load_average_1_5_15')} at end"
    return text + "."


def format_markdown(report: BenchmarkReport) -> str:
    """Tables of the model rows (grouped by configuration) and of the input pipeline."""
    lines = [f"Machine: {machine_line(report.machine, report.machine_after)}", ""]
    if report.rows:
        baseline = report.settings.get("baseline")
        lines += [
            f"ratio: median wall time per step over {baseline}'s in the same configuration and "
            "run; CPU ratio: the same for the process CPU time (steadier when other work "
            "shares the cores).",
            "",
            "| model | mode | precision | XLA | batch | image | median ms/step | min–max ms "
            "| images/s | ratio | CPU ms/step | CPU ratio |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]

        def order(row):
            return (row["mode"], row["batch_size"], str(row["precision"]), str(row["jit_compile"]))

        for row in sorted(report.rows, key=order):
            lines.append(
                f"| {row['model']} | {row['mode']} | {row['precision'] or '—'} "
                f"| {_xla(row['jit_compile'])} | {row['batch_size']} | {row['image_size']} "
                f"| {1000 * row['median_s']:.1f} "
                f"| {1000 * row['min_s']:.1f}–{1000 * row['max_s']:.1f} "
                f"| {row['images_per_s']:.1f} | {_ratio(row['ratio'])} "
                f"| {1000 * row['cpu_median_s']:.1f} | {_ratio(row['cpu_ratio'])} |"
            )
    if report.pipeline:
        settings = report.pipeline_settings or {}
        lines += [
            "",
            f"Input pipeline (decode JPEG + random resized crop + flip + normalise, "
            f"{settings.get('images')} generated JPEGs of {settings.get('source_size')} pixels, "
            f"mean {settings.get('mean_file_bytes')} bytes), tf.data private thread pool of "
            "the given size:",
            "",
            "| threads | batch | image | median s/batch | images/s | images/s per thread |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in report.pipeline:
            lines.append(
                f"| {row['threads']} | {row['batch_size']} | {row['image_size']} "
                f"| {row['median_s']:.3f} | {row['images_per_s']:.1f} "
                f"| {row['images_per_s_per_thread']:.1f} |"
            )
        train = [row for row in report.rows if row["mode"] == "train"]
        if train:
            per_thread = max(row["images_per_s_per_thread"] for row in report.pipeline)
            lines += [
                "",
                f"Training beside the pipeline: one pipeline thread decodes and augments "
                f"{per_thread:.1f} images/s, so feeding each model takes this many cores' "
                "worth of input work (the cores the model also computes on):",
                "",
            ]
            for row in train:
                lines.append(
                    f"- {row['model']} ({row['precision']}, XLA {_xla(row['jit_compile'])}, "
                    f"batch {row['batch_size']}): trains at {row['images_per_s']:.1f} images/s; "
                    f"input needs {row['images_per_s'] / per_thread:.2f} cores"
                )
    return "\n".join(lines) + "\n"
