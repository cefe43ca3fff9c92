"""The cluster a worker belongs to, as ``TF_CONFIG`` describes it.

Every worker process gets the same ``cluster`` and its own ``task``::

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                "task": {"type": "worker", "index": 0}}'

Worker 0 is the chief: it writes the run's output folder. A cluster may instead name one
``"chief"`` task beside the workers (TensorFlow's other convention); the chief is then that task.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

TF_CONFIG = "TF_CONFIG"
JOBS = ("chief", "worker")
LOCALHOST = "127.0.0.1"


@dataclasses.dataclass(frozen=True)
class Cluster:
    """One worker's view of the cluster.

    ``addresses`` lists every task as ``host:port``, the chief first; ``index`` is this task's
    position in that list, so ``index == 0`` is the chief.
    """

    addresses: tuple[str, ...]
    index: int

    @property
    def num_workers(self) -> int:
        return len(self.addresses)

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    def describe(self) -> str:
        role = "chief" if self.is_chief else "worker"
        return f"worker {self.index} of {self.num_workers} ({role}, {self.addresses[self.index]})"


def read_cluster(environ: Mapping[str, str] | None = None) -> Cluster:
    """The :class:`Cluster` of ``TF_CONFIG`` in ``environ`` (default ``os.environ``).

    Raises ValueError naming what is missing or malformed, with an example of a valid value.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(TF_CONFIG)
    if not text:
        raise ValueError(
            f"{TF_CONFIG} is not set; multi-worker training needs it on every worker, e.g. "
            f"{TF_CONFIG}='{tf_config(['host1:12345', 'host2:12345'], 0)}' on the first machine "
            "and index 1 on the second (see `srm-keras worker --help`)."
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{TF_CONFIG} is not valid JSON ({error}): {text!r}.") from None
    return parse_tf_config(config)


def parse_tf_config(config: Any) -> Cluster:
    """Validate a decoded ``TF_CONFIG`` and return its :class:`Cluster`."""
    example = tf_config(["host1:12345", "host2:12345"], 0)
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ValueError(f"{TF_CONFIG} needs a 'cluster' object, e.g. {example}.")
    cluster, task = config["cluster"], config.get("task")
    unknown = sorted(set(cluster) - set(JOBS))
    if unknown:
        raise ValueError(
            f"{TF_CONFIG} cluster has jobs {unknown}; data-parallel training uses only "
            f"{list(JOBS)} (parameter servers and evaluators are not supported)."
        )
    jobs = {job: cluster.get(job, []) for job in JOBS}
    for job, addresses in jobs.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ValueError(f"{TF_CONFIG} cluster {job!r} must be a list of 'host:port' strings.")
        for address in addresses:
            check_address(address)
    if len(jobs["chief"]) > 1:
        raise ValueError(f"{TF_CONFIG} names {len(jobs['chief'])} chiefs; at most one is allowed.")
    addresses = tuple(jobs["chief"] + jobs["worker"])
    if len(set(addresses)) != len(addresses):
        raise ValueError(f"{TF_CONFIG} lists an address twice: {list(addresses)}.")
    if len(addresses) < 1:
        raise ValueError(f"{TF_CONFIG} cluster lists no workers, e.g. {example}.")
    if not isinstance(task, dict) or task.get("type") not in JOBS:
        raise ValueError(
            f"{TF_CONFIG} needs a 'task' with a 'type' in {list(JOBS)} and an 'index', "
            f"e.g. {example}."
        )
    kind, index = task["type"], task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(jobs[kind]):
        raise ValueError(
            f"{TF_CONFIG} task index {index!r} is not one of the {len(jobs[kind])} {kind!r} "
            "tasks of the cluster (indices start at 0)."
        )
    return Cluster(addresses, index if kind == "chief" else len(jobs["chief"]) + index)


def check_address(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"worker address {address!r} is not 'host:port' (e.g. '10.0.0.1:12345').")


def tf_config(addresses: Sequence[str], index: int) -> str:
    """The ``TF_CONFIG`` value of worker ``index`` in a cluster of ``addresses``."""
    for address in addresses:
        check_address(address)
    if not 0 <= index < len(addresses):
        raise ValueError(f"index {index} is outside the {len(addresses)} workers.")
    config = {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}
    return json.dumps(config, separators=(",", ":"))


def free_addresses(count: int, host: str = LOCALHOST) -> list[str]:
    """``count`` distinct ``host:port`` addresses whose ports the OS reports free right now.

    The sockets are bound together (port 0) and closed just before returning, so the ports
    differ; another program could still take one before the workers bind it.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [f"{host}:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
