"""benchmarks/two_cpus.py: two CPUs for ``taskset`` on different physical cores of one processor,
among those the process may use, or a refusal (never CPUs that share a core's units)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def two_cpus(load_script):
    return load_script("two_cpus").two_cpus


def _sysfs(root: Path, topology: dict[int, tuple[int, int]]) -> Path:
    """A /sys/devices/system/cpu tree: CPU number -> (package, core)."""
    for cpu, (package, core) in topology.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "physical_package_id").write_text(f"{package}\n")
        (folder / "core_id").write_text(f"{core}\n")
    (root / "cpufreq").mkdir()  # not a CPU
    return root


def test_hyperthreads_numbered_after_the_cores(two_cpus, tmp_path):
    # 4 cores, their second threads numbered 4-7 (the usual Linux numbering).
    sysfs = _sysfs(tmp_path, {cpu: (0, cpu % 4) for cpu in range(8)})
    assert two_cpus(set(range(8)), sysfs) == [0, 1]


def test_hyperthreads_numbered_in_pairs(two_cpus, tmp_path):
    sysfs = _sysfs(tmp_path, {cpu: (0, cpu // 2) for cpu in range(8)})
    assert two_cpus(set(range(8)), sysfs) == [0, 2]


def test_only_the_allowed_cpus(two_cpus, tmp_path):
    sysfs = _sysfs(tmp_path, {cpu: (0, cpu // 2) for cpu in range(8)})
    assert two_cpus({3, 4, 5, 7}, sysfs) == [3, 4]


def test_one_processor_when_the_numbering_alternates_between_two(two_cpus, tmp_path):
    sysfs = _sysfs(tmp_path, {cpu: (cpu % 2, cpu // 2) for cpu in range(8)})
    assert two_cpus(set(range(8)), sysfs) == [0, 2]


def test_two_threads_of_one_core_are_refused(two_cpus, tmp_path):
    sysfs = _sysfs(tmp_path, {cpu: (0, cpu % 4) for cpu in range(8)})
    with pytest.raises(SystemExit, match="no two physical cores"):
        two_cpus({1, 5}, sysfs)
