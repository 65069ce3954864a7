"""aiosync.redis.Semaphore and BoundedSemaphore, on a standalone server and on a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
from _util import close, key, run, until_queued

import aiosync.redis as ar
from conftest import Deployment


def test_at_most_value_holders_served_in_fifo_order(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> tuple[list[str], int, list[tuple[int, int]]]:
        clients = [deployment.client() for _ in range(3)]
        sems = [ar.Semaphore(c, "pool", 2) for c in clients]
        inside, most, order, tokens = [0], [0], [], []
        gate = asyncio.Event()

        async def worker(i: int, sem: ar.Semaphore) -> None:
            async with sem:
                order.append(f"w{i}")
                tokens.append((i, sem.token))
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                await (gate.wait() if i < 2 else asyncio.sleep(0.02))
                inside[0] -= 1

        tasks = [asyncio.create_task(worker(i, sems[i % 3])) for i in range(2)]
        while inside[0] < 2:
            await asyncio.sleep(0.005)
        for i in range(2, 7):
            tasks.append(asyncio.create_task(worker(i, sems[i % 3])))
            await until_queued(inspect, "pool", i - 1)
        gate.set()
        await asyncio.gather(*tasks)
        await close(*clients)
        return order, most[0], tokens

    order, most, tokens = run(main)
    assert sorted(order[:2]) == ["w0", "w1"]  # together, in either order
    assert most == 2
    # Granted in queue order (a token is given at the grant; two permits granted close
    # together may be confirmed, and their blocks entered, in either order).
    granted = [token for _, token in sorted(tokens)]
    assert granted[2:] == sorted(granted[2:]) and len(set(granted)) == 7
    assert inspect.llen(key("pool", "queue")) == 0
    assert not inspect.exists(key("pool", "holders"))


def test_a_task_may_hold_several_permits_and_releases_its_latest(deployment: Deployment) -> None:
    async def main() -> None:
        c = deployment.client()
        sem = ar.Semaphore(c, "pool", 3)
        assert await sem.acquire()
        first = sem.token
        assert await sem.acquire()
        second = sem.token
        assert first is not None and second is not None and second > first
        assert not await sem.locked()
        assert await sem.acquire()
        assert await sem.locked()  # all 3 taken
        await sem.release()
        await sem.release()
        assert sem.token == first
        await sem.release()
        assert sem.token is None
        assert not await sem.locked()
        await c.aclose()

    run(main)


def test_release_without_a_permit_is_refused_and_holders_keep_theirs(
    deployment: Deployment,
) -> None:
    async def main() -> None:
        c = deployment.client()
        sem, bounded = ar.Semaphore(c, "pool", 1), ar.BoundedSemaphore(c, "bounded", 1)
        await sem.acquire()
        await bounded.acquire()

        async def intruder() -> None:
            with pytest.raises(RuntimeError, match="does not hold it"):
                await sem.release()
            with pytest.raises(ValueError, match="released too many times"):
                await bounded.release()

        await asyncio.create_task(intruder())
        assert await sem.locked() and await bounded.locked()
        assert not await ar.Semaphore(c, "pool", 1).acquire(timeout=0)
        await sem.release()
        await bounded.release()
        with pytest.raises(ValueError, match="released too many times"):
            await bounded.release()
        await c.aclose()

    run(main)


def test_a_cancelled_or_timed_out_waiter_lets_the_next_one_through(
    deployment: Deployment,
) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        holder, other = ar.Semaphore(a, "pool", 1), ar.Semaphore(b, "pool", 1)
        await holder.acquire()
        cancelled = asyncio.create_task(other.acquire())
        await until_queued(inspect, "pool", 1)
        timed = asyncio.create_task(other.acquire(timeout=0.3))
        await until_queued(inspect, "pool", 2)
        last = asyncio.create_task(other.acquire())
        await until_queued(inspect, "pool", 3)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await timed is False
        assert inspect.llen(key("pool", "queue")) == 1
        await holder.release()
        assert await asyncio.wait_for(last, 5)  # pushed, not re-checked (that is 10 s)
        await close(a, b)

    run(main)


def test_a_lost_permit_is_surfaced_in_async_with(deployment: Deployment) -> None:
    async def main() -> None:
        c = deployment.client()
        sem = ar.Semaphore(c, "pool", 2, lease=0.3)
        with pytest.raises(ar.LockLostError, match="lost while held"):
            async with sem:
                await c.delete(key("pool", "holders"))
                await asyncio.sleep(5)  # cancelled by the watchdog within lease/3
        assert sem.token is None
        assert await sem.acquire(timeout=0)
        await sem.release()
        await c.aclose()

    run(main)


def test_processes_must_agree_on_what_a_name_is(deployment: Deployment) -> None:
    async def main() -> None:
        c = deployment.client()
        await ar.Semaphore(c, "pool", 2).acquire()
        mismatch = r"'pool' is a semaphore \(value 2\) in Redis.*not a semaphore \(value 3\)"
        with pytest.raises(ValueError, match=mismatch):
            await ar.Semaphore(c, "pool", 3).acquire()
        with pytest.raises(
            ValueError, match=r"'pool' is a semaphore \(value 2\) in Redis.*not a lock"
        ):
            await ar.Lock(c, "pool").acquire(timeout=0)
        assert await ar.BoundedSemaphore(c, "pool", 2).acquire(timeout=0)
        await c.aclose()

    run(main)


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), ("3", TypeError), (True, TypeError), (2.0, TypeError)]
)
def test_bad_values(value: Any, error: type) -> None:
    with pytest.raises(error, match="value"):
        ar.Semaphore(redis.asyncio.Redis(), "pool", value)
