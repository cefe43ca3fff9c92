"""Time the image-folder scan with and without its manifest, on a generated folder of small JPEGs.

Writes ``--classes`` x ``--per-class`` JPEGs of ``--size`` pixels (``train/<class>/``, plus one
image per class in ``val/``) to a temporary folder, then times in one process:

* the plain scan: :func:`srm_keras.data.images.scan_images` on every file in one call, which is
  what every command did before the manifest;
* ``load_datasets`` on the folder three times: with no manifest (it decodes every file and
  writes the manifest), again on the unchanged folder, and after ``--changed`` of the files
  were rewritten.

It prints a Markdown table and writes the figures, the machine before and after, and the
command as JSON:

    python benchmarks/scan_manifest.py \
        --output benchmarks/results/2026-11-27_cpu_scan_manifest_20k/cpu_scan_manifest_20k.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from srm_keras import storage
from srm_keras.benchmark.machine import machine_info
from srm_keras.benchmark.pipeline import write_jpegs
from srm_keras.data import images, load_datasets, scan_manifest


class DecodeCounter:
    """Counts the files handed to the decoding scan (wraps ``images.scan_images``)."""

    def __init__(self):
        self.files = 0
        self.scan_images = images.scan_images
        images.scan_images = self

    def __call__(self, paths, *args, **kwargs):
        self.files += len(paths)
        return self.scan_images(paths, *args, **kwargs)

    def take(self) -> int:
        files, self.files = self.files, 0
        return files


def timed_load(root: Path, counter: DecodeCounter) -> dict:
    started = time.perf_counter()
    bundle = load_datasets(str(root), image_size=32, batch_size=256, seed=0)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "decoded": counter.take(),
        "images": bundle.train_size + bundle.validation_size,
    }


def rewrite(paths: list[str], fraction: float) -> int:
    """Rewrite every ``1/fraction``-th file with other bytes and a later mtime."""
    step = max(1, round(1 / fraction))
    for path in paths[::step]:
        data = Path(path).read_bytes()
        # A JPEG comment segment after the SOI marker: new bytes, same pixels.
        Path(path).write_bytes(data[:2] + b"\xff\xfe\x00\x06edit" + data[2:])
        later = os.stat(path).st_mtime_ns + 10**9
        os.utime(path, ns=(later, later))
    return len(paths[::step])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32, help="side of the JPEGs in pixels")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction rewritten")
    parser.add_argument("--output", type=Path, help="JSON file for the figures")
    args = parser.parse_args(argv)

    before = machine_info()
    counter = DecodeCounter()
    with storage.scratch("srm_keras_scan_bench") as scratch:
        started = time.perf_counter()
        root = write_jpegs(
            scratch / "images",
            args.classes * args.per_class,
            size=(args.size, args.size),
            classes=args.classes,
        )
        generate_seconds = time.perf_counter() - started
        paths = sorted(str(path) for path in root.rglob("*.jpg"))
        mean_bytes = sum(os.path.getsize(path) for path in paths) / len(paths)

        started = time.perf_counter()
        plain = images.scan_images(paths)
        runs = {"plain_scan": {"seconds": round(time.perf_counter() - started, 3)}}
        runs["plain_scan"].update(decoded=counter.take(), images=int(plain.valid.sum()))
        runs["first_load"] = timed_load(root, counter)
        manifest_bytes = scan_manifest.manifest_path(root).stat().st_size
        runs["second_load"] = timed_load(root, counter)
        changed = rewrite(paths, args.changed)
        runs["load_after_changes"] = timed_load(root, counter)
        runs["load_after_changes"]["changed_files"] = changed
    after = machine_info()

    result = {
        "benchmark": "image-folder scan with and without the scan manifest",
        "command": "python benchmarks/scan_manifest.py " + " ".join(argv or sys.argv[1:]),
        "files": len(paths),
        "classes": args.classes,
        "image_size": [args.size, args.size],
        "mean_file_bytes": round(mean_bytes),
        "generate_seconds": round(generate_seconds, 1),
        "manifest_bytes": manifest_bytes,
        "runs": runs,
        "machine_before": before,
        "machine_after": after,
    }
    print(f"{len(paths)} JPEGs of {args.size}x{args.size}, {mean_bytes:.0f} bytes on average")
    print("| run | seconds | files decoded |\n|---|---:|---:|")
    for name, run in runs.items():
        print(f"| {name} | {run['seconds']:.2f} | {run['decoded']} |")
    print(f"manifest: {manifest_bytes} bytes")
    if args.output:
        storage.write_json(args.output, result)
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
