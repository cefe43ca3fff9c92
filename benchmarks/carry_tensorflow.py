"""TensorFlow for a machine that cannot install it, in parts small enough to carry.

A lent machine reached only through a size-limited transfer (64 MiB a call, no package index)
cannot take TensorFlow's 274 MB wheel. ``pack`` downloads the wheel for that machine's Python,
keeps what running Keras models and the profiler needs, strips the shared libraries' symbol
tables (the dynamic symbols stay), and writes one xz-compressed tar (about 115 MB for 2.21)
split into parts, beside the small pure-Python packages TensorFlow imports that such an image
may lack. ``unpack`` joins the parts, checks the archive's SHA-256 and extracts it, with those
packages, into a folder to put on ``PYTHONPATH``.

    python benchmarks/carry_tensorflow.py pack --output /tmp/tfpack --parts 2 \\
        --also keras==3.15.1 namex==0.1.0 optree==0.20.0 protobuf==7.36.2
    python3 benchmarks/carry_tensorflow.py unpack /tmp/tfpack/1 /tmp/tfpack/2 --target /tmp/tfsite

Left out of the wheel: the C++ headers (``include/``, for building extensions), StableHLO's
Python extension (the converters' quantiser) and XLA's op kernels (``_xla_ops.so``): models run
with XLA off. ``unpack`` needs Python 3.11.4 or later (its tar filter), pip and this
repository's ``srm_keras.storage`` (standard library only), and extracts into a new or empty
folder only, so that no older TensorFlow's files are left beside the new ones.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srm_keras import storage  # noqa: E402

ARCHIVE = "tensorflow.tar.xz"
MANIFEST = "carry_tensorflow.json"
# Paths in the wheel that running models and the profiler do not import.
LEFT_OUT = (
    "tensorflow/include/",
    "tensorflow/compiler/mlir/stablehlo/stablehlo_extension.so",
    "tensorflow/compiler/tf2xla/ops/_xla_ops.so",
)
# TensorFlow's own requirements that a machine learning image without TensorFlow often lacks
# (libclang, also required, is for code generation and never imported).
EXTRA_PACKAGES = ("astunparse", "gast", "google_pasta", "termcolor")


def _download(requirements: list[str], python: str, folder: Path) -> None:
    platforms = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64"]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", python, "--implementation", "cp", "-d", str(folder)]
    for platform in platforms:
        command += ["--platform", platform]
    subprocess.run(command + requirements, check=True)


def pack(output: Path, version: str, python: str, parts: int, also: list[str]) -> None:
    if output.exists() and any(output.iterdir()):
        raise SystemExit(f"{output} is not empty: give a new --output folder")
    with tempfile.TemporaryDirectory(prefix="carry_tensorflow_") as tmp:
        tmp = Path(tmp)
        wheels = tmp / "wheels"
        _download([f"tensorflow-cpu=={version}"], python, wheels)
        (wheel,) = wheels.glob("tensorflow_cpu-*.whl")
        tree = tmp / "tree"
        with zipfile.ZipFile(wheel) as archive:
            # The package and its metadata (for its version), without the wheel's file list.
            members = [
                name
                for name in archive.namelist()
                if name.startswith(("tensorflow/", "tensorflow_cpu-"))
                and not name.startswith(LEFT_OUT)
                and not name.endswith(".dist-info/RECORD")
            ]
            archive.extractall(tree, members)
        for library in tree.rglob("*.so*"):
            if library.read_bytes()[:4] == b"\x7fELF":
                # Keeps the dynamic symbol table, which loading needs; drops the static one.
                subprocess.run(["strip", "--strip-unneeded", str(library)], check=True)
        print(f"packing {len(members)} files of {wheel.name}", flush=True)
        archive_path = tmp / ARCHIVE
        with archive_path.open("wb") as file:
            tar = subprocess.Popen(
                ["tar", "-cf", "-", "-C", str(tree), "."], stdout=subprocess.PIPE
            )
            xz = subprocess.run(["xz", "-9", "-T0"], stdin=tar.stdout, stdout=file)
            tar.stdout.close()  # so that tar ends, rather than waits, if xz has failed
            if tar.wait() or xz.returncode:
                raise SystemExit("packing failed: tar or xz reported an error above")
        data = archive_path.read_bytes()
        folders = [output / str(i + 1) for i in range(parts)]
        for folder in folders:
            folder.mkdir(parents=True)
        # The small wheels travel with the first part, which is made smaller by their size so
        # that every folder carries about as much.
        _download([*EXTRA_PACKAGES, *also], python, folders[0])
        wheels_size = sum(path.stat().st_size for path in folders[0].glob("*.whl"))
        write_parts(data, folders, wheels_size, {"wheel": wheel.name, "left_out": list(LEFT_OUT)})
    for folder in folders:
        mib = sum(path.stat().st_size for path in folder.iterdir()) / 2**20
        print(f"{folder}: {mib:.1f} MiB")


def write_parts(data: bytes, folders: list[Path], first_less: int, about: dict) -> None:
    """Splits ``data`` into one part per folder, the first ``first_less`` bytes shorter than an
    even share (what else its folder carries), and writes the manifest to the first folder."""
    share = -(-(len(data) + first_less) // len(folders))
    first = max(share - first_less, 0)
    ends = [min(first + i * share, len(data)) for i in range(len(folders) - 1)] + [len(data)]
    names = []
    for i, (folder, start, end) in enumerate(zip(folders, [0, *ends[:-1]], ends)):
        names.append(f"{ARCHIVE}.{i:02d}")
        storage.write_bytes(folder / names[-1], data[start:end])
    manifest = {**about, "parts": names, "sha256": hashlib.sha256(data).hexdigest()}
    manifest["bytes"] = len(data)
    storage.write_json(folders[0] / MANIFEST, manifest)


def unpack(folders: list[Path], target: Path) -> None:
    manifests = [folder / MANIFEST for folder in folders if (folder / MANIFEST).exists()]
    if len(manifests) != 1:
        raise SystemExit(
            f"expected one {MANIFEST} among {[str(f) for f in folders]}, found {len(manifests)}:"
            " pass the folders of one pack"
        )
    manifest = storage.read_json(manifests[0])
    paths = []
    for name in manifest["parts"]:
        found = [folder / name for folder in folders if (folder / name).is_file()]
        if not found:
            raise SystemExit(f"missing part {name}: pass every folder pack wrote")
        paths.append(found[0])
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"{target} is not empty: unpack into a new folder")
    # Built beside the target and renamed into place once complete: a run cut short leaves no
    # half-extracted TensorFlow where the next run would import it.
    with storage.staging_folder(target) as staging, tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / ARCHIVE
        digest = hashlib.sha256()
        with joined.open("wb") as file:
            for path in paths:
                with path.open("rb") as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        file.write(block)
        if digest.hexdigest() != manifest["sha256"]:
            raise SystemExit("the joined parts do not match the packed archive: copy them again")
        with tarfile.open(joined, "r:xz") as archive:
            archive.extractall(staging, filter="data")
        wheels = [str(path) for folder in folders for path in folder.glob("*.whl")]
        if wheels:
            pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
            pip += ["--no-compile", "--no-cache-dir", "--upgrade", "--target", str(staging)]
            subprocess.run(pip + wheels, check=True)
        storage.publish_folder(staging, target, replace=True)  # an empty target folder
    print(f"unpacked {manifest['wheel']} into {target}")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more parts, not {text!r}")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pack_parser = commands.add_parser("pack", help="download, prune and split TensorFlow")
    pack_parser.add_argument("--output", type=Path, required=True)
    pack_parser.add_argument("--version", default="2.21.0", help="tensorflow-cpu version")
    pack_parser.add_argument("--python", default="3.12", help="the other machine's Python")
    pack_parser.add_argument("--parts", type=_positive, default=2)
    pack_parser.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="REQUIREMENT",
        help="more wheels to carry, e.g. keras==3.15.1 namex optree protobuf==7.36.2",
    )
    unpack_parser = commands.add_parser("unpack", help="join, check and extract the parts")
    unpack_parser.add_argument("folders", nargs="+", type=Path)
    unpack_parser.add_argument("--target", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.output, args.version, args.python, args.parts, args.also)
    else:
        unpack(args.folders, args.target)


if __name__ == "__main__":
    main()
