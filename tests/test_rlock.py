"""RLock: reentrancy, ownership, FIFO, timeouts, cancellation, statistics and repr.

Most tests run on an event loop with a fake clock (time only moves when every task is
blocked, and then jumps to the next timer), so timeouts are exact and instant.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

import aiosync
from _clock import fire_due_timers_only, live_timers, no_block, now, run, settle


async def hold_in_task(lock: aiosync.RLock, release: asyncio.Event) -> asyncio.Task[None]:
    async def holder() -> None:
        async with lock:
            await release.wait()

    task = asyncio.create_task(holder(), name="holder")
    await settle()
    assert lock.statistics().owner is task
    return task


# --- reentrancy and ownership ---------------------------------------------------------


def test_owner_reacquires_and_the_lock_is_free_after_as_many_releases() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        me = asyncio.current_task()
        assert await lock.acquire() is True
        assert await lock.acquire(timeout=0) is True
        assert await lock.acquire(timeout=1) is True
        async with lock:
            stats = lock.statistics()
            assert stats.locked and stats.owner is me and stats.count == 4
        assert lock.statistics().count == 3
        for expected in (2, 1):
            lock.release()
            assert lock.locked() and lock.statistics().count == expected
        lock.release()
        assert not lock.locked()
        assert lock.statistics() == aiosync.RLockStatistics(
            locked=False, owner=None, count=0, tasks_waiting=0
        )
        with pytest.raises(RuntimeError):
            lock.release()

    run(main())


def test_other_task_cannot_take_a_held_lock_until_fully_released() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        await lock.acquire()
        other = asyncio.create_task(lock.acquire())
        await settle()
        assert not other.done()
        lock.release()
        await settle()
        assert not other.done(), "one release of two must not free the lock"
        lock.release()
        assert await other is True
        assert lock.statistics().owner is other

    run(main())


def test_owner_reacquires_at_once_while_others_wait() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        order: list[int] = []
        await lock.acquire()

        async def worker(i: int) -> None:
            async with lock:
                order.append(i)
                await asyncio.sleep(0)
                async with lock:  # reentrant while the others still wait
                    assert lock.statistics().count == 2
                    await asyncio.sleep(0)

        tasks = [asyncio.create_task(worker(i)) for i in range(4)]
        await settle()
        assert lock.statistics().tasks_waiting == 4
        # A re-entry must not queue behind the waiters (that would deadlock).
        assert no_block(lock.acquire(timeout=0)) is True
        assert no_block(lock.acquire()) is True
        async with lock:
            assert lock.statistics().count == 4
        assert lock.statistics().tasks_waiting == 4
        for _ in range(3):
            lock.release()
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3]
        assert not lock.locked()

    run(main())


def test_release_by_a_task_that_does_not_own_it_raises_and_changes_nothing() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()

        async def intruder() -> None:
            lock.release()

        task = asyncio.create_task(intruder(), name="intruder")
        with pytest.raises(RuntimeError, match="intruder"):
            await task
        stats = lock.statistics()
        assert stats.owner is asyncio.current_task() and stats.count == 1
        lock.release()
        assert not lock.locked()

    run(main())


def test_release_of_an_unlocked_lock_raises() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        with pytest.raises(RuntimeError):
            lock.release()
        await lock.acquire()
        lock.release()
        with pytest.raises(RuntimeError):
            lock.release()
        assert lock.statistics().count == 0

    run(main())


def test_release_outside_any_task_raises() -> None:
    lock = aiosync.RLock()
    with pytest.raises(RuntimeError):
        lock.release()

    async def main() -> None:
        await lock.acquire()
        loop = asyncio.get_running_loop()
        result: list[BaseException] = []

        def callback() -> None:
            try:
                lock.release()
            except RuntimeError as exc:
                result.append(exc)

        loop.call_soon(callback)
        await settle()
        assert len(result) == 1
        assert lock.statistics().owner is asyncio.current_task()
        lock.release()

    run(main())


def test_a_child_task_is_not_the_owner() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        start = now()
        assert await asyncio.create_task(lock.acquire(timeout=2)) is False
        assert now() - start == 2
        lock.release()
        assert not lock.locked()

    run(main())


def test_async_with_releases_on_exception() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        with pytest.raises(ZeroDivisionError):
            async with lock, lock:
                1 / 0  # noqa: B018
        assert not lock.locked()
        assert lock.statistics().count == 0

    run(main())


# --- FIFO ------------------------------------------------------------------------------


def test_waiters_are_served_in_fifo_order() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        order: list[int] = []
        await lock.acquire()

        async def worker(i: int) -> None:
            await lock.acquire()
            order.append(i)
            await asyncio.sleep(0)
            lock.release()

        tasks = [asyncio.create_task(worker(i)) for i in range(8)]
        await settle()
        assert lock.statistics().tasks_waiting == 8
        lock.release()
        await asyncio.gather(*tasks)
        assert order == list(range(8))

    run(main())


def test_newcomer_never_overtakes_a_woken_waiter() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        waiter = asyncio.create_task(lock.acquire())
        await settle()
        lock.release()
        # Free, but reserved for the woken waiter that has not run yet.
        assert not lock.locked()
        assert lock.statistics().tasks_waiting == 1

        async def newcomer() -> bool:
            return await lock.acquire(timeout=0)

        assert no_block(newcomer()) is False
        late = asyncio.create_task(lock.acquire())
        assert await waiter is True
        assert lock.statistics().owner is waiter
        await settle()
        assert not late.done()
        late.cancel()
        await settle()

    run(main())


# --- timeouts ---------------------------------------------------------------------------


def test_timeout_returns_false_holding_nothing_and_leaving_no_waiter() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        release = asyncio.Event()
        holder = await hold_in_task(lock, release)
        start = now()
        assert await lock.acquire(timeout=1.5) is False
        assert now() - start == 1.5
        stats = lock.statistics()
        assert stats.owner is holder and stats.count == 1 and stats.tasks_waiting == 0
        assert live_timers() == []
        with pytest.raises(RuntimeError):
            lock.release()  # the timed-out task holds nothing
        release.set()
        await holder
        assert not lock.locked()
        assert no_block(lock.acquire(timeout=0)) is True
        lock.release()

    run(main())


def test_timeout_zero_never_blocks() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        assert no_block(lock.acquire(timeout=0)) is True
        assert no_block(lock.acquire(timeout=0)) is True  # re-entry
        lock.release()
        lock.release()
        release = asyncio.Event()
        holder = await hold_in_task(lock, release)
        assert no_block(lock.acquire(timeout=0)) is False
        assert no_block(lock.acquire(timeout=0.0)) is False
        assert lock.statistics().tasks_waiting == 0
        release.set()
        await holder

    run(main())


def test_timeout_zero_never_jumps_the_queue() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        release = asyncio.Event()
        holder = await hold_in_task(lock, release)
        waiter = asyncio.create_task(lock.acquire())
        await settle()
        release.set()
        await holder  # released: the lock is reserved for ``waiter``
        assert no_block(lock.acquire(timeout=0)) is False
        assert await waiter is True

    run(main())


def test_expired_waiter_is_skipped_and_the_next_one_proceeds() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        order: list[str] = []
        await lock.acquire()

        async def take(name: str, timeout: float | None) -> None:
            if await lock.acquire(timeout=timeout):
                order.append(name)
                lock.release()
            else:
                order.append(f"{name} timed out")

        a = asyncio.create_task(take("a", 1))
        b = asyncio.create_task(take("b", None))
        c = asyncio.create_task(take("c", 5))
        await a
        assert lock.statistics().tasks_waiting == 2
        lock.release()
        await asyncio.gather(b, c)
        assert order == ["a timed out", "b", "c"]
        assert not lock.locked()

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf, Fraction(-1, 2)])
def test_bad_timeout_is_a_value_error_even_when_it_would_not_block(timeout: Any) -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        with pytest.raises(ValueError, match="timeout") as info:
            await lock.acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert not lock.locked()
        await lock.acquire()
        with pytest.raises(ValueError, match="timeout"):
            await lock.acquire(timeout=timeout)  # even as a re-entry
        assert lock.statistics().count == 1
        lock.release()

    run(main())


@pytest.mark.parametrize("timeout", ["1", b"1", [1], True, object()])
def test_non_number_timeout_is_a_type_error(timeout: Any) -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        with pytest.raises(TypeError, match="timeout") as info:
            await lock.acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert not lock.locked()

    run(main())


def test_numeric_timeouts_of_other_types_are_accepted() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        for timeout in (Fraction(1, 2), Decimal("0.5"), 1, math.inf):
            assert await lock.acquire(timeout=timeout) is True
            lock.release()
        release = asyncio.Event()
        holder = await hold_in_task(lock, release)
        start = now()
        assert await lock.acquire(timeout=Fraction(1, 4)) is False
        assert now() - start == 0.25
        release.set()
        await holder

    run(main())


# --- cancellation -----------------------------------------------------------------------


def test_cancelled_parked_waiter_leaves_and_the_next_proceeds() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        order: list[str] = []
        await lock.acquire()

        async def worker(name: str) -> None:
            async with lock:
                order.append(name)
                await asyncio.sleep(0)

        a, b, c = (asyncio.create_task(worker(name)) for name in "abc")
        await settle()
        b.cancel()
        await settle()
        assert b.cancelled()
        assert lock.statistics().tasks_waiting == 2
        lock.release()
        await asyncio.gather(a, c)
        assert order == ["a", "c"]
        assert lock.statistics() == aiosync.RLockStatistics(False, None, 0, 0)

    run(main())


def test_cancelled_woken_waiter_passes_the_lock_on() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        order: list[str] = []

        async def worker(name: str) -> None:
            async with lock:
                order.append(name)

        a = asyncio.create_task(worker("a"))
        b = asyncio.create_task(worker("b"))
        await settle()
        lock.release()  # wakes a ...
        a.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(a, b, return_exceptions=True)
        assert a.cancelled()
        assert order == ["b"]
        assert lock.statistics() == aiosync.RLockStatistics(False, None, 0, 0)
        assert no_block(lock.acquire(timeout=0)) is True
        lock.release()

    run(main())


def test_cancelled_woken_last_waiter_leaves_the_lock_free() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        a = asyncio.create_task(lock.acquire())
        await settle()
        lock.release()
        a.cancel()
        await settle()
        assert a.cancelled()
        assert lock.statistics() == aiosync.RLockStatistics(False, None, 0, 0)
        assert no_block(lock.acquire(timeout=0)) is True
        lock.release()

    run(main())


def test_cancel_during_a_timed_wait_leaves_nothing_behind() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        a = asyncio.create_task(lock.acquire(timeout=10))
        b = asyncio.create_task(lock.acquire(timeout=10))
        await settle()
        assert len(live_timers()) == 2
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert len(live_timers()) == 1  # a's timer is gone
        assert lock.statistics().tasks_waiting == 1
        lock.release()
        assert await b is True
        assert lock.statistics().owner is b
        assert live_timers() == []

    run(main())


def test_cancel_after_the_timeout_fired_but_before_the_waiter_ran() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        a = asyncio.create_task(lock.acquire(timeout=1))
        b = asyncio.create_task(lock.acquire())
        await settle()
        await fire_due_timers_only(until=2)
        assert not a.done() and lock.statistics().tasks_waiting == 1  # a expired, not run
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert lock.statistics().tasks_waiting == 1
        lock.release()
        assert await b is True
        assert lock.statistics().owner is b

    run(main())


def test_cancel_after_timed_waiter_was_woken_passes_the_lock_on() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        await lock.acquire()
        a = asyncio.create_task(lock.acquire(timeout=10))
        b = asyncio.create_task(lock.acquire(timeout=10))
        await settle()
        lock.release()
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert await b is True
        assert lock.statistics().owner is b and lock.statistics().count == 1
        assert live_timers() == []

    run(main())


def test_cancel_while_holding_inside_async_with_releases_every_level() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        inside = asyncio.Event()

        async def holder() -> None:
            async with lock, lock:
                inside.set()
                await asyncio.sleep(100)

        task = asyncio.create_task(holder())
        await inside.wait()
        waiter = asyncio.create_task(lock.acquire())
        await settle()
        task.cancel()
        assert await waiter is True
        assert lock.statistics().owner is waiter and lock.statistics().count == 1

    run(main())


# --- statistics and repr ----------------------------------------------------------------


def test_statistics_and_repr() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        assert lock.statistics() == aiosync.RLockStatistics(
            locked=False, owner=None, count=0, tasks_waiting=0
        )
        assert repr(lock).endswith("[unlocked]>")
        assert "aiosync" in repr(lock) and "RLock" in repr(lock)
        asyncio.current_task().set_name("main-task")  # type: ignore[union-attr]
        await lock.acquire()
        await lock.acquire()
        assert "[locked by main-task, count:2]" in repr(lock)
        waiters = [asyncio.create_task(lock.acquire()) for _ in range(3)]
        await settle()
        stats = lock.statistics()
        assert stats.owner is asyncio.current_task()
        assert (stats.locked, stats.count, stats.tasks_waiting) == (True, 2, 3)
        assert "[locked by main-task, count:2, waiters:3]" in repr(lock)
        with pytest.raises(AttributeError):
            stats.locked = False  # type: ignore[misc]
        waiters[1].cancel()
        await settle()
        assert lock.statistics().tasks_waiting == 2
        for w in waiters:
            w.cancel()
        await settle()
        lock.release()
        lock.release()
        assert repr(lock).endswith("[unlocked]>")

    run(main())


def test_works_on_a_real_event_loop() -> None:
    async def main() -> None:
        lock = aiosync.RLock()
        inside = 0
        peak = 0

        async def worker() -> None:
            nonlocal inside, peak
            for _ in range(20):
                async with lock, lock:
                    inside += 1
                    peak = max(peak, inside)
                    await asyncio.sleep(0)
                    inside -= 1

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(10))), 30)
        assert peak == 1
        assert not lock.locked()
        await lock.acquire()
        assert await asyncio.create_task(lock.acquire(timeout=0.01)) is False
        lock.release()

    asyncio.run(main())


def test_statistics_and_repr_outside_a_loop() -> None:
    lock = aiosync.RLock()
    assert lock.statistics() == aiosync.RLockStatistics(False, None, 0, 0)
    assert repr(lock).endswith("[unlocked]>")
