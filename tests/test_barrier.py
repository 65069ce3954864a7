"""Barrier beyond asyncio's API: timeouts, statistics, bad arguments, Python 3.10."""

from __future__ import annotations

import asyncio
import sys

import pytest

import aiosync


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_broken_barrier_error_is_asyncios_where_it_exists() -> None:
    if sys.version_info >= (3, 11):
        assert aiosync.BrokenBarrierError is asyncio.BrokenBarrierError
    else:
        assert issubclass(aiosync.BrokenBarrierError, RuntimeError)


def test_rounds_give_distinct_indices() -> None:
    async def main() -> None:
        barrier = aiosync.Barrier(4)
        for _ in range(5):
            indices = await asyncio.gather(*(barrier.wait() for _ in range(4)))
            assert sorted(indices) == [0, 1, 2, 3]
        assert barrier.statistics() == aiosync.BarrierStatistics(4, 0, False)

    asyncio.run(main())


def test_timeout_breaks_the_barrier_for_everyone() -> None:
    async def main() -> None:
        barrier = aiosync.Barrier(3)
        patient = asyncio.create_task(barrier.wait())
        await settle()
        assert barrier.n_waiting == 1
        with pytest.raises(aiosync.BrokenBarrierError):
            await barrier.wait(timeout=0.01)
        with pytest.raises(aiosync.BrokenBarrierError):
            await patient
        assert barrier.broken
        with pytest.raises(aiosync.BrokenBarrierError):
            await barrier.wait()
        await barrier.reset()
        assert not barrier.broken
        assert sorted(await asyncio.gather(*(barrier.wait(timeout=30) for _ in range(3)))) == [
            0,
            1,
            2,
        ]

    asyncio.run(main())


def test_timeout_zero_trips_if_last_else_breaks() -> None:
    async def main() -> None:
        barrier = aiosync.Barrier(2)
        first = asyncio.create_task(barrier.wait())
        await settle()
        assert await barrier.wait(timeout=0) == 1
        assert await first == 0
        with pytest.raises(aiosync.BrokenBarrierError):
            await barrier.wait(timeout=0)
        assert barrier.broken

    asyncio.run(main())


def test_single_party_barrier_never_blocks() -> None:
    async def main() -> None:
        barrier = aiosync.Barrier(1)
        assert [await barrier.wait() for _ in range(3)] == [0, 0, 0]
        async with barrier as index:
            assert index == 0

    asyncio.run(main())


@pytest.mark.parametrize(("parties", "error"), [(0, ValueError), (-2, ValueError),
                                                ("3", TypeError), (2.5, TypeError),
                                                (True, TypeError)])
def test_bad_parties(parties: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="parties"):
        aiosync.Barrier(parties)  # type: ignore[arg-type]


def test_repr() -> None:
    async def main() -> None:
        barrier = aiosync.Barrier(3)
        task = asyncio.create_task(barrier.wait())
        await settle()
        assert "[filling, waiters:1/3]" in repr(barrier)
        await barrier.abort()
        assert "[broken]" in repr(barrier)
        with pytest.raises(aiosync.BrokenBarrierError):
            await task

    asyncio.run(main())
