"""The export report: ``export_report.json`` and the same numbers as a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path

from srm_keras import storage

REPORT_JSON = "export_report.json"
REPORT_MARKDOWN = "export_report.md"


def read_report(output_dir: str | Path) -> dict:
    """The report of the export in ``output_dir``; ValueError when there is none."""
    path = Path(output_dir) / REPORT_JSON
    if not path.is_file():
        raise ValueError(f"{output_dir} holds no {REPORT_JSON}; is it an export folder?")
    report = json.loads(path.read_text())
    report["output_dir"] = str(Path(output_dir).resolve())
    return report


def write_report(report: dict) -> None:
    """Write the JSON report and its Markdown table into ``report["output_dir"]``."""
    output_dir = Path(report["output_dir"])
    stored = {key: value for key, value in report.items() if key != "output_dir"}
    storage.write_text(output_dir / REPORT_JSON, json.dumps(stored, indent=2) + "\n")
    storage.write_text(output_dir / REPORT_MARKDOWN, markdown(report))


def _number(value, digits: int = 3, scientific: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}e}" if scientific else f"{value:.{digits}f}"


def _bound(artifact: dict) -> str:
    bound = artifact.get("bound", {})
    parts = []
    if "max_abs_diff" in bound:
        parts.append(f"diff <= {bound['max_abs_diff']:g}")
    if "allowed_disagreements" in artifact:
        parts.append(
            f"top-1 differs on <= {artifact['allowed_disagreements']} of {artifact['samples']}"
        )
    return ", ".join(parts) or "-"


def markdown(report: dict) -> str:
    """A Markdown table of sizes, parity and latency, one row per artifact."""
    verification = report.get("verification", {})
    lines = [
        f"# Export of {report['model_name']} (version {report['version']})",
        "",
        f"Input: `images`, float32 RGB 0-255, (batch, {report['image_size'][0]}, "
        f"{report['image_size'][1]}, 3). Compared with the Keras model on "
        f"{verification.get('samples', 0)} images ({verification.get('origin', 'n/a')}"
        f"{', held out' if verification.get('held_out') else ''}).",
        "",
        "| format | path | size (KiB) | max abs diff (probabilities) | top-1 agreement "
        "| latency (ms/image) | bound | result |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    keras_latency = report.get("keras", {}).get("latency_ms")
    if keras_latency is not None:
        lines.append(f"| keras | - | - | - | - | {_number(keras_latency, 2)} | - | reference |")
    for artifact in report["artifacts"]:
        passed = artifact.get("passed")
        result = "not verified" if passed is None else ("pass" if passed else "**FAIL**")
        agreement = artifact.get("top1_agreement")
        lines.append(
            f"| {artifact['format']} | `{artifact['path']}` | {artifact['bytes'] / 1024:.1f} "
            f"| {_number(artifact.get('max_abs_diff'), 2, scientific=True)} "
            f"| {'-' if agreement is None else f'{100 * agreement:.2f}%'} "
            f"| {_number(artifact.get('latency_ms'), 2)} | {_bound(artifact)} "
            f"| {result} |"
        )
    for name, reason in report.get("skipped", {}).items():
        lines.append(f"| {name} | - | - | - | - | - | - | skipped: {reason} |")
    if "passed" in report:
        lines += ["", "All bounds hold." if report["passed"] else "**A bound was missed.**"]
    return "\n".join(lines) + "\n"
