"""Where ONNX Runtime spends its time in exported models: per operator type, from its profiler.

    .venv/bin/python benchmarks/onnx_profile.py /tmp/graphs/{resnet50,se_resnet50}.onnx \\
        --output benchmarks/results/<date>_cpu_onnx_profile/cpu_onnx_profile.json

Each model runs ``--runs`` times at ``--batch-size`` after a warm-up, with ONNX Runtime's
profiler on (CPU execution provider, default optimisations: the graph it profiles is the one it
runs after its own rewrites, NCHWc reorders included). Reported per model: milliseconds per run
by operator type, summed over the nodes of that type, and the total.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def profile(path: Path, batch_size: int, runs: int, threads: int | None = None) -> dict[str, float]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), path.stem)
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    shape = [batch_size, *given.shape[1:]]
    feed = {given.name: np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)}
    for _ in range(3):  # warm-up, profiled too: dropped below
        session.run(None, feed)
    for _ in range(runs):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_run = len(nodes) // (runs + 3)
    timed = nodes[3 * per_run :]
    totals: dict[str, float] = collections.Counter()
    for event in timed:
        totals[event["args"]["op_name"]] += event["dur"] / 1e3 / runs  # microseconds -> ms
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, help="intra-op threads (default: ONNX Runtime's own choice)"
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    from srm_keras.benchmark.machine import machine_info

    result = {
        "machine": machine_info(),
        "batch_size": args.batch_size,
        "runs": args.runs,
        "threads": args.threads,
    }
    result["models"] = {}
    for path in args.models:
        per_op = profile(path, args.batch_size, args.runs, args.threads)
        total = sum(per_op.values())
        result["models"][path.stem] = {"total_ms": round(total, 2), "ms_by_operator": per_op}
        top = ", ".join(f"{op} {ms:.1f}" for op, ms in list(per_op.items())[:8])
        print(f"{path.stem}: {total:.1f} ms per run; {top}")
    if args.output:
        from srm_keras import storage

        storage.write_json(args.output, result)


if __name__ == "__main__":
    main()
