"""aiosync.redis.Condition, on a standalone server and on a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
from _util import close, key, run

import aiosync.redis as ar
from conftest import Deployment


async def _until_waiting(inspect: Any, name: str, count: int) -> None:
    while inspect.llen(key(name, "queue")) < count:
        await asyncio.sleep(0.005)


def test_notify_wakes_waiters_in_arrival_order_across_clients(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> list[int]:
        clients = [deployment.client() for _ in range(3)]
        conds = [ar.Condition(c, "cv") for c in clients]
        woken: list[int] = []

        async def waiter(i: int) -> None:
            cond = conds[i % 3]
            async with cond:
                assert await cond.wait() is True
                assert cond.lock.token is not None  # the lock is held again
                woken.append(i)

        tasks = []
        for i in range(4):
            tasks.append(asyncio.create_task(waiter(i)))
            await _until_waiting(inspect, "cv", i + 1)
        notifier = conds[1]
        async with notifier:
            assert await notifier.notify() == 1
        while len(woken) < 1:
            await asyncio.sleep(0.005)
        async with notifier:
            assert await notifier.notify(2) == 2
        while len(woken) < 3:
            await asyncio.sleep(0.005)
        async with notifier:
            assert await notifier.notify_all() == 1
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await close(*clients)
        return woken

    woken = run(main)
    assert woken[0] == 0 and sorted(woken[1:3]) == [1, 2] and woken[3] == 3


def test_wait_for_a_predicate_set_by_another_process(deployment: Deployment) -> None:
    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        ca, cb = ar.Condition(a, "cv"), ar.Condition(b, "cv")
        state = {"ready": False}

        async def consumer() -> bool:
            async with ca:
                return await ca.wait_for(lambda: state["ready"])

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0.2)
        async with cb:
            await cb.notify_all()  # a wake-up with the predicate still false
        await asyncio.sleep(0.2)
        async with cb:
            state["ready"] = True
            await cb.notify_all()
        assert await asyncio.wait_for(task, 5) is True
        async with ca:
            assert await ca.wait_for(lambda: False, timeout=0.2) is False
        await close(a, b)

    run(main)


def test_a_notification_to_a_cancelled_waiter_passes_on(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        c = deployment.client()
        cond = ar.Condition(c, "cv")
        reached = asyncio.Event()

        async def waiter() -> bool:
            async with cond:
                reached.set()
                return await cond.wait()

        first = asyncio.create_task(waiter())
        await _until_waiting(inspect, "cv", 1)
        second = asyncio.create_task(waiter())
        await _until_waiting(inspect, "cv", 2)
        async with cond:
            assert await cond.notify() == 1
            # cancelled after being notified, before it could take the lock back
            first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await asyncio.wait_for(second, 5) is True
        assert not await cond.locked()
        await c.aclose()

    run(main)


def test_timeout_returns_false_with_the_lock_held_and_leaves_nothing(
    deployment: Deployment,
) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        c = deployment.client()
        cond = ar.Condition(c, "cv")
        async with cond:
            assert await cond.wait(timeout=0.2) is False
            assert cond.lock.token is not None
            assert await cond.wait(timeout=0) is False
        assert inspect.llen(key("cv", "queue")) == 0
        assert inspect.hlen(key("cv", "alive")) == 0
        with pytest.raises(RuntimeError, match="un-acquired lock"):
            await cond.wait()
        with pytest.raises(RuntimeError, match="un-acquired lock"):
            await cond.notify()
        await c.aclose()

    run(main)


def test_cancelled_wait_raises_with_the_lock_held(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        c = deployment.client()
        cond = ar.Condition(c, "cv")
        held_after: list[bool] = []

        async def waiter() -> None:
            async with cond:
                try:
                    await cond.wait()
                finally:
                    held_after.append(cond.lock.token is not None)

        task = asyncio.create_task(waiter())
        await _until_waiting(inspect, "cv", 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert held_after == [True]
        assert not await cond.locked()
        await c.aclose()

    run(main)


def test_bad_arguments() -> None:
    c = redis.asyncio.Redis()
    with pytest.raises(TypeError, match=r"aiosync\.redis\.Lock"):
        ar.Condition(c, "cv", ar.RLock(c, "cv-lock"))
    with pytest.raises(TypeError, match=r"aiosync\.redis\.Lock"):
        ar.Condition(c, "cv", asyncio.Lock())  # type: ignore[arg-type]


def test_cancelled_while_releasing_the_lock_still_ends_with_it_held(server: Any) -> None:
    """The cancellation may land while wait() releases the lock (a shielded call that
    completes first): wait() must still end holding it."""

    async def main() -> list[bool]:
        c = redis.asyncio.Redis(port=server.port)
        cond = ar.Condition(c, "cv")
        outcomes: list[bool] = []
        for delay in (0.0, 0.0003, 0.0006, 0.001, 0.002, 0.004):

            entered = asyncio.Event()

            async def waiter(entered: asyncio.Event) -> None:
                async with cond:
                    entered.set()
                    try:
                        await cond.wait()
                    finally:
                        outcomes.append(cond.lock.token is not None)

            task = asyncio.create_task(waiter(entered))
            await entered.wait()
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not await cond.locked()
        await c.aclose()
        return outcomes

    assert run(main) == [True] * 6
