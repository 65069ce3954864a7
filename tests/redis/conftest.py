"""Fixtures for the Redis tests: a real redis-server per session, a fresh database and a
client per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class Deployment:
    """One Redis deployment under test, standalone or cluster, as the tests see it: new
    clients (one client stands for one process) and a sync client to look inside."""

    def __init__(self, kind: str, target: RedisServer | RedisClusterServer) -> None:
        self.kind = kind
        self.target = target
        self._inspect: Any = None

    def client(self) -> Any:
        import redis.asyncio
        from redis.asyncio.cluster import ClusterNode

        if isinstance(self.target, RedisServer):
            return redis.asyncio.Redis(port=self.target.port)
        nodes = [ClusterNode(host, port) for host, port in self.target.startup_nodes]
        return redis.asyncio.RedisCluster(startup_nodes=nodes)

    def inspect(self) -> Any:
        """A sync client that can read any key (closed after the test)."""
        import redis
        from redis.cluster import ClusterNode

        if self._inspect is None:
            if isinstance(self.target, RedisServer):
                self._inspect = redis.Redis(port=self.target.port, decode_responses=True)
            else:
                nodes = [ClusterNode(host, port) for host, port in self.target.startup_nodes]
                self._inspect = redis.RedisCluster(startup_nodes=nodes, decode_responses=True)
        return self._inspect

    def close(self) -> None:
        if self._inspect is not None:
            self._inspect.close()


@pytest.fixture(params=["standalone", "cluster"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Each test using it runs on a standalone server and on a 3-master cluster, emptied."""
    target = request.getfixturevalue("server" if request.param == "standalone" else "cluster")
    deployment = Deployment(request.param, target)
    yield deployment
    deployment.close()
