"""TF_CONFIG parsing and building, and free local addresses."""

from __future__ import annotations

import json
import socket

import pytest

from srm_keras.distributed.cluster import (
    Cluster,
    free_addresses,
    parse_tf_config,
    read_cluster,
    tf_config,
)

ADDRESSES = ["10.0.0.1:2222", "10.0.0.2:2222", "10.0.0.3:2222"]


def test_tf_config_round_trip():
    for index in range(3):
        cluster = read_cluster({"TF_CONFIG": tf_config(ADDRESSES, index)})
        assert cluster == Cluster(tuple(ADDRESSES), index)
        assert cluster.is_chief == (index == 0)
        assert cluster.num_workers == 3
    assert "worker 1 of 3" in read_cluster({"TF_CONFIG": tf_config(ADDRESSES, 1)}).describe()


def test_a_chief_task_comes_first():
    config = {"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]}}
    chief = parse_tf_config({**config, "task": {"type": "chief", "index": 0}})
    second = parse_tf_config({**config, "task": {"type": "worker", "index": 1}})
    assert chief == Cluster(("c:1", "w:1", "w:2"), 0) and chief.is_chief
    assert second.index == 2 and not second.is_chief


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TF_CONFIG is not set"),
        ({"TF_CONFIG": "{not json"}, "not valid JSON"),
        ({"TF_CONFIG": "[]"}, "needs a 'cluster' object"),
    ],
)
def test_missing_or_malformed_tf_config(environ, message):
    with pytest.raises(ValueError, match=message):
        read_cluster(environ)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"cluster": {"ps": ["a:1"], "worker": ["b:1"]}}, "parameter servers"),
        ({"cluster": {"worker": ["a:1"]}}, "needs a 'task'"),
        ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}, "index 1"),
        ({"cluster": {"worker": ["a:1"]}, "task": {"type": "evaluator"}}, "needs a 'task'"),
        ({"cluster": {"worker": ["a"]}, "task": {"type": "worker"}}, "is not 'host:port'"),
        ({"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker"}}, "twice"),
        ({"cluster": {"worker": []}, "task": {"type": "worker"}}, "no workers"),
        ({"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief"}}, "2 chiefs"),
    ],
)
def test_invalid_clusters_name_the_problem(config, message):
    with pytest.raises(ValueError, match=message):
        parse_tf_config(config)


def test_tf_config_is_what_tensorflow_reads():
    value = json.loads(tf_config(ADDRESSES[:2], 1))
    assert value == {
        "cluster": {"worker": ADDRESSES[:2]},
        "task": {"type": "worker", "index": 1},
    }
    with pytest.raises(ValueError, match="outside"):
        tf_config(ADDRESSES, 3)


def test_free_addresses_are_distinct_bindable_local_ports():
    addresses = free_addresses(3)
    assert len(set(addresses)) == 3
    for address in addresses:
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1"
        with socket.socket() as sock:
            sock.bind((host, int(port)))
