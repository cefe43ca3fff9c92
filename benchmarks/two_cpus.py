"""Prints two CPUs on different physical cores, e.g. ``0,1``, for ``taskset -c``.

The benchmarks run on 2 cores of a bigger machine to compare with the project's 2-core one; a
core's second hardware thread would share its units, so each CPU printed is the first of its
core (by number, from /sys). Falls back to ``0,1`` where the topology is not readable.
"""

import glob
import re

first: dict[tuple[str, str], int] = {}  # (package, core) -> the core's first CPU
for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*"):
    try:
        core = tuple(
            open(f"{path}/topology/{n}").read() for n in ("physical_package_id", "core_id")
        )
    except OSError:
        continue
    cpu = int(re.search(r"cpu(\d+)$", path).group(1))
    first[core] = min(cpu, first.get(core, cpu))
print(",".join(str(cpu) for cpu in sorted(first.values())[:2]) or "0,1")
