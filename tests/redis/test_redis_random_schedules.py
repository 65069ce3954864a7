"""Random schedules against the permits engine: many tasks on several clients take a
Semaphore or a RWLock with random modes, timeouts and cancellations; the invariants are
checked inside every hold, and the state left behind at the end."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from _util import close, key, run

import aiosync.redis as ar
from conftest import Deployment

TASKS = 24
ROUNDS = 6


async def _maybe_cancelled(coro: Any, rng: random.Random) -> Any:
    """Run ``coro``; one time in four, cancel it after a random short delay."""
    task = asyncio.ensure_future(coro)
    if rng.random() < 0.25:
        await asyncio.sleep(rng.uniform(0, 0.02))
        task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return None


@pytest.mark.parametrize("seed", [1, 2])
def test_semaphore_never_grants_more_than_its_value(deployment: Deployment, seed: int) -> None:
    rng = random.Random(seed)
    inspect = deployment.inspect()

    async def main() -> int:
        clients = [deployment.client() for _ in range(3)]
        sems = [ar.Semaphore(c, "pool", 3) for c in clients]
        inside, most, done = [0], [0], [0]
        tokens: list[int] = []

        async def use(sem: ar.Semaphore) -> None:
            async with sem:
                inside[0] += 1
                try:
                    most[0] = max(most[0], inside[0])
                    assert inside[0] <= 3
                    assert sem.token is not None
                    tokens.append(sem.token)
                    await asyncio.sleep(rng.uniform(0, 0.01))
                    done[0] += 1
                finally:
                    inside[0] -= 1

        async def worker(i: int) -> None:
            sem = sems[i % 3]
            for _ in range(ROUNDS):
                if rng.random() < 0.3:
                    if await sem.acquire(timeout=rng.uniform(0, 0.02)):
                        await sem.release()
                else:
                    await _maybe_cancelled(use(sem), rng)

        await asyncio.gather(*(worker(i) for i in range(TASKS)))
        assert len(set(tokens)) == len(tokens)
        assert not await sems[0].locked()
        for _ in range(3):  # every permit is free again
            assert await sems[0].acquire(timeout=0)
        await close(*clients)
        return done[0]

    assert run(main) > 0
    assert inspect.llen(key("pool", "queue")) == 0
    assert inspect.hlen(key("pool", "alive")) == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_rwlock_never_lets_a_writer_in_with_anyone(deployment: Deployment, seed: int) -> None:
    rng = random.Random(seed)
    inspect = deployment.inspect()

    async def main() -> tuple[int, int]:
        clients = [deployment.client() for _ in range(3)]
        locks = [ar.RWLock(c, "doc") for c in clients]
        readers, writers = [0], [0]
        done = {"read": 0, "write": 0}

        async def use(rw: ar.RWLock, mode: str) -> None:
            async with getattr(rw, mode):
                count = writers if mode == "write" else readers
                count[0] += 1
                try:
                    assert writers[0] == 0 or (writers[0] == 1 and readers[0] == 0)
                    await asyncio.sleep(rng.uniform(0, 0.01))
                    done[mode] += 1
                finally:
                    count[0] -= 1

        async def worker(i: int) -> None:
            rw = locks[i % 3]
            for _ in range(ROUNDS):
                mode = "write" if rng.random() < 0.3 else "read"
                await _maybe_cancelled(use(rw, mode), rng)

        await asyncio.gather(*(worker(i) for i in range(TASKS)))
        assert not await locks[0].read.locked() and not await locks[0].write.locked()
        assert await locks[1].write.acquire(timeout=0)
        await locks[1].write.release()
        await close(*clients)
        return done["read"], done["write"]

    reads, writes = run(main)
    assert reads > 0 and writes > 0
    assert inspect.llen(key("doc", "queue")) == 0
    assert not inspect.exists(key("doc", "holders"))
