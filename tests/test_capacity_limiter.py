"""CapacityLimiter: tokens, borrowers, FIFO, resizing, timeouts, cancellation, statistics.

Most tests run on an event loop with a fake clock (time only moves when every task is
blocked, and then jumps to the next timer), so timeouts are exact and instant.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

import aiosync
from _clock import fire_due_timers_only, live_timers, no_block, now, run, settle


def stats_of(limiter: aiosync.CapacityLimiter) -> tuple[int, float, int]:
    s = limiter.statistics()
    return (s.borrowed_tokens, s.total_tokens, s.tasks_waiting)


# --- tokens and borrowers ---------------------------------------------------------------


def test_at_most_total_tokens_borrowers_at_once() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(3)
        inside = 0
        peak = 0

        async def worker() -> None:
            nonlocal inside, peak
            async with limiter:
                inside += 1
                peak = max(peak, inside)
                assert limiter.borrowed_tokens <= 3
                await asyncio.sleep(1)
                inside -= 1

        await asyncio.gather(*(worker() for _ in range(10)))
        assert peak == 3
        assert now() == 4  # ceil(10 / 3) rounds of one second
        assert stats_of(limiter) == (0, 3, 0)

    run(main())


def test_borrowed_and_available_tokens() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(2)
        assert (limiter.total_tokens, limiter.borrowed_tokens, limiter.available_tokens) == (
            2,
            0,
            2,
        )
        await limiter.acquire()
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (1, 1)
        await limiter.acquire_on_behalf_of("job")
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (2, 0)
        limiter.release_on_behalf_of("job")
        limiter.release()
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (0, 2)

    run(main())


def test_any_hashable_borrower() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(5)
        borrowers: list[Any] = ["job", 42, ("a", 1), frozenset({1}), 0]
        for b in borrowers:
            assert await limiter.acquire_on_behalf_of(b) is True
        assert set(limiter.statistics().borrowers) == set(borrowers)
        assert limiter.available_tokens == 0
        for b in borrowers:
            limiter.release_on_behalf_of(b)
        assert stats_of(limiter) == (0, 5, 0)

    run(main())


def test_none_is_a_valid_borrower_when_it_has_to_wait() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("first")
        none_waiter = asyncio.create_task(limiter.acquire_on_behalf_of(None, timeout=5))
        other = asyncio.create_task(limiter.acquire_on_behalf_of("other", timeout=5))
        await settle()
        limiter.release_on_behalf_of("first")
        # The token goes to the longest waiter, None.
        assert limiter.statistics().borrowers == (None,)
        assert await none_waiter is True
        limiter.release_on_behalf_of(None)
        assert await other is True

    run(main())


def test_same_borrower_twice_is_a_runtime_error() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(5)
        asyncio.current_task().set_name("main-task")  # type: ignore[union-attr]
        await limiter.acquire()
        with pytest.raises(RuntimeError, match="main-task"):
            no_block(limiter.acquire())
        with pytest.raises(RuntimeError):
            no_block(limiter.acquire(timeout=0))
        with pytest.raises(RuntimeError):
            no_block(limiter.acquire_on_behalf_of(asyncio.current_task()))
        with pytest.raises(RuntimeError, match="holds"):
            async with limiter:
                pass
        assert limiter.borrowed_tokens == 1  # still the one token
        limiter.release()
        await limiter.acquire_on_behalf_of("job")
        with pytest.raises(RuntimeError, match="'job'"):
            no_block(limiter.acquire_on_behalf_of("job"))
        limiter.release_on_behalf_of("job")
        assert stats_of(limiter) == (0, 5, 0)

    run(main())


def test_a_waiting_borrower_cannot_queue_twice() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        first = asyncio.create_task(limiter.acquire_on_behalf_of("job"))
        await settle()
        with pytest.raises(RuntimeError, match="'job'"):
            no_block(limiter.acquire_on_behalf_of("job", timeout=5))
        assert limiter.statistics().tasks_waiting == 1
        limiter.release_on_behalf_of("holder")
        assert await first is True
        assert limiter.statistics().borrowers == ("job",)
        limiter.release_on_behalf_of("job")

    run(main())


def test_release_without_holding_is_a_runtime_error() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(2)
        asyncio.current_task().set_name("main-task")  # type: ignore[union-attr]
        with pytest.raises(RuntimeError, match="main-task"):
            limiter.release()
        with pytest.raises(RuntimeError, match="'job'"):
            limiter.release_on_behalf_of("job")
        await limiter.acquire_on_behalf_of("job")

        async def other() -> None:
            limiter.release()  # holds nothing, though "job" does

        with pytest.raises(RuntimeError):
            await asyncio.create_task(other())
        assert limiter.statistics().borrowers == ("job",)
        # Releasing on behalf of a borrower is allowed from any task.
        await asyncio.create_task(_release_for(limiter, "job"))
        assert stats_of(limiter) == (0, 2, 0)
        with pytest.raises(RuntimeError):
            limiter.release_on_behalf_of("job")

    async def _release_for(limiter: aiosync.CapacityLimiter, borrower: str) -> None:
        limiter.release_on_behalf_of(borrower)

    run(main())


def test_a_task_and_an_object_are_distinct_borrowers() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(2)
        await limiter.acquire()
        await limiter.acquire_on_behalf_of("job")
        assert limiter.available_tokens == 0
        limiter.release()
        with pytest.raises(RuntimeError):
            limiter.release()
        limiter.release_on_behalf_of("job")

    run(main())


@pytest.mark.parametrize("borrower", [[1], {}, bytearray(b"x")])
def test_unhashable_borrower_is_a_type_error(borrower: Any) -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        with pytest.raises(TypeError, match="unhashable"):
            await limiter.acquire_on_behalf_of(borrower)
        with pytest.raises(TypeError, match="unhashable"):
            limiter.release_on_behalf_of(borrower)
        assert stats_of(limiter) == (0, 1, 0)

    run(main())


# --- FIFO -------------------------------------------------------------------------------


def test_freed_tokens_go_to_waiters_in_fifo_order() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(2)
        order: list[int] = []

        async def worker(i: int) -> None:
            async with limiter:
                order.append(i)
                await asyncio.sleep(1 + (i % 3) * 0.1)

        tasks = []
        for i in range(9):
            tasks.append(asyncio.create_task(worker(i)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        assert order == list(range(9))

    run(main())


def test_newcomer_never_takes_a_token_while_anyone_waits() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("a")
        waiter = asyncio.create_task(limiter.acquire_on_behalf_of("b"))
        await settle()
        limiter.release_on_behalf_of("a")
        # The token went to the waiter, which has not run yet.
        assert limiter.statistics().borrowers == ("b",)
        assert limiter.available_tokens == 0
        assert no_block(limiter.acquire_on_behalf_of("c", timeout=0)) is False
        late = asyncio.create_task(limiter.acquire_on_behalf_of("d"))
        assert await waiter is True
        await settle()
        assert not late.done()
        limiter.release_on_behalf_of("b")
        assert await late is True
        assert limiter.statistics().borrowers == ("d",)

    run(main())


# --- resizing ---------------------------------------------------------------------------


def test_raising_total_tokens_admits_waiters_at_once() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        waiters = [asyncio.create_task(limiter.acquire_on_behalf_of(i)) for i in range(4)]
        await settle()
        assert limiter.statistics().tasks_waiting == 4
        limiter.total_tokens = 3
        # Handed out during the assignment, in FIFO order.
        assert set(limiter.statistics().borrowers) == {"holder", 0, 1}
        assert stats_of(limiter) == (3, 3, 2)
        assert await asyncio.gather(*waiters[:2]) == [True, True]
        await settle()
        assert not waiters[2].done()
        limiter.total_tokens = math.inf
        assert limiter.available_tokens == math.inf
        assert await asyncio.gather(*waiters[2:]) == [True, True]
        assert stats_of(limiter) == (5, math.inf, 0)

    run(main())


def test_lowering_total_tokens_takes_effect_as_tokens_come_back() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(3)
        for name in "abc":
            await limiter.acquire_on_behalf_of(name)
        waiter = asyncio.create_task(limiter.acquire_on_behalf_of("w"))
        await settle()
        limiter.total_tokens = 1
        assert limiter.borrowed_tokens == 3  # holders keep theirs
        assert limiter.available_tokens == 0
        limiter.release_on_behalf_of("a")
        limiter.release_on_behalf_of("b")
        await settle()
        assert not waiter.done(), "one borrower still holds the only token"
        assert no_block(limiter.acquire_on_behalf_of("x", timeout=0)) is False
        limiter.release_on_behalf_of("c")
        assert await waiter is True
        assert stats_of(limiter) == (1, 1, 0)

    run(main())


@pytest.mark.parametrize("value", [0, -1])
def test_total_tokens_below_one_is_a_value_error(value: int) -> None:
    with pytest.raises(ValueError, match=f"total_tokens.*{value}"):
        aiosync.CapacityLimiter(value)
    limiter = aiosync.CapacityLimiter(2)
    with pytest.raises(ValueError, match=f"total_tokens.*{value}"):
        limiter.total_tokens = value
    assert limiter.total_tokens == 2


@pytest.mark.parametrize("value", [1.5, 2.0, "2", None, True, math.nan, -math.inf])
def test_total_tokens_not_an_int_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="total_tokens") as info:
        aiosync.CapacityLimiter(value)
    assert repr(value) in str(info.value)
    limiter = aiosync.CapacityLimiter(2)
    with pytest.raises(TypeError, match="total_tokens"):
        limiter.total_tokens = value
    assert limiter.total_tokens == 2


def test_infinite_total_tokens() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(math.inf)
        for i in range(100):
            assert no_block(limiter.acquire_on_behalf_of(i, timeout=0)) is True
        assert limiter.borrowed_tokens == 100 and limiter.available_tokens == math.inf

    run(main())


# --- timeouts ---------------------------------------------------------------------------


def test_timeout_returns_false_holding_nothing_and_leaving_no_waiter() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        assert await limiter.acquire(timeout=2.5) is False
        assert now() == 2.5
        assert stats_of(limiter) == (1, 1, 0)
        assert live_timers() == []
        with pytest.raises(RuntimeError):
            limiter.release()  # the timed-out task holds nothing
        # It may try again: it is not remembered as waiting.
        assert await limiter.acquire(timeout=1) is False
        limiter.release_on_behalf_of("holder")
        assert no_block(limiter.acquire(timeout=0)) is True
        limiter.release()

    run(main())


def test_timed_out_waiter_is_skipped_and_the_next_proceeds() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        a = asyncio.create_task(limiter.acquire_on_behalf_of("a", timeout=1))
        b = asyncio.create_task(limiter.acquire_on_behalf_of("b", timeout=10))
        assert await a is False
        limiter.release_on_behalf_of("holder")
        assert await b is True
        assert limiter.statistics().borrowers == ("b",)
        # "a" can borrow again later.
        limiter.release_on_behalf_of("b")
        assert no_block(limiter.acquire_on_behalf_of("a", timeout=0)) is True

    run(main())


def test_timeout_zero_never_blocks() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        assert no_block(limiter.acquire(timeout=0)) is True
        assert no_block(limiter.acquire_on_behalf_of("x", timeout=0)) is False
        assert stats_of(limiter) == (1, 1, 0)
        limiter.release()

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf])
def test_bad_timeout_is_a_value_error_even_when_it_would_not_block(timeout: float) -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        with pytest.raises(ValueError, match="timeout") as info:
            await limiter.acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        with pytest.raises(ValueError, match="timeout"):
            await limiter.acquire_on_behalf_of("x", timeout=timeout)
        assert stats_of(limiter) == (0, 1, 0)

    run(main())


@pytest.mark.parametrize("timeout", ["1", True, [1], object()])
def test_non_number_timeout_is_a_type_error(timeout: Any) -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        with pytest.raises(TypeError, match="timeout") as info:
            await limiter.acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        with pytest.raises(TypeError, match="timeout"):
            await limiter.acquire_on_behalf_of("x", timeout=timeout)
        assert stats_of(limiter) == (0, 1, 0)

    run(main())


# --- cancellation -----------------------------------------------------------------------


def test_cancelled_parked_waiter_leaves_and_the_next_proceeds() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        a, b, c = (asyncio.create_task(limiter.acquire_on_behalf_of(n)) for n in "abc")
        await settle()
        b.cancel()
        await settle()
        assert b.cancelled()
        assert limiter.statistics().tasks_waiting == 2
        limiter.release_on_behalf_of("holder")
        assert await a is True
        limiter.release_on_behalf_of("a")
        assert await c is True
        assert limiter.statistics().borrowers == ("c",)
        # "b" left the queue for good: it may borrow again.
        limiter.release_on_behalf_of("c")
        assert no_block(limiter.acquire_on_behalf_of("b", timeout=0)) is True

    run(main())


def test_cancelled_woken_waiter_returns_its_token_to_the_next() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        a = asyncio.create_task(limiter.acquire_on_behalf_of("a"))
        b = asyncio.create_task(limiter.acquire_on_behalf_of("b"))
        await settle()
        limiter.release_on_behalf_of("holder")
        assert limiter.statistics().borrowers == ("a",)
        a.cancel()  # handed the token, cancelled before it ran
        with pytest.raises(asyncio.CancelledError):
            await a
        assert await b is True
        assert limiter.statistics().borrowers == ("b",)
        assert limiter.statistics().tasks_waiting == 0
        limiter.release_on_behalf_of("b")
        assert stats_of(limiter) == (0, 1, 0)
        assert no_block(limiter.acquire_on_behalf_of("a", timeout=0)) is True

    run(main())


def test_cancelled_woken_last_waiter_frees_the_token() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire()
        task = asyncio.create_task(limiter.acquire())
        await settle()
        limiter.release()
        task.cancel()
        await settle()
        assert task.cancelled()
        assert stats_of(limiter) == (0, 1, 0)
        assert limiter.available_tokens == 1

    run(main())


def test_cancel_during_a_timed_wait_leaves_nothing_behind() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        a = asyncio.create_task(limiter.acquire_on_behalf_of("a", timeout=10))
        b = asyncio.create_task(limiter.acquire_on_behalf_of("b", timeout=10))
        await settle()
        assert len(live_timers()) == 2
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert len(live_timers()) == 1
        assert limiter.statistics().tasks_waiting == 1
        limiter.release_on_behalf_of("holder")
        assert await b is True
        assert live_timers() == []
        assert no_block(limiter.acquire_on_behalf_of("a", timeout=0)) is False
        limiter.release_on_behalf_of("b")
        assert no_block(limiter.acquire_on_behalf_of("a", timeout=0)) is True

    run(main())


def test_cancel_after_the_timeout_fired_but_before_the_waiter_ran() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)
        await limiter.acquire_on_behalf_of("holder")
        a = asyncio.create_task(limiter.acquire_on_behalf_of("a", timeout=1))
        b = asyncio.create_task(limiter.acquire_on_behalf_of("b"))
        await settle()
        await fire_due_timers_only(until=3)
        assert not a.done() and limiter.statistics().tasks_waiting == 1
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        limiter.release_on_behalf_of("holder")
        assert await b is True
        assert limiter.statistics().borrowers == ("b",)
        limiter.release_on_behalf_of("b")
        assert no_block(limiter.acquire_on_behalf_of("a", timeout=0)) is True

    run(main())


def test_cancel_inside_async_with_returns_the_token() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(1)

        async def hold() -> None:
            async with limiter:
                await asyncio.sleep(100)

        task = asyncio.create_task(hold())
        await settle()
        waiter = asyncio.create_task(limiter.acquire())
        await settle()
        task.cancel()
        assert await waiter is True
        assert limiter.statistics().borrowers == (waiter,)

    run(main())


# --- statistics and repr ----------------------------------------------------------------


def test_statistics_and_repr() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(2)
        assert limiter.statistics() == aiosync.CapacityLimiterStatistics(
            borrowed_tokens=0, total_tokens=2, borrowers=(), tasks_waiting=0
        )
        assert repr(limiter).endswith("[borrowed:0/2]>") and "CapacityLimiter" in repr(limiter)
        await limiter.acquire()
        await limiter.acquire_on_behalf_of("job")
        waiters = [asyncio.create_task(limiter.acquire_on_behalf_of(i)) for i in range(3)]
        await settle()
        stats = limiter.statistics()
        assert stats == aiosync.CapacityLimiterStatistics(
            2, 2, (asyncio.current_task(), "job"), 3
        ) or stats == aiosync.CapacityLimiterStatistics(2, 2, ("job", asyncio.current_task()), 3)
        assert "[borrowed:2/2, waiters:3]" in repr(limiter)
        with pytest.raises(AttributeError):
            stats.tasks_waiting = 0  # type: ignore[misc]
        waiters[0].cancel()
        await settle()
        assert limiter.statistics().tasks_waiting == 2
        for w in waiters:
            w.cancel()
        await settle()
        limiter.release()
        limiter.release_on_behalf_of("job")
        assert repr(limiter).endswith("[borrowed:0/2]>")

    run(main())


def test_works_on_a_real_event_loop() -> None:
    async def main() -> None:
        limiter = aiosync.CapacityLimiter(3)
        inside = 0
        peak = 0

        async def worker() -> None:
            nonlocal inside, peak
            for _ in range(10):
                async with limiter:
                    inside += 1
                    peak = max(peak, inside)
                    await asyncio.sleep(0)
                    inside -= 1

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(10))), 30)
        assert peak == 3
        assert limiter.borrowed_tokens == 0
        await limiter.acquire_on_behalf_of("a")
        limiter.total_tokens = 1
        assert await limiter.acquire(timeout=0.01) is False
        limiter.release_on_behalf_of("a")
        assert await limiter.acquire(timeout=0.01) is True
        limiter.release()

    asyncio.run(main())


def test_statistics_and_repr_outside_a_loop() -> None:
    limiter = aiosync.CapacityLimiter(2)
    assert limiter.statistics() == aiosync.CapacityLimiterStatistics(0, 2, (), 0)
    assert limiter.available_tokens == 2
    assert repr(limiter).endswith("[borrowed:0/2]>")
