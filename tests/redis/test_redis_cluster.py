"""aiosync.redis.Lock on a 3-master Redis Cluster: keys of one lock in one slot, wake-ups
published on one node reaching a subscriber on another, renewals batched per slot."""

from __future__ import annotations

import asyncio
import time

from _cluster import RedisClusterServer
from _util import close, key, run, until_queued

import aiosync.redis as ar
from conftest import Deployment


def _names_on_every_node(cluster: RedisClusterServer, count: int) -> list[str]:
    """Lock names whose slots are spread over the 3 masters."""
    from redis.cluster import key_slot

    names: list[str] = []
    owners: set[int] = set()
    i = 0
    while len(names) < count or len(owners) < 3:
        name = f"job{i}"
        owners.add(cluster.slot_owner(key_slot(key(name, "holders").encode())))
        names.append(name)
        i += 1
    return names


def test_fifo_and_pushed_wake_ups_across_nodes(cluster: RedisClusterServer) -> None:
    deployment = Deployment("cluster", cluster)
    inspect = deployment.inspect()
    names = _names_on_every_node(cluster, 3)

    async def one_lock(name: str) -> tuple[list[int], float]:
        clients = [deployment.client() for _ in range(3)]
        locks = [ar.Lock(c, name) for c in clients]
        order: list[int] = []
        await locks[0].acquire()

        async def worker(i: int) -> None:
            async with locks[i % 3]:
                order.append(i)

        tasks = []
        for i in range(1, 5):
            tasks.append(asyncio.create_task(worker(i)))
            await until_queued(inspect, name, i)
        t0 = time.perf_counter()
        await locks[0].release()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        await close(*clients)
        return order, elapsed

    async def main() -> list[tuple[list[int], float]]:
        return [await one_lock(name) for name in names]

    try:
        for order, elapsed in run(main):
            assert order == [1, 2, 3, 4]
            assert elapsed < 5  # pushed: a lost wake-up would cost a 10 s re-check
    finally:
        inspect.close()


def test_watchdog_renews_holds_in_every_slot(cluster: RedisClusterServer) -> None:
    deployment = Deployment("cluster", cluster)
    names = _names_on_every_node(cluster, 12)

    async def main() -> None:
        c = deployment.client()
        locks = [ar.Lock(c, name, lease=0.3) for name in names]
        holding = asyncio.Event()

        async def hold(lock: ar.Lock) -> None:
            async with lock:
                holding.set()
                await asyncio.sleep(1.2)  # four leases
                assert not lock.lost.is_set()

        # 12 first calls at once on a new cluster client: redis-py 8.1 fails some of them
        # (TypeError) unless the client was initialized first, which the session does.
        await asyncio.gather(*(hold(lock) for lock in locks))
        other = deployment.client()
        for name in names:
            assert await ar.Lock(other, name).acquire(timeout=0)
        await close(c, other)

    run(main)
