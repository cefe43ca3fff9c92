"""Prints two CPUs on different physical cores of one processor, e.g. ``0,1``, for ``taskset -c``.

The benchmarks run on 2 cores of a bigger machine to compare with the project's 2-core one. A
core's second hardware thread would share its units, and a second processor its own memory, so
the CPUs printed are the first allowed hardware thread of two cores of one package, among the
CPUs this process may use (``os.sched_getaffinity``), read from /sys. Exits with a message
where no two such CPUs exist, rather than print CPUs ``taskset`` would refuse.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def two_cpus(allowed: set[int], sysfs: Path = Path("/sys/devices/system/cpu")) -> list[int]:
    cores: dict[tuple[str, str], int] = {}  # (package, core) -> the core's first allowed CPU
    for path in sysfs.glob("cpu[0-9]*"):
        cpu = int(re.fullmatch(r"cpu(\d+)", path.name).group(1))
        try:
            core = tuple(
                (path / "topology" / name).read_text().strip()
                for name in ("physical_package_id", "core_id")
            )
        except OSError:
            continue
        if cpu in allowed:
            cores[core] = min(cpu, cores.get(core, cpu))
    packages: dict[str, list[int]] = {}
    for (package, _), cpu in sorted(cores.items(), key=lambda item: item[1]):
        packages.setdefault(package, []).append(cpu)
    for cpus in sorted(packages.values()):
        if len(cpus) >= 2:
            return cpus[:2]
    raise SystemExit(
        f"no two physical cores of one processor among the CPUs allowed ({sorted(allowed)})"
    )


if __name__ == "__main__":
    print(",".join(map(str, two_cpus(os.sched_getaffinity(0)))))
