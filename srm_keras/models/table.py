"""The zoo table: parameters and MACs of each model, beside the paper's figures."""

from __future__ import annotations

from srm_keras.models.counts import model_counts
from srm_keras.models.names import model_name
from srm_keras.models.spec import PAPER_IMAGENET, RESNETS
from srm_keras.models.zoo import list_models, parse_model_name


def zoo_table(names: list[str] | None = None) -> list[dict]:
    """One row per model: trainable parameters, GMACs in both layouts, and the paper's figures.

    Args:
        names: model names (see :func:`list_models`); default: the rows the SRM paper reports.

    Each row has ``name``, ``params``, ``gmacs`` (default layout, stride on the 3x3),
    ``gmacs_1x1`` (stride on the 1x1, the layout of the paper's FLOPs column) and, where the paper
    has the model, ``paper_params_m``, ``paper_gflops``, ``paper_top1``, ``paper_top5`` and
    ``matches_paper``: parameters equal to the paper's 0.01M, and GMACs, rounded to the paper's
    0.01G, within one unit of it (docs/design.md §7: the paper's ResNet-101 baseline is printed
    0.01G above the analytic count, and its module rows are offset with it).

    A model with a module also has ``params_overhead`` and ``macs_overhead``: what the module
    adds, as a fraction of the plain network of the same depth (counted too when it is not a
    row of the table).

    The counts come from the spec tables (:func:`srm_keras.models.counts.model_counts`): no
    model is built.
    """
    names = list(PAPER_IMAGENET) if names is None else names
    rows = []
    for name in names:
        params, macs = model_counts(name)
        row = {"name": name, "params": params, "gmacs": macs / 1e9}
        family, key, module = parse_model_name(name)
        if module is not None:
            plain_params, plain_macs = model_counts(model_name(family, key, None))
            row["params_overhead"] = params / plain_params - 1
            row["macs_overhead"] = macs / plain_macs - 1
        if _has_bottlenecks(name):
            row["gmacs_1x1"] = model_counts(name, stride_on="1x1")[1] / 1e9
        if name in PAPER_IMAGENET:
            params_m, gflops, top1, top5 = PAPER_IMAGENET[name]
            row.update(
                paper_params_m=params_m, paper_gflops=gflops, paper_top1=top1, paper_top5=top5
            )
            row["matches_paper"] = (
                round(row["params"] / 1e6, 2) == params_m
                and abs(round(row["gmacs_1x1"], 2) - gflops) <= 0.01 + 1e-9
            )
        rows.append(row)
    return rows


def _has_bottlenecks(name: str) -> bool:
    """Whether the model is a bottleneck ResNet (the only models with a stride_on option)."""
    family, key, _ = parse_model_name(name)
    return family == "resnet" and RESNETS[key].block == "bottleneck"


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| model | params | GMACs (v1.5) | GMACs (1x1) | module cost (params / MACs) "
        "| paper params | paper GFLOPs | paper top-1 / top-5 | match |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        one_by_one = f"{row['gmacs_1x1']:.3f}" if "gmacs_1x1" in row else "–"
        cost = (
            f"+{100 * row['params_overhead']:.2f}% / +{100 * row['macs_overhead']:.2f}%"
            if "params_overhead" in row
            else "–"
        )
        if "paper_params_m" in row:
            paper = (
                f"{row['paper_params_m']:.2f}M | {row['paper_gflops']:.2f} | "
                f"{row['paper_top1']:.2f} / {row['paper_top5']:.2f} | "
                f"{'yes' if row['matches_paper'] else 'NO'}"
            )
        else:
            paper = "– | – | – | –"
        lines.append(
            f"| {row['name']} | {row['params']:,} | {row['gmacs']:.3f} | {one_by_one} | {cost} "
            f"| {paper} |"
        )
    return "\n".join(lines)


__all__ = ["format_table", "list_models", "zoo_table"]
