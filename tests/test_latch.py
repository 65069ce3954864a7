"""CountdownLatch: counting down, releasing the waiters at zero, timeouts, cancellation,
bad arguments, statistics and repr.

Most tests run on an event loop with a fake clock (time only moves when every task is
blocked, and then jumps to the next timer), so timeouts are exact and instant.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

import aiosync
from _clock import live_timers, no_block, now, run, settle

# --- counting down ----------------------------------------------------------------------


def test_waiters_are_released_when_the_count_reaches_zero() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(3)
        waiters = [asyncio.create_task(latch.wait()) for _ in range(4)]
        await settle()
        for expected in (2, 1):
            latch.count_down()
            assert latch.count == expected
            await settle()
            assert not any(w.done() for w in waiters)
        latch.count_down()
        assert latch.count == 0
        assert await asyncio.gather(*waiters) == [True] * 4
        assert latch.statistics() == aiosync.CountdownLatchStatistics(count=0, tasks_waiting=0)

    run(main())


def test_count_down_by_n() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(10)
        waiter = asyncio.create_task(latch.wait())
        latch.count_down(4)
        latch.count_down(5)
        await settle()
        assert latch.count == 1 and not waiter.done()
        latch.count_down(1)
        assert await waiter is True

    run(main())


def test_an_open_latch_stays_open() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        latch.count_down()
        for _ in range(3):
            assert no_block(latch.wait()) is True
            assert no_block(latch.wait(timeout=0)) is True
            assert no_block(latch.wait(timeout=5)) is True
        assert latch.statistics().tasks_waiting == 0

    run(main())


def test_a_latch_created_at_zero_is_open() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(0)
        assert latch.count == 0
        assert no_block(latch.wait()) is True
        with pytest.raises(ValueError, match="below zero"):
            latch.count_down()

    run(main())


def test_counting_below_zero_is_a_value_error_and_changes_nothing() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(3)
        waiter = asyncio.create_task(latch.wait())
        await settle()
        with pytest.raises(ValueError, match="4") as info:
            latch.count_down(4)
        assert "below zero" in str(info.value)
        assert latch.count == 3
        await settle()
        assert not waiter.done(), "a refused count_down must not open the latch"
        latch.count_down(3)
        assert await waiter is True
        with pytest.raises(ValueError):
            latch.count_down()
        assert latch.count == 0

    run(main())


def test_count_down_from_a_plain_callback_and_another_task() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(2)
        waiter = asyncio.create_task(latch.wait())
        asyncio.get_running_loop().call_soon(latch.count_down)

        async def other() -> None:
            latch.count_down()

        await asyncio.create_task(other())
        assert await waiter is True

    run(main())


def test_count_down_outside_any_event_loop() -> None:
    latch = aiosync.CountdownLatch(2)
    latch.count_down()
    assert latch.count == 1
    latch.count_down()
    assert latch.count == 0

    async def main() -> None:
        assert no_block(latch.wait(timeout=0)) is True

    run(main())


def test_waiters_all_woken_at_once_in_fifo_order() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        order: list[int] = []

        async def waiter(i: int) -> None:
            await latch.wait()
            order.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(6)]
        await settle()
        assert latch.statistics().tasks_waiting == 6
        latch.count_down()
        # All woken by count_down itself; still counted until they run.
        assert latch.statistics().tasks_waiting == 6
        await asyncio.sleep(0)
        assert order == list(range(6))  # every waiter ran in the very next step
        await asyncio.gather(*tasks)
        assert latch.statistics().tasks_waiting == 0

    run(main())


# --- timeouts ---------------------------------------------------------------------------


def test_wait_timeout_returns_false_and_leaves_no_waiter() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        assert await latch.wait(timeout=3) is False
        assert now() == 3
        assert latch.statistics() == aiosync.CountdownLatchStatistics(1, 0)
        assert live_timers() == []
        latch.count_down()
        assert no_block(latch.wait(timeout=0)) is True

    run(main())


def test_wait_with_timeout_is_released_early() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        waiter = asyncio.create_task(latch.wait(timeout=10))
        await asyncio.sleep(2)
        latch.count_down()
        assert await waiter is True
        assert now() == 2
        assert live_timers() == []

    run(main())


def test_timed_out_waiter_does_not_affect_the_others() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        a = asyncio.create_task(latch.wait(timeout=1))
        b = asyncio.create_task(latch.wait())
        c = asyncio.create_task(latch.wait(timeout=5))
        assert await a is False
        assert latch.statistics().tasks_waiting == 2
        latch.count_down()
        assert await b is True
        assert await c is True

    run(main())


def test_timeout_zero_never_blocks() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(2)
        assert no_block(latch.wait(timeout=0)) is False
        assert no_block(latch.wait(timeout=0.0)) is False
        assert latch.statistics().tasks_waiting == 0
        latch.count_down(2)
        assert no_block(latch.wait(timeout=0)) is True

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf])
@pytest.mark.parametrize("count", [0, 1])
def test_bad_timeout_is_a_value_error_even_when_it_would_not_block(
    count: int, timeout: float
) -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(count)
        with pytest.raises(ValueError, match="timeout") as info:
            await latch.wait(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert latch.statistics() == aiosync.CountdownLatchStatistics(count, 0)

    run(main())


@pytest.mark.parametrize("timeout", ["1", True, [1], object()])
@pytest.mark.parametrize("count", [0, 1])
def test_non_number_timeout_is_a_type_error(count: int, timeout: Any) -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(count)
        with pytest.raises(TypeError, match="timeout") as info:
            await latch.wait(timeout=timeout)
        assert repr(timeout) in str(info.value)

    run(main())


# --- cancellation -----------------------------------------------------------------------


def test_cancelled_waiter_leaves_and_the_others_are_released() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        a, b, c = (asyncio.create_task(latch.wait()) for _ in range(3))
        await settle()
        b.cancel()
        await settle()
        assert b.cancelled()
        assert latch.statistics().tasks_waiting == 2
        latch.count_down()
        assert await a is True
        assert await c is True
        assert latch.statistics().tasks_waiting == 0

    run(main())


def test_waiter_cancelled_after_being_woken() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        a = asyncio.create_task(latch.wait())
        b = asyncio.create_task(latch.wait())
        await settle()
        latch.count_down()
        a.cancel()  # woken, cancelled before it ran
        with pytest.raises(asyncio.CancelledError):
            await a
        assert await b is True
        assert latch.statistics() == aiosync.CountdownLatchStatistics(0, 0)
        assert no_block(latch.wait()) is True

    run(main())


def test_cancel_during_a_timed_wait_leaves_nothing_behind() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(1)
        a = asyncio.create_task(latch.wait(timeout=10))
        b = asyncio.create_task(latch.wait(timeout=10))
        await settle()
        assert len(live_timers()) == 2
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert len(live_timers()) == 1
        assert latch.statistics().tasks_waiting == 1
        latch.count_down()
        assert await b is True
        assert live_timers() == []

    run(main())


def test_cancel_after_the_timeout_fired_but_before_the_waiter_ran() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        latch = aiosync.CountdownLatch(1)
        a = asyncio.create_task(latch.wait(timeout=1))
        b = asyncio.create_task(latch.wait())
        await settle()
        loop.now = 2  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not a.done() and latch.statistics().tasks_waiting == 1  # a expired, not run
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        latch.count_down()
        assert await b is True
        assert latch.statistics() == aiosync.CountdownLatchStatistics(0, 0)

    run(main())


# --- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [-1, -100])
def test_negative_count_is_a_value_error(count: int) -> None:
    with pytest.raises(ValueError, match="count") as info:
        aiosync.CountdownLatch(count)
    assert repr(count) in str(info.value)


@pytest.mark.parametrize("count", [1.0, 2.5, "3", None, True, math.nan])
def test_count_not_an_int_is_a_type_error(count: Any) -> None:
    with pytest.raises(TypeError, match="count") as info:
        aiosync.CountdownLatch(count)
    assert repr(count) in str(info.value)


@pytest.mark.parametrize("n", [0, -1])
def test_count_down_by_a_non_positive_n_is_a_value_error(n: int) -> None:
    latch = aiosync.CountdownLatch(5)
    with pytest.raises(ValueError, match="n") as info:
        latch.count_down(n)
    assert repr(n) in str(info.value)
    assert latch.count == 5


@pytest.mark.parametrize("n", [1.0, "1", None, True, [1]])
def test_count_down_by_a_non_int_is_a_type_error(n: Any) -> None:
    latch = aiosync.CountdownLatch(5)
    with pytest.raises(TypeError, match="n") as info:
        latch.count_down(n)
    assert repr(n) in str(info.value)
    assert latch.count == 5


def test_count_is_read_only() -> None:
    latch = aiosync.CountdownLatch(2)
    with pytest.raises(AttributeError):
        latch.count = 0  # type: ignore[misc]
    assert latch.count == 2


# --- statistics and repr ----------------------------------------------------------------


def test_statistics_and_repr() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(2)
        assert latch.statistics() == aiosync.CountdownLatchStatistics(count=2, tasks_waiting=0)
        assert repr(latch).endswith("[count:2]>") and "CountdownLatch" in repr(latch)
        waiters = [asyncio.create_task(latch.wait()) for _ in range(3)]
        await settle()
        assert latch.statistics() == aiosync.CountdownLatchStatistics(2, 3)
        assert "[count:2, waiters:3]" in repr(latch)
        with pytest.raises(AttributeError):
            latch.statistics().count = 0  # type: ignore[misc]
        latch.count_down()
        assert "[count:1, waiters:3]" in repr(latch)
        latch.count_down()
        await asyncio.gather(*waiters)
        assert repr(latch).endswith("[count:0]>")

    run(main())


def test_works_on_a_real_event_loop() -> None:
    async def main() -> None:
        latch = aiosync.CountdownLatch(5)
        finished: list[int] = []

        async def worker(i: int) -> None:
            await asyncio.sleep(0.001 * i)
            finished.append(i)
            latch.count_down()

        workers = [asyncio.create_task(worker(i)) for i in range(5)]
        assert await asyncio.wait_for(latch.wait(), 30) is True
        assert sorted(finished) == list(range(5))
        await asyncio.gather(*workers)
        other = aiosync.CountdownLatch(1)
        assert await other.wait(timeout=0.01) is False

    asyncio.run(main())


def test_statistics_and_repr_outside_a_loop() -> None:
    latch = aiosync.CountdownLatch(2)
    assert latch.statistics() == aiosync.CountdownLatchStatistics(2, 0)
    assert repr(latch).endswith("[count:2]>")
