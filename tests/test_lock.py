"""Lock beyond asyncio's API: timeouts, statistics, repr, bad arguments."""

from __future__ import annotations

import asyncio
import math
from fractions import Fraction

import pytest

import aiosync


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_timeout_returns_false_holding_nothing_and_leaving_no_waiter() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        await lock.acquire()
        assert await lock.acquire(timeout=0.01) is False
        stats = lock.statistics()
        assert stats.locked is True and stats.tasks_waiting == 0
        lock.release()
        assert not lock.locked()
        # The expired waiter was not handed the lock: a newcomer gets it at once.
        assert await lock.acquire(timeout=0) is True

    run(main())


def test_timeout_zero_never_jumps_the_queue() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        await lock.acquire()
        waiter = asyncio.create_task(lock.acquire())
        await settle()
        lock.release()
        # The lock is free but reserved for the woken waiter, which has not run yet.
        assert not lock.locked()
        assert await lock.acquire(timeout=0) is False
        assert await waiter is True
        assert lock.locked()
        assert await lock.acquire(timeout=0) is False
        lock.release()
        assert await lock.acquire(timeout=0) is True

    run(main())


def test_expired_waiter_is_skipped_in_fifo_order() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        order: list[str] = []
        await lock.acquire()

        async def take(name: str, timeout: float | None) -> None:
            if await lock.acquire(timeout=timeout):
                order.append(name)
                lock.release()
            else:
                order.append(f"{name} timed out")

        a = asyncio.create_task(take("a", 0.01))
        b = asyncio.create_task(take("b", None))
        c = asyncio.create_task(take("c", 5))
        await asyncio.wait_for(a, 5)
        lock.release()
        await asyncio.wait_for(asyncio.gather(b, c), 5)
        assert order == ["a timed out", "b", "c"]

    run(main())


def test_timer_only_when_a_timeout_is_given() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        lock = aiosync.Lock()
        await lock.acquire()
        plain = asyncio.create_task(lock.acquire())
        await settle()
        assert len(loop._scheduled) == 0  # type: ignore[attr-defined]
        timed = asyncio.create_task(lock.acquire(timeout=60))
        await settle()
        assert len(loop._scheduled) == 1  # type: ignore[attr-defined]
        lock.release()
        assert await plain is True
        lock.release()
        assert await timed is True
        # The timer was cancelled when the waiter resumed.
        assert all(h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]
        lock.release()

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf])
def test_bad_timeout_is_a_value_error_even_when_free(timeout: float) -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        with pytest.raises(ValueError, match="timeout"):
            await lock.acquire(timeout=timeout)
        assert not lock.locked()

    run(main())


@pytest.mark.parametrize("timeout", ["1", b"1", [1], True, object()])
def test_non_number_timeout_is_a_type_error(timeout: object) -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        with pytest.raises(TypeError, match="timeout"):
            await lock.acquire(timeout=timeout)  # type: ignore[arg-type]

    run(main())


def test_numeric_timeouts_of_other_types_are_accepted() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        assert await lock.acquire(timeout=Fraction(1, 2)) is True
        lock.release()
        assert await lock.acquire(timeout=math.inf) is True
        lock.release()

    run(main())


def test_statistics_and_repr() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        assert lock.statistics() == aiosync.LockStatistics(locked=False, tasks_waiting=0)
        assert "[unlocked]" in repr(lock)
        await lock.acquire()
        waiters = [asyncio.create_task(lock.acquire()) for _ in range(3)]
        await settle()
        assert lock.statistics() == aiosync.LockStatistics(locked=True, tasks_waiting=3)
        assert "[locked, waiters:3]" in repr(lock)
        with pytest.raises(AttributeError):
            lock.statistics().locked = False  # type: ignore[misc]
        waiters[0].cancel()
        await settle()
        assert lock.statistics().tasks_waiting == 2
        for _ in range(2):
            lock.release()
            await settle()
        await asyncio.gather(*waiters[1:])
        lock.release()
        assert lock.statistics() == aiosync.LockStatistics(locked=False, tasks_waiting=0)

    run(main())


def test_many_timed_out_waiters_do_not_pile_up_in_the_queue() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        await lock.acquire()
        for _ in range(20):
            results = await asyncio.gather(*(lock.acquire(timeout=0.001) for _ in range(500)))
            assert not any(results)
        assert len(lock._queue) <= 64
        assert lock.statistics().tasks_waiting == 0
        lock.release()

    run(main())


def test_many_cancelled_waiters_do_not_pile_up_in_the_queue() -> None:
    async def main() -> None:
        lock = aiosync.Lock()
        await lock.acquire()
        survivor = asyncio.create_task(lock.acquire())
        for _ in range(20):
            tasks = [asyncio.create_task(lock.acquire()) for _ in range(500)]
            await settle()
            for t in tasks:
                t.cancel()
            await settle()
        assert len(lock._queue) <= 2 * 1 + 64
        lock.release()
        assert await survivor is True

    run(main())
