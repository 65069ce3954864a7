"""The Redis Cluster fixture (tests/redis/_cluster.py) and the redis-py 8 cluster behaviour
that aiosync.redis relies on: scripts on hash-tagged keys, plain PUBLISH from a script
reaching a subscriber connected to another node, and how keys of several slots are refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _cluster
import pytest
import redis
import redis.asyncio
from _cluster import RedisClusterServer
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import key_slot
from redis.exceptions import ClusterCrossSlotError, RedisClusterException

GUARD = 30.0
SLOTS = 16384

# Sets both keys, then publishes on a fixed channel (not a key: plain PUBLISH is broadcast
# to the whole cluster over the bus).
PUBLISH_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return redis.call('PUBLISH', 'aiosync:wake:SESSION', ARGV[1])
"""


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    async def guarded() -> Any:
        return await asyncio.wait_for(main(), GUARD)

    return asyncio.run(guarded())


def client(cluster: RedisClusterServer, **kwargs: Any) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in cluster.startup_nodes],
        **kwargs,
    )


def tag_on(cluster: RedisClusterServer, port: int) -> str:
    """A hash tag ``{aiosync:...}`` whose slot is served by the master on ``port``."""
    for i in range(10_000):
        tag = f"{{aiosync:x{i}}}"
        if cluster.slot_owner(key_slot(tag.encode())) == port:
            return tag
    raise AssertionError(f"no tag found for port {port}")


def test_three_masters_cover_all_slots_and_agree(cluster: RedisClusterServer) -> None:
    maps = []
    for port in cluster.ports:
        with redis.Redis(port=port, decode_responses=True) as r:
            info = r.execute_command("CLUSTER", "INFO")
            assert "cluster_state:ok" in info
            assert "cluster_known_nodes:3" in info
            assert "cluster_size:3" in info
            maps.append(
                sorted((first, last, node[1]) for first, last, node, *replicas in
                       r.execute_command("CLUSTER", "SLOTS") if not replicas)
            )  # fmt: skip
    assert maps[0] == maps[1] == maps[2]
    slots = [s for first, last, _ in maps[0] for s in range(first, last + 1)]
    assert sorted(slots) == list(range(SLOTS))  # every slot once
    assert {port for _, _, port in maps[0]} == set(cluster.ports)
    assert len(cluster.startup_nodes) == 3
    assert cluster.startup_nodes == [("127.0.0.1", port) for port in cluster.ports]


def test_keyslot_helpers_agree_with_the_server(cluster: RedisClusterServer) -> None:
    async def main() -> None:
        rc = client(cluster)  # keyslot() is local: no initialize() needed
        try:
            with redis.Redis(port=cluster.ports[0]) as r:
                for key in ["{aiosync:x}:a", "{aiosync:x}:b", "plain", "é{}{x}", "{}x"]:
                    server = r.execute_command("CLUSTER", "KEYSLOT", key)
                    assert rc.keyslot(key) == key_slot(key.encode()) == server
            assert rc.keyslot("{aiosync:x}:a") == rc.keyslot("{aiosync:x}:b")
        finally:
            await rc.aclose()

    run(main)


def test_client_sets_and_gets_keys_on_every_node(cluster: RedisClusterServer) -> None:
    keys = {port: f"{tag_on(cluster, port)}:k" for port in cluster.ports}

    async def main() -> None:
        rc = client(cluster)
        try:
            for port, key in keys.items():
                assert await rc.set(key, f"v{port}")
            for port, key in keys.items():
                assert await rc.get(key) == f"v{port}".encode()
            assert len(rc.get_primaries()) == 3
        finally:
            await rc.aclose()

    run(main)
    # Each key is on the node that serves its slot, and nowhere else: 1 key per node
    # (the cluster fixture emptied the nodes before this test).
    for port, key in keys.items():
        with redis.Redis(port=port) as r:
            assert r.dbsize() == 1
            assert r.get(key) == f"v{port}".encode()
    cluster.flushall()
    for port in cluster.ports:
        with redis.Redis(port=port) as r:
            assert r.dbsize() == 0


@pytest.mark.parametrize("script_node", [0, 1, 2])
def test_script_publish_reaches_a_subscriber_on_any_node(
    cluster: RedisClusterServer, script_node: int
) -> None:
    """The script's keys are on node ``script_node``; the subscriber's connection is on
    the node serving the channel name's slot: the same node once, another one twice."""
    port = cluster.ports[script_node]
    tag = tag_on(cluster, port)
    a, b = f"{tag}:a", f"{tag}:b"

    async def main() -> None:
        rc = client(cluster)
        await rc.initialize()  # else pubsub().subscribe() fails (see the test below)
        pubsub = rc.pubsub()
        try:
            await pubsub.subscribe("aiosync:wake:SESSION")
            node = pubsub.get_pubsub_node()
            assert node is not None
            # Plain SUBSCRIBE goes to the master of the channel name's slot.
            assert node.port == cluster.slot_owner(key_slot(b"aiosync:wake:SESSION"))
            confirmation = await pubsub.get_message(timeout=1.0)
            assert confirmation is not None
            assert confirmation["type"] == "subscribe"

            script = rc.register_script(PUBLISH_SCRIPT)
            receivers = await script(keys=[a, b], args=["payload"])
            # PUBLISH counts the subscribers of the node that ran it only.
            assert receivers == (1 if node.port == port else 0)

            message = await pubsub.get_message(timeout=5.0)
            assert message is not None
            assert message["type"] == "message"
            assert message["channel"] == b"aiosync:wake:SESSION"
            assert message["data"] == b"payload"
        finally:
            await pubsub.aclose()
            await rc.aclose()

    run(main)
    with redis.Redis(port=port) as r:
        assert r.mget(a, b) == [b"payload", b"payload"]


