"""TensorFlow's CPU allocator, default against BFC: the same models timed in alternating processes.

``TF_CPU_ALLOCATOR_USE_BFC`` is read once per process, so the two settings cannot share one
process. Each round starts one child process per setting, in alternating order (default first in
odd rounds, BFC first in even ones); each child times the models with
``srm_keras.benchmark.run_benchmark`` (warm-up, interleaved repetitions, medians) and reports
its medians. The ratio for a model is its median over rounds with BFC over its median with the
default allocator, so the rounds interleave the two settings the way the harness interleaves
models:

    python benchmarks/allocator_ab.py --models resnet50 srm_resnet50 se_resnet50 --rounds 4 \
        --repeats 3 \
        --output benchmarks/results/2026-11-23_cpu_allocator_ab_b16/cpu_allocator_ab_b16.json

``srm-keras`` turns the BFC allocator on for its own process unless ``TF_CPU_ALLOCATOR_USE_BFC``
is already set (see the README, "What the modules cost").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from srm_keras import storage
from srm_keras.benchmark.machine import machine_info

SETTINGS = {"default": "false", "bfc": "true"}

_CHILD = """
import json, sys
from srm_keras.benchmark import run_benchmark
models, mode, jit, batch, image, repeats, path = json.loads(sys.argv[1])
report = run_benchmark(models, modes=mode, jit_compile=jit, batch_sizes=batch,
                       image_size=image, repeats=repeats)
with open(path, "w", encoding="utf-8") as out:
    json.dump({row["model"]: row["median_s"] for row in report.rows}, out)
"""


def _child(setting: str, args, path: Path) -> dict:
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC=SETTINGS[setting], TF_CPP_MIN_LOG_LEVEL="2")
    payload = json.dumps(
        [
            args.models,
            args.mode,
            args.jit_compile == "on",
            args.batch_size,
            args.image_size,
            args.repeats,
            str(path),
        ]
    )
    subprocess.run([sys.executable, "-c", _CHILD, payload], env=env, check=True)
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "srm_resnet50"])
    parser.add_argument("--mode", choices=["inference", "train"], default="inference")
    parser.add_argument("--jit-compile", choices=["on", "off"], default="off")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="repetitions inside each child")
    parser.add_argument("--output", help="JSON path; a Markdown table is written beside it")
    args = parser.parse_args()

    machine = machine_info()
    medians = {setting: {model: [] for model in args.models} for setting in SETTINGS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(args.rounds):
            order = list(SETTINGS) if round_index % 2 == 0 else list(SETTINGS)[::-1]
            for setting in order:
                result = _child(setting, args, Path(scratch) / f"{round_index}-{setting}.json")
                for model in args.models:
                    medians[setting][model].append(result[model])
            print(f"round {round_index + 1}/{args.rounds} done", flush=True)

    rows = []
    for model in args.models:
        default = statistics.median(medians["default"][model])
        bfc = statistics.median(medians["bfc"][model])
        rows.append(
            {
                "model": model,
                "default_median_s": default,
                "bfc_median_s": bfc,
                "ratio_bfc_to_default": bfc / default,
                "default_rounds_s": medians["default"][model],
                "bfc_rounds_s": medians["bfc"][model],
            }
        )
    table = [
        f"{args.mode}, batch {args.batch_size}, {args.image_size}×{args.image_size}, "
        f"XLA {args.jit_compile}, {args.rounds} rounds of alternating processes",
        "",
        "| model | default allocator ms/step | BFC ms/step | ratio BFC / default |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        table.append(
            f"| {row['model']} | {1000 * row['default_median_s']:.1f} "
            f"| {1000 * row['bfc_median_s']:.1f} | {row['ratio_bfc_to_default']:.3f} |"
        )
    markdown = "\n".join(table) + "\n"
    print(markdown)
    if args.output:
        output = Path(args.output)
        settings = {key: value for key, value in vars(args).items() if key != "output"}
        payload = {"settings": settings, "machine": machine, "results": rows}
        # Atomic writes; the run's folder is created if it is new.
        storage.write_json(output, payload)
        storage.write_text(output.with_suffix(".md"), markdown)
        print(f"wrote {output} and {output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
