"""Event beyond asyncio's API: timeouts and statistics."""

from __future__ import annotations

import asyncio

import pytest

import aiosync


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_wait_timeout_returns_false_then_true_once_set() -> None:
    async def main() -> None:
        event = aiosync.Event()
        assert await event.wait(timeout=0) is False
        assert await event.wait(timeout=0.01) is False
        assert event.statistics() == aiosync.EventStatistics(is_set=False, tasks_waiting=0)
        waiter = asyncio.create_task(event.wait(timeout=30))
        await settle()
        assert event.statistics().tasks_waiting == 1
        event.set()
        assert await waiter is True
        assert await event.wait(timeout=0) is True
        assert event.statistics() == aiosync.EventStatistics(is_set=True, tasks_waiting=0)

    asyncio.run(main())


def test_set_then_clear_still_wakes_everyone_waiting() -> None:
    async def main() -> None:
        event = aiosync.Event()
        waiters = [asyncio.create_task(event.wait(timeout=30)) for _ in range(5)]
        await settle()
        event.set()
        event.clear()
        assert await asyncio.gather(*waiters) == [True] * 5
        assert "[unset]" in repr(event)

    asyncio.run(main())


def test_bad_timeout_rejected_even_when_set() -> None:
    async def main() -> None:
        event = aiosync.Event()
        event.set()
        with pytest.raises(ValueError, match="-1"):
            await event.wait(timeout=-1)
        with pytest.raises(TypeError, match="'soon'"):
            await event.wait(timeout="soon")  # type: ignore[arg-type]

    asyncio.run(main())


def test_repr_counts_waiters() -> None:
    async def main() -> None:
        event = aiosync.Event()
        waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
        await settle()
        assert "[unset, waiters:3]" in repr(event)
        event.set()
        await asyncio.gather(*waiters)
        assert "[set]" in repr(event)

    asyncio.run(main())
