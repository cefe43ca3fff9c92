"""Exported ONNX and TFLite files made small enough to carry, and made whole again elsewhere.

A ResNet-50 export is about 100 MB of float32 weights, too much to copy to a machine that is
reached only through a size-limited transfer (a lent machine with another CPU, say). ``blank``
writes each file with the bytes of its large float32 weights set to zero, gzip-compressed
(about 0.1% of the size), and records where each weight lies in the file and its mean and
standard deviation. ``fill`` writes the files back with every such weight drawn from a normal
distribution of that mean and deviation (seeded: the same bytes every time), so that the
kernels see values of the same scale as the exported model's, and no zeros, which some kernels
skip. The graph, the operators and every other byte are the exported file's own.

Timing does not depend on the values beyond their scale; ``srm-keras bench`` on the original
files and on the filled ones, in one run, checks that on a given machine.

    python benchmarks/blank_weights.py blank /tmp/graphs2/{resnet50,se_resnet50}.onnx \\
        --output blanked/
    python benchmarks/blank_weights.py fill blanked/ --output filled/
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srm_keras import storage  # noqa: E402

MANIFEST = "blank_weights.json"
# Weights smaller than this stay as they are: they are a small part of the file, and the
# per-tensor statistics would describe a handful of values poorly.
MIN_ELEMENTS = 256


def _onnx_weights(path: Path) -> list[np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    return [
        numpy_helper.to_array(tensor)
        for tensor in model.graph.initializer
        if tensor.data_type == onnx.TensorProto.FLOAT and tensor.raw_data
    ]


def _tflite_weights(path: Path) -> list[np.ndarray]:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    buffers = {
        tensor.buffer
        for graph in model.subgraphs
        for tensor in graph.tensors
        if tensor.type == schema.TensorType.FLOAT32
    }
    weights = []
    for index in sorted(buffers):
        data = model.buffers[index].data
        if data is not None and len(data) > 0:  # a constant: its values sit in the file
            weights.append(np.frombuffer(np.asarray(data, np.uint8).tobytes(), "<f4"))
    return weights


def weight_ranges(path: Path) -> list[dict]:
    """The byte range, mean and deviation of each large, non-constant float32 weight."""
    blob = path.read_bytes()
    weights = _onnx_weights(path) if path.suffix == ".onnx" else _tflite_weights(path)
    ranges = []
    for value in weights:
        if value.size < MIN_ELEMENTS or float(value.std()) == 0.0:
            continue
        data = np.ascontiguousarray(value, dtype="<f4").tobytes()
        offset = blob.find(data)
        if offset < 0:
            raise ValueError(f"{path}: a weight of shape {value.shape} is not stored as is.")
        if blob.find(data, offset + 1) >= 0:
            raise ValueError(f"{path}: a weight of shape {value.shape} is stored twice.")
        ranges.append(
            {
                "offset": offset,
                "count": int(value.size),
                "mean": float(value.mean(dtype=np.float64)),
                "std": float(value.std(dtype=np.float64)),
            }
        )
    ranges.sort(key=lambda r: r["offset"])
    for before, after in zip(ranges, ranges[1:]):
        if before["offset"] + 4 * before["count"] > after["offset"]:
            raise ValueError(f"{path}: two weights overlap at byte {after['offset']}.")
    return ranges


def blank(paths: list[Path], output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for path in paths:
        ranges = weight_ranges(path)
        blob = bytearray(path.read_bytes())
        for r in ranges:
            blob[r["offset"] : r["offset"] + 4 * r["count"]] = bytes(4 * r["count"])
        compressed = gzip.compress(bytes(blob), compresslevel=6, mtime=0)
        storage.write_bytes(output / f"{path.name}.gz", compressed)
        manifest[path.name] = {"size": len(blob), "weights": ranges}
        blanked = sum(4 * r["count"] for r in ranges)
        print(
            f"{path.name}: {len(ranges)} weights, {blanked / len(blob):.1%} of "
            f"{len(blob) / 1e6:.1f} MB blanked; {len(compressed) / 1e6:.2f} MB compressed"
        )
    storage.write_json(output / MANIFEST, manifest)


def fill(folder: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((folder / MANIFEST).read_text())
    for name, entry in manifest.items():
        blob = bytearray(gzip.decompress((folder / f"{name}.gz").read_bytes()))
        if len(blob) != entry["size"]:
            raise ValueError(f"{name}.gz: {len(blob)} bytes, the manifest says {entry['size']}.")
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        for r in entry["weights"]:
            value = rng.normal(r["mean"], r["std"], r["count"]).astype("<f4")
            blob[r["offset"] : r["offset"] + 4 * r["count"]] = value.tobytes()
        storage.write_bytes(output / name, bytes(blob))
        print(f"{name}: {len(entry['weights'])} weights filled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    blank_parser = commands.add_parser("blank", help="zero the weights and compress")
    blank_parser.add_argument("paths", nargs="+", type=Path, metavar="MODEL.onnx|MODEL.tflite")
    blank_parser.add_argument("--output", type=Path, required=True)
    fill_parser = commands.add_parser("fill", help="draw the weights again and decompress")
    fill_parser.add_argument("folder", type=Path)
    fill_parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "blank":
        blank(args.paths, args.output)
    else:
        fill(args.folder, args.output)


if __name__ == "__main__":
    main()
