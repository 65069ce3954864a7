"""Semaphore and BoundedSemaphore beyond asyncio's API: timeouts, statistics, bad arguments."""

from __future__ import annotations

import asyncio

import pytest

import aiosync


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.parametrize("cls", [aiosync.Semaphore, aiosync.BoundedSemaphore])
def test_timeout_returns_false_and_keeps_the_count(cls: type[aiosync.Semaphore]) -> None:
    async def main() -> None:
        sem = cls(2)
        assert await sem.acquire(timeout=0) is True
        assert await sem.acquire(timeout=0.5) is True
        assert await sem.acquire(timeout=0.01) is False
        assert await sem.acquire(timeout=0) is False
        assert sem.statistics() == aiosync.SemaphoreStatistics(value=0, tasks_waiting=0)
        sem.release()
        sem.release()
        assert sem.statistics().value == 2

    asyncio.run(main())


def test_timeout_zero_does_not_overtake_a_woken_waiter() -> None:
    async def main() -> None:
        sem = aiosync.Semaphore(1)
        await sem.acquire()
        waiter = asyncio.create_task(sem.acquire())
        await settle()
        sem.release()  # handed to the waiter, which has not run yet
        assert sem.locked()
        assert await sem.acquire(timeout=0) is False
        assert await waiter is True
        assert sem.statistics() == aiosync.SemaphoreStatistics(value=0, tasks_waiting=0)

    asyncio.run(main())


def test_timed_out_waiter_is_skipped_and_permit_goes_to_the_next() -> None:
    async def main() -> None:
        sem = aiosync.Semaphore(0)
        short = asyncio.create_task(sem.acquire(timeout=0.01))
        long = asyncio.create_task(sem.acquire(timeout=30))
        assert await asyncio.wait_for(short, 5) is False
        assert sem.statistics().tasks_waiting == 1
        sem.release()
        assert await asyncio.wait_for(long, 5) is True
        assert sem.statistics() == aiosync.SemaphoreStatistics(value=0, tasks_waiting=0)

    asyncio.run(main())


@pytest.mark.parametrize("cls", [aiosync.Semaphore, aiosync.BoundedSemaphore])
@pytest.mark.parametrize("value", ["3", 2.0, None, True])
def test_non_int_value_is_a_type_error(cls: type[aiosync.Semaphore], value: object) -> None:
    with pytest.raises(TypeError, match=repr(value).replace("(", r"\(").replace(")", r"\)")):
        cls(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [aiosync.Semaphore, aiosync.BoundedSemaphore])
def test_negative_value_is_a_value_error_naming_it(cls: type[aiosync.Semaphore]) -> None:
    with pytest.raises(ValueError, match="-3"):
        cls(-3)


def test_bounded_semaphore_over_release_keeps_state() -> None:
    sem = aiosync.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="released too many times"):
        sem.release()
    assert sem.statistics().value == 2


def test_repr_shows_value_and_waiters() -> None:
    async def main() -> None:
        sem = aiosync.Semaphore(1)
        assert "[unlocked, value:1]" in repr(sem)
        await sem.acquire()
        tasks = [asyncio.create_task(sem.acquire()) for _ in range(2)]
        await settle()
        assert "[locked, waiters:2]" in repr(sem)
        assert sem.statistics().tasks_waiting == 2
        for t in tasks:
            t.cancel()
        await settle()
        assert sem.statistics().tasks_waiting == 0

    asyncio.run(main())


def test_bounded_semaphore_counts_a_permit_in_flight_to_a_woken_waiter() -> None:
    """asyncio lets this over-release through and ends with value 2 > bound 1."""

    async def main() -> None:
        sem = aiosync.BoundedSemaphore(1)
        await sem.acquire()
        waiter = asyncio.create_task(sem.acquire())
        await settle()
        sem.release()  # the permit goes to the waiter, which has not run yet
        with pytest.raises(ValueError, match="released too many times"):
            sem.release()
        waiter.cancel()  # it gives the permit back
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert sem.statistics() == aiosync.SemaphoreStatistics(value=1, tasks_waiting=0)

    asyncio.run(main())