def test_pubsub_needs_an_initialized_client_and_times_out_with_none(
    cluster: RedisClusterServer,
) -> None:
    async def main() -> None:
        rc = client(cluster)
        pubsub = rc.pubsub()
        try:
            # redis-py 8.1: a never-used client has an empty slots cache, and plain
            # SUBSCRIBE looks the channel's slot up in it: KeyError(slot).
            with pytest.raises((KeyError, RedisClusterException)):
                await pubsub.subscribe("aiosync:wake:SESSION")
            assert pubsub.get_pubsub_node() is None
        finally:
            await pubsub.aclose()

        await rc.initialize()
        pubsub = rc.pubsub()
        try:
            with pytest.raises(RuntimeError, match="did you forget to call subscribe"):
                await pubsub.get_message(timeout=0.1)
            await pubsub.subscribe("aiosync:wake:SESSION")
            assert (await pubsub.get_message(timeout=1.0) or {}).get("type") == "subscribe"
            started = time.monotonic()
            assert await pubsub.get_message(timeout=0.3) is None
            assert time.monotonic() - started >= 0.25
            await rc.publish("aiosync:wake:SESSION", "x")  # after a timeout: still subscribed
            assert (await pubsub.get_message(timeout=5.0) or {}).get("data") == b"x"
        finally:
            await pubsub.aclose()
            await rc.aclose()
        assert pubsub.connection is None
        assert not pubsub.subscribed

    run(main)


def test_script_keys_must_share_one_slot_even_on_one_node(cluster: RedisClusterServer) -> None:
    # Two keys of different slots served by the same node.
    port = cluster.ports[0]
    first = f"{tag_on(cluster, port)}:a"
    second = next(
        f"k{i}"
        for i in range(10_000)
        if cluster.slot_owner(key_slot(f"k{i}".encode())) == port
        and key_slot(f"k{i}".encode()) != key_slot(first.encode())
    )

    async def main() -> None:
        fresh = client(cluster)
        try:
            # A never-used client does not know the slots yet: it sends the EVALSHA to
            # some node, and the server refuses it (CROSSSLOT, a ResponseError).
            with pytest.raises(ClusterCrossSlotError):
                await fresh.register_script(PUBLISH_SCRIPT)(keys=[first, second], args=["x"])
        finally:
            await fresh.aclose()

        rc = client(cluster)
        await rc.initialize()
        try:
            # An initialized client refuses before sending, with RedisClusterException,
            # which is NOT a RedisError.
            with pytest.raises(RedisClusterException, match="same key slot") as caught:
                await rc.register_script(PUBLISH_SCRIPT)(keys=[first, second], args=["x"])
            assert not isinstance(caught.value, redis.RedisError)
        finally:
            await rc.aclose()

        # The server itself refuses declared keys of two slots, even both local.
        async with redis.asyncio.Redis(port=port) as direct:
            with pytest.raises(ClusterCrossSlotError):
                await direct.eval(PUBLISH_SCRIPT, 2, first, second, "x")

    run(main)
    for p in cluster.ports:
        with redis.Redis(port=p) as r:
            assert r.dbsize() == 0  # nothing was written


def test_missing_redis_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_cluster.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="redis-server is not installed"):
        RedisClusterServer(tmp_path)


def test_a_cluster_that_does_not_form_in_time_is_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Redis keeps a fresh master in cluster_state:fail for 2 s, so 0.3 s is too short.
    monkeypatch.setattr(_cluster, "FORM_TIMEOUT", 0.3)
    spawned: list[Any] = []
    spawn = RedisClusterServer._spawn

    def recording_spawn(self: RedisClusterServer, port: int, bus_port: int) -> Any:
        spawned.append(spawn(self, port, bus_port))
        return spawned[-1]

    monkeypatch.setattr(RedisClusterServer, "_spawn", recording_spawn)
    not_ok = r"did not form within 0\.3 s: port \d+: not cluster_state:ok"
    with pytest.raises(RuntimeError, match=not_ok):
        RedisClusterServer(tmp_path)
    assert len(spawned) == 3
    assert all(proc.poll() is not None for proc in spawned)  # all stopped
