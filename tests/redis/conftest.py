"""Fixtures for the Redis tests: a real redis-server per session, a fresh database and a
client per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _cluster import RedisClusterServer
from _server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    yield server
    server.stop()


@pytest.fixture
def server(redis_server: RedisServer) -> RedisServer:
    """The session's server, emptied."""
    if redis_server.proc is None:
        redis_server.start()
    import redis

    with redis.Redis(port=redis_server.port) as r:
        r.flushall()
    return redis_server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """A Redis Cluster of 3 masters (tests/redis/_cluster.py), started by the first test
    that asks for it (about 2 s: Redis's own writable delay) and kept for the session."""
    cluster = RedisClusterServer(Path(tmp_path_factory.mktemp("redis-cluster")))
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster(redis_cluster: RedisClusterServer) -> RedisClusterServer:
    """The session's cluster, emptied (FLUSHALL on each master)."""
    redis_cluster.flushall()
    return redis_cluster
