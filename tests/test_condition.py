"""Condition beyond asyncio's API: timeouts, statistics, bad arguments."""

from __future__ import annotations

import asyncio

import pytest

import aiosync


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_wait_timeout_returns_false_with_the_lock_held() -> None:
    async def main() -> None:
        cond = aiosync.Condition()
        async with cond:
            assert await cond.wait(timeout=0.01) is False
            assert cond.locked()
            assert await cond.wait(timeout=0) is False
            assert cond.locked()
        assert cond.statistics() == aiosync.ConditionStatistics(locked=False, tasks_waiting=0)

    asyncio.run(main())


def test_wait_timeout_reacquires_even_when_lock_is_busy() -> None:
    async def main() -> None:
        cond = aiosync.Condition()
        log: list[str] = []

        async def waiter() -> None:
            async with cond:
                result = await cond.wait(timeout=0.01)
                log.append(f"waiter back, notified={result}, locked={cond.locked()}")

        async with cond:
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0.05)  # the waiter times out, then waits for the lock
            log.append("holder releases")
        await task
        assert log == ["holder releases", "waiter back, notified=False, locked=True"]

    asyncio.run(main())


def test_notified_before_timeout_returns_true() -> None:
    async def main() -> None:
        cond = aiosync.Condition()

        async def waiter() -> bool:
            async with cond:
                return await cond.wait(timeout=30)

        task = asyncio.create_task(waiter())
        await settle()
        assert cond.statistics().tasks_waiting == 1
        async with cond:
            cond.notify()
        assert await task is True

    asyncio.run(main())


def test_wait_for_timeout_returns_the_predicates_last_value() -> None:
    async def main() -> None:
        cond = aiosync.Condition()
        state = {"value": 0}
        async with cond:
            assert await cond.wait_for(lambda: state["value"], timeout=0.02) == 0
            assert cond.locked()

        async def bump() -> None:
            for i in range(1, 4):
                await asyncio.sleep(0.001)
                async with cond:
                    state["value"] = i
                    cond.notify_all()

        bumper = asyncio.create_task(bump())
        async with cond:
            assert await cond.wait_for(lambda: state["value"] >= 3 and "done", timeout=30) == "done"
        await bumper

    asyncio.run(main())


def test_bad_arguments() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="'x'"):
            aiosync.Condition(lock="x")
        cond = aiosync.Condition()
        async with cond:
            with pytest.raises(ValueError, match="-1"):
                cond.notify(-1)
            with pytest.raises(TypeError, match="'1'"):
                cond.notify("1")  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="callable"):
                await cond.wait_for(True)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="timeout"):
                await cond.wait(timeout=-5)
            assert cond.locked()
        with pytest.raises(ValueError, match="timeout"):
            await cond.wait(timeout=float("nan"))

    asyncio.run(main())


def test_accepts_an_asyncio_lock() -> None:
    async def main() -> None:
        cond = aiosync.Condition(asyncio.Lock())

        async def waiter() -> bool:
            async with cond:
                return await cond.wait()

        task = asyncio.create_task(waiter())
        await settle()
        async with cond:
            cond.notify_all()
        assert await task is True

    asyncio.run(main())


def test_repr_and_statistics_count_waiters() -> None:
    async def main() -> None:
        cond = aiosync.Condition()

        async def waiter() -> None:
            async with cond:
                await cond.wait()

        tasks = [asyncio.create_task(waiter()) for _ in range(4)]
        await settle()
        assert "[unlocked, waiters:4]" in repr(cond)
        assert cond.statistics() == aiosync.ConditionStatistics(locked=False, tasks_waiting=4)
        async with cond:
            cond.notify(2)
            assert cond.statistics().tasks_waiting == 4  # notified, not yet back
        await settle(20)
        assert cond.statistics().tasks_waiting == 2
        async with cond:
            cond.notify_all()
        await asyncio.gather(*tasks)
        assert cond.statistics().tasks_waiting == 0

    asyncio.run(main())
