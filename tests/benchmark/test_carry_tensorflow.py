"""benchmarks/carry_tensorflow.py: TensorFlow split into parts for a size-limited transfer.

The parts must join into the packed archive byte for byte, each folder must carry about the
same (the transfer's limit is per call), and a part that is missing or changed must stop the
unpacking with a message rather than leave a broken TensorFlow behind.
"""

from __future__ import annotations

import io
import lzma
import subprocess
import tarfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def carry(load_script):
    return load_script("carry_tensorflow")


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(buffer.getvalue())


def _packed(carry, root: Path, files: dict[str, bytes], parts: int = 1) -> list[Path]:
    """``files`` archived as pack writes them, in ``parts`` folders under ``root``."""
    folders = [root / str(i + 1) for i in range(parts)]
    for folder in folders:
        folder.mkdir()
    carry.write_parts(_archive(files), folders, 0, {"wheel": "tensorflow_cpu-x.whl"})
    return folders


@pytest.mark.parametrize(
    "parts, first_less", [(1, 0), (2, 0), (2, 1000), (3, 333), (3, 8000), (2, 10**9)]
)
def test_parts_join_into_the_archive_and_share_the_load(carry, tmp_path, parts, first_less):
    data = bytes(range(256)) * 40 + b"tail"  # 10,244 bytes
    folders = [tmp_path / str(i) for i in range(parts)]
    for folder in folders:
        folder.mkdir()
    carry.write_parts(data, folders, first_less, {"wheel": "w"})
    sizes = [
        (folder / f"{carry.ARCHIVE}.{i:02d}").stat().st_size for i, folder in enumerate(folders)
    ]
    joined = b"".join(
        (folder / f"{carry.ARCHIVE}.{i:02d}").read_bytes() for i, folder in enumerate(folders)
    )
    assert joined == data
    loads = [sizes[0] + first_less, *sizes[1:]]
    share = -(-(len(data) + first_less) // parts)
    if first_less <= share:
        # Each folder's load is the even share (the last one's what is left), to within the
        # byte of rounding up.
        assert all(share - parts <= load <= share for load in loads[:-1]), loads
        assert loads[-1] <= share
    else:
        assert sizes[0] == 0  # the wheels alone are more than the first folder's share
    assert not list(tmp_path.rglob("*.partial"))


def test_unpack_extracts_the_joined_archive(carry, tmp_path):
    folders = _packed(carry, tmp_path, {"tensorflow/__init__.py": b"VERSION = 'carried'\n"}, 2)
    (tmp_path / "site").mkdir()  # an empty folder is taken
    carry.unpack(folders, tmp_path / "site")
    assert (tmp_path / "site/tensorflow/__init__.py").read_text() == "VERSION = 'carried'\n"
    assert not list(tmp_path.glob(".site*"))  # no staging folder left


def test_a_changed_or_missing_part_is_refused(carry, tmp_path):
    folders = _packed(carry, tmp_path, {"tensorflow/__init__.py": b"x = 1\n" * 100}, 2)
    with pytest.raises(SystemExit, match="missing part"):
        carry.unpack(folders[:1], tmp_path / "site")
    with pytest.raises(SystemExit, match="expected one"):
        carry.unpack(folders[1:], tmp_path / "site")
    part = folders[1] / f"{carry.ARCHIVE}.01"
    changed = bytearray(part.read_bytes())
    changed[0] ^= 1
    part.write_bytes(bytes(changed))
    with pytest.raises(SystemExit, match="do not match"):
        carry.unpack(folders, tmp_path / "site")
    assert not (tmp_path / "site/tensorflow").exists()


def test_unpack_refuses_a_folder_with_files_in_it(carry, tmp_path):
    # An older TensorFlow's files left beside the new ones would be imported with them.
    (folder,) = _packed(carry, tmp_path, {"tensorflow/__init__.py": b"x = 1\n"})
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "old.py").write_text("")
    with pytest.raises(SystemExit, match="not empty"):
        carry.unpack([folder], tmp_path / "site")
    assert not (tmp_path / "site/tensorflow").exists()


def test_an_unpacking_cut_short_leaves_no_target(carry, tmp_path):
    # A wheel pip cannot install fails the last step: the extracted files never reach the
    # target, so the next run neither imports half a TensorFlow nor is refused.
    (folder,) = _packed(carry, tmp_path, {"tensorflow/__init__.py": b"x = 1\n"})
    (folder / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip file")
    with pytest.raises(subprocess.CalledProcessError):
        carry.unpack([folder], tmp_path / "site")
    assert not (tmp_path / "site").exists()
    assert not list(tmp_path.glob(".site*"))  # nor the half-built folder beside it
