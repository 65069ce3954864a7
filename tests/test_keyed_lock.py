"""KeyedLock: per-key exclusion by an owned, reentrant lock (only the holding task may
release a key; it may take it again, and must release it as often), entries that live only
while used (memory back to its baseline), timeouts, cancellation, bad arguments, statistics
and repr.

Most tests run on an event loop with a fake clock (time only moves when every task is
blocked, and then jumps to the next timer), so timeouts are exact and instant.
"""

from __future__ import annotations

import asyncio
import gc
import math
import re
import tracemalloc
from collections.abc import Iterable
from typing import Any

import pytest

import aiosync
from _clock import live_timers, no_block, now, run, settle


def stats(locks: aiosync.KeyedLock[Any]) -> tuple[int, int, int]:
    s = locks.statistics()
    return (s.active_keys, s.locked_keys, s.tasks_waiting)


async def hold(locks: aiosync.KeyedLock[Any], key: Any, release: asyncio.Event) -> None:
    async with locks[key]:
        await release.wait()


class Holder:
    """A task that acquires ``locks[key]`` (with ``timeout``), sets ``acquired``, holds the
    key until told to let go, then releases it itself. Its result is whether it acquired."""

    def __init__(
        self,
        locks: aiosync.KeyedLock[Any],
        key: Any,
        timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        self.acquired = asyncio.Event()
        self._let_go = asyncio.Event()
        self.task = asyncio.create_task(self._run(locks[key], timeout), name=name)

    async def _run(self, lock: Any, timeout: float | None) -> bool:
        if not await lock.acquire(timeout=timeout):
            return False
        self.acquired.set()
        try:
            await self._let_go.wait()
        finally:
            lock.release()
        return True

    async def finish(self) -> bool:
        """Let go of the key (if held) and return whether it had been acquired."""
        self._let_go.set()
        return await self.task


async def take_at_once(lock: Any) -> bool:
    """Whether the calling task gets ``lock`` without blocking (``timeout=0``); if it does,
    it releases it again."""
    got = no_block(lock.acquire(timeout=0))
    if got:
        lock.release()
    return bool(got)


async def another_task_takes(lock: Any) -> bool:
    """Whether a new task (not the caller) gets ``lock`` at once; it lets go if it does."""
    return await asyncio.create_task(take_at_once(lock))


def naming(name: str) -> str:
    """A ``match=`` pattern for a message that names ``name`` (a task, say) as a word."""
    return rf"(?<![\w-]){re.escape(name)}(?![\w-])"


# --- exclusion per key ------------------------------------------------------------------


def test_one_holder_per_key_and_distinct_keys_do_not_block_each_other() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        inside: dict[str, int] = {"a": 0, "b": 0}
        peak: dict[str, int] = {"a": 0, "b": 0}

        async def worker(key: str) -> None:
            async with locks[key]:
                inside[key] += 1
                peak[key] = max(peak[key], inside[key])
                await asyncio.sleep(1)
                inside[key] -= 1

        await asyncio.gather(*(worker(k) for k in "abababab"))
        assert peak == {"a": 1, "b": 1}
        assert now() == 4  # a and b ran side by side: 4 rounds, not 8
        assert len(locks) == 0

    run(main())


def test_waiters_of_a_key_are_served_in_fifo_order() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        order: list[int] = []
        await locks["k"].acquire()

        async def worker(i: int) -> None:
            async with locks["k"]:
                order.append(i)
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(worker(i)) for i in range(8)]
        await settle()
        assert stats(locks) == (1, 1, 8)
        locks["k"].release()
        await asyncio.gather(*tasks)
        assert order == list(range(8))
        assert len(locks) == 0

    run(main())


def test_newcomer_never_overtakes_a_woken_waiter() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        await locks["k"].acquire()
        waiter = Holder(locks, "k")
        await settle()
        assert stats(locks) == (1, 1, 1)
        # A new task, ready to run before the woken waiter does (its first step is queued
        # ahead of the waiter's wake-up).
        newcomer = asyncio.create_task(take_at_once(locks["k"]))
        locks["k"].release()
        assert not locks["k"].locked()  # reserved for the woken waiter
        assert len(locks) == 1
        # Neither the former holder nor the new task gets it, and neither blocks.
        assert no_block(locks["k"].acquire(timeout=0)) is False
        assert not waiter.acquired.is_set()
        assert await newcomer is False
        await waiter.acquired.wait()
        assert locks["k"].locked()
        assert stats(locks) == (1, 1, 0)
        assert await waiter.finish() is True
        assert len(locks) == 0

    run(main())


def test_locks_of_the_same_key_are_one_lock() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[Any] = aiosync.KeyedLock()
        first = locks[("user", 1)]
        await first.acquire()
        assert locks[("user", 1)].locked()
        assert not locks[("user", 2)].locked()
        # Another task sees the key held through any handle; a distinct key is free.
        assert await another_task_takes(locks[("user", 1)]) is False
        assert await another_task_takes(locks[("user", 2)]) is True
        assert len(locks) == 1
        # The holder re-enters through another handle at once: it is the same lock.
        assert no_block(locks[("user", 1)].acquire(timeout=0)) is True
        assert len(locks) == 1
        locks[("user", 1)].release()  # released through another handle of the key
        assert first.locked()  # one hold of two is left
        locks[("user", 1)].release()  # ... and through yet another
        assert not first.locked()
        assert len(locks) == 0
        # Keys equal as dict keys are the same key.
        await locks[1].acquire()
        assert locks[1.0].locked()
        assert await another_task_takes(locks[1.0]) is False
        locks[1.0].release()
        assert not locks[1].locked()
        assert len(locks) == 0

    run(main())


def test_any_hashable_key() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[Any] = aiosync.KeyedLock()
        keys: list[Any] = [None, 0, "", ("a", 1), frozenset({1}), b"x", 3.5, object()]
        for k in keys:
            assert no_block(locks[k].acquire(timeout=0)) is True
        assert stats(locks) == (len(keys), len(keys), 0)
        for k in keys:
            assert locks[k].locked()
            assert await another_task_takes(locks[k]) is False
            locks[k].release()
            assert not locks[k].locked()
        assert len(locks) == 0

    run(main())


@pytest.mark.parametrize("key", [[1], {}, {1}, bytearray(b"x")])
def test_unhashable_key_is_a_type_error_at_once(key: Any) -> None:
    locks: aiosync.KeyedLock[Any] = aiosync.KeyedLock()
    with pytest.raises(TypeError, match="unhashable"):
        locks[key]
    assert len(locks) == 0


# --- entries live only while used -------------------------------------------------------


def test_an_entry_exists_only_while_a_task_holds_or_waits() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        assert len(locks) == 0
        lock = locks["k"]
        assert len(locks) == 0  # looking a key up creates nothing
        assert not lock.locked()
        await lock.acquire()
        assert len(locks) == 1
        first, second = Holder(locks, "k"), Holder(locks, "k")
        await settle()
        assert len(locks) == 1 and stats(locks) == (1, 1, 2)
        lock.release()
        await settle()
        assert first.acquired.is_set() and not second.acquired.is_set()
        assert len(locks) == 1 and stats(locks) == (1, 1, 1)  # the first waiter holds it now
        assert await first.finish() is True
        await settle()
        assert second.acquired.is_set()
        assert len(locks) == 1 and stats(locks) == (1, 1, 0)  # the second holds it, alone
        assert await second.finish() is True
        assert len(locks) == 0
        assert not lock.locked()

    run(main())


def test_timed_out_and_cancelled_waiters_leave_no_entry() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        release = asyncio.Event()
        holder = asyncio.create_task(hold(locks, "k", release))
        await settle()
        assert await locks["k"].acquire(timeout=1) is False
        assert stats(locks) == (1, 1, 0)
        waiter = asyncio.create_task(locks["k"].acquire())
        await settle()
        waiter.cancel()
        await settle()
        assert stats(locks) == (1, 1, 0)
        release.set()
        await holder
        assert len(locks) == 0
        assert no_block(locks["other"].acquire(timeout=0)) is True
        locks["other"].release()
        assert len(locks) == 0

    run(main())


async def _sequential(locks: aiosync.KeyedLock[Any], keys: Iterable[Any]) -> None:
    for k in keys:
        async with locks[k]:
            pass


async def _concurrent(locks: aiosync.KeyedLock[Any], base: int, groups: int, per: int) -> None:
    """``2 * groups`` workers; the two workers of a group contend for the same ``per``
    keys, so half the acquisitions wait; every fourth key is also tried with timeout=0."""

    async def worker(group: int) -> None:
        for i in range(per):
            key = base + group * per + i
            if i % 4 == 0 and await locks[key].acquire(timeout=0):
                locks[key].release()
            async with locks[key]:
                await asyncio.sleep(0)

    await asyncio.gather(*(worker(g) for g in range(groups) for _ in range(2)))


async def _traced() -> int:
    # Step once first: the loop's handle that resumed this task (after a gather, say)
    # references what it resumed it with until the next step.
    await asyncio.sleep(0)
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_returns_to_baseline_after_200k_distinct_keys() -> None:
    async def main() -> dict[str, int]:
        locks: aiosync.KeyedLock[Any] = aiosync.KeyedLock()
        # Warm up with the same shapes of use on other keys (the loop's own structures,
        # such as its set of tasks, keep the size they grew to).
        await _sequential(locks, range(-20_000, -10_000))
        await _concurrent(locks, -10_000, 25, 200)
        tracemalloc.start()
        try:
            base = await _traced()
            await _sequential(locks, range(100_000))
            sequential = await _traced()
            await _concurrent(locks, 100_000, 25, 4_000)
            concurrent = await _traced()
        finally:
            tracemalloc.stop()
        assert len(locks) == 0
        assert stats(locks) == (0, 0, 0)
        return {"sequential": sequential - base, "concurrent": concurrent - base}

    growth = run(main())
    # 200k keys that each left even one small object behind would be megabytes.
    assert growth["sequential"] < 32 * 1024, growth
    assert growth["concurrent"] < 32 * 1024, growth


def test_memory_returns_to_baseline_after_many_keys_were_held_at_once() -> None:
    async def main() -> dict[str, int]:
        locks: aiosync.KeyedLock[int] = aiosync.KeyedLock()
        await _sequential(locks, range(-1000, 0))
        tracemalloc.start()
        try:
            base = await _traced()
            for k in range(50_000):
                assert await locks[k].acquire(timeout=0) is True
            assert len(locks) == 50_000
            held = await _traced()
            for k in range(50_000):
                locks[k].release()
            released = await _traced()
        finally:
            tracemalloc.stop()
        assert len(locks) == 0
        return {"held": held - base, "released": released - base}

    growth = run(main())
    assert growth["held"] > 2_000_000, growth  # the measurement does see the entries
    assert growth["released"] < 32 * 1024, growth  # ... and the dict shrank back


# --- timeouts ---------------------------------------------------------------------------


def test_timeout_returns_false_holding_nothing_and_leaving_no_waiter() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        release = asyncio.Event()
        holder = asyncio.create_task(hold(locks, "k", release))
        await settle()
        assert await locks["k"].acquire(timeout=2.5) is False
        assert now() == 2.5
        assert stats(locks) == (1, 1, 0)
        assert live_timers() == []
        release.set()
        await holder
        assert len(locks) == 0
        with pytest.raises(RuntimeError):
            locks["k"].release()  # nothing was held

    run(main())


def test_timed_out_waiter_is_skipped_and_the_next_proceeds() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        order: list[str] = []
        await locks["k"].acquire()

        async def take(name: str, timeout: float | None) -> None:
            if await locks["k"].acquire(timeout=timeout):
                order.append(name)
                locks["k"].release()
            else:
                order.append(f"{name} timed out")

        a = asyncio.create_task(take("a", 1))
        b = asyncio.create_task(take("b", None))
        c = asyncio.create_task(take("c", 5))
        await a
        locks["k"].release()
        await asyncio.gather(b, c)
        assert order == ["a timed out", "b", "c"]
        assert len(locks) == 0

    run(main())


def test_timeout_zero_never_blocks() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        assert no_block(locks["k"].acquire(timeout=0)) is True
        # Another task gives up at once; the holder re-enters at once.
        assert await another_task_takes(locks["k"]) is False
        assert stats(locks) == (1, 1, 0)
        assert no_block(locks["k"].acquire(timeout=0)) is True
        assert stats(locks) == (1, 1, 0)
        locks["k"].release()
        assert locks["k"].locked() and len(locks) == 1
        locks["k"].release()
        assert len(locks) == 0

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf])
def test_bad_timeout_is_a_value_error_even_when_it_would_not_block(timeout: float) -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        with pytest.raises(ValueError, match="timeout") as info:
            await locks["k"].acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert len(locks) == 0
        assert not locks["k"].locked()

    run(main())


@pytest.mark.parametrize("timeout", ["1", True, [1], object()])
def test_non_number_timeout_is_a_type_error(timeout: Any) -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        with pytest.raises(TypeError, match="timeout") as info:
            await locks["k"].acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert len(locks) == 0

    run(main())


# --- release and ownership --------------------------------------------------------------


def test_release_of_a_key_not_held_raises_naming_the_key() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        with pytest.raises(RuntimeError, match="'nobody'"):
            locks["nobody"].release()
        await locks["k"].acquire()
        locks["k"].release()
        with pytest.raises(RuntimeError, match="'k'"):
            locks["k"].release()
        assert len(locks) == 0

    run(main())


def test_release_while_reserved_for_a_woken_waiter_raises() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        await locks["k"].acquire()
        waiter = Holder(locks, "k")
        await settle()
        locks["k"].release()
        with pytest.raises(RuntimeError, match="'k'"):
            locks["k"].release()
        assert stats(locks) == (1, 0, 1)  # unchanged: still reserved for the woken waiter
        await waiter.acquired.wait()
        assert stats(locks) == (1, 1, 0)
        assert await waiter.finish() is True
        assert len(locks) == 0

    run(main())


def test_release_by_a_task_that_does_not_hold_the_key_raises_and_changes_nothing() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        assert me is not None
        me.set_name("main")
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        held, let_go_once, released_once, let_go = (asyncio.Event() for _ in range(4))

        async def holder() -> None:
            await locks["k"].acquire()
            await locks["k"].acquire()  # held twice
            held.set()
            await let_go_once.wait()
            locks["k"].release()
            released_once.set()
            await let_go.wait()
            locks["k"].release()  # would raise if a failed release had taken a level

        holding = asyncio.create_task(holder(), name="holder")
        await held.wait()
        waiter = Holder(locks, "k", name="waiter")
        await locks["mine"].acquire()  # this task holds a key, but not "k"
        await settle()
        before = (len(locks), stats(locks))
        assert before == (2, (2, 2, 1))

        # This task, which holds another key.
        with pytest.raises(RuntimeError, match=naming("main")):
            locks["k"].release()
        assert (len(locks), stats(locks)) == before

        # A task started by this one (a child is not the holder either).
        async def intrude() -> None:
            locks["k"].release()

        with pytest.raises(RuntimeError, match=naming("intruder")):
            await asyncio.create_task(intrude(), name="intruder")
        assert (len(locks), stats(locks)) == before

        # A plain callback of the loop, outside any task.
        outcome: asyncio.Future[Exception | None] = loop.create_future()

        def from_a_callback() -> None:
            try:
                locks["k"].release()
            except Exception as exc:
                outcome.set_result(exc)
            else:
                outcome.set_result(None)

        loop.call_soon(from_a_callback)
        assert isinstance(await outcome, RuntimeError)
        assert (len(locks), stats(locks)) == before

        # The holder's two holds are intact: one release leaves it holding the key.
        let_go_once.set()
        await released_once.wait()
        await settle()
        assert locks["k"].locked() and not waiter.acquired.is_set()
        assert (len(locks), stats(locks)) == before
        let_go.set()
        await holding
        await waiter.acquired.wait()
        # The new holder's hold is just as safe from this task.
        with pytest.raises(RuntimeError, match=naming("main")):
            locks["k"].release()
        assert stats(locks) == (2, 2, 0)
        assert await waiter.finish() is True
        assert len(locks) == 1
        # This task's own key was never affected: one release frees it.
        assert locks["mine"].locked()
        locks["mine"].release()
        assert len(locks) == 0

    run(main())


def test_the_woken_waiter_is_the_holder_once_it_runs() -> None:
    async def main() -> None:
        me = asyncio.current_task()
        assert me is not None
        me.set_name("main")
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        acquired, go = asyncio.Event(), asyncio.Event()

        async def waiter() -> None:
            assert await locks["k"].acquire() is True
            acquired.set()
            await go.wait()
            # It holds the key: it re-enters at once, and its releases are accepted.
            assert no_block(locks["k"].acquire(timeout=0)) is True
            assert len(locks) == 1
            locks["k"].release()
            assert locks["k"].locked()
            locks["k"].release()
            assert not locks["k"].locked()

        await locks["k"].acquire()
        task = asyncio.create_task(waiter(), name="waiter")
        await settle()
        locks["k"].release()  # wakes the waiter
        # Until the waiter runs nobody holds the key, and the former holder cannot release.
        assert not locks["k"].locked()
        with pytest.raises(RuntimeError, match="'k'"):
            locks["k"].release()
        await acquired.wait()
        assert locks["k"].locked() and stats(locks) == (1, 1, 0)
        # The former holder is now just another task: it can neither release nor re-enter.
        with pytest.raises(RuntimeError, match=naming("main")):
            locks["k"].release()
        assert no_block(locks["k"].acquire(timeout=0)) is False
        assert await another_task_takes(locks["k"]) is False
        assert stats(locks) == (1, 1, 0)
        go.set()
        await task
        assert len(locks) == 0

    run(main())


# --- reentrancy -------------------------------------------------------------------------


def test_holder_reacquires_at_once_and_the_entry_lives_until_the_last_release() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        # Alone: each acquisition counts, so the entry outlives all releases but the last.
        await locks["solo"].acquire()
        assert no_block(locks["solo"].acquire()) is True
        assert len(locks) == 1
        locks["solo"].release()
        assert locks["solo"].locked() and len(locks) == 1
        locks["solo"].release()
        assert not locks["solo"].locked() and len(locks) == 0

        # With a waiter: re-entries never queue behind it (that would deadlock).
        lock = locks["k"]
        assert await lock.acquire() is True
        waiter = Holder(locks, "k")
        await settle()
        assert stats(locks) == (1, 1, 1)
        assert no_block(locks["k"].acquire()) is True
        assert no_block(locks["k"].acquire(timeout=0)) is True
        assert no_block(locks["k"].acquire(timeout=1)) is True
        assert live_timers() == []
        async with locks["k"]:
            assert stats(locks) == (1, 1, 1)
        assert await another_task_takes(lock) is False
        assert stats(locks) == (1, 1, 1)
        for _ in range(3):
            lock.release()
            assert lock.locked() and len(locks) == 1
            await settle()
            assert not waiter.acquired.is_set(), "a release short of the last freed the key"
        lock.release()  # the fourth of four: the key goes to the waiter
        assert not lock.locked() and len(locks) == 1
        with pytest.raises(RuntimeError, match="'k'"):
            lock.release()  # a release too many
        await waiter.acquired.wait()
        assert stats(locks) == (1, 1, 0)
        assert await waiter.finish() is True
        assert len(locks) == 0

    run(main())


def test_reentrant_holders_still_take_turns_in_fifo_order() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        order: list[int] = []
        await locks["k"].acquire()

        async def worker(i: int) -> None:
            async with locks["k"]:
                order.append(i)
                await asyncio.sleep(0)
                async with locks["k"]:  # reentrant while the others still wait
                    assert stats(locks) == (1, 1, 3 - i)
                    await asyncio.sleep(0)
                assert locks["k"].locked()  # the outer hold is still there
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(worker(i)) for i in range(4)]
        await settle()
        assert stats(locks) == (1, 1, 4)
        locks["k"].release()
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3]
        assert len(locks) == 0

    run(main())


# --- cancellation -----------------------------------------------------------------------


def test_cancelled_parked_waiter_leaves_and_the_next_proceeds() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        order: list[str] = []
        await locks["k"].acquire()

        async def worker(name: str) -> None:
            async with locks["k"]:
                order.append(name)

        a, b, c = (asyncio.create_task(worker(n)) for n in "abc")
        await settle()
        b.cancel()
        await settle()
        assert stats(locks) == (1, 1, 2)
        locks["k"].release()
        await asyncio.gather(a, c)
        assert order == ["a", "c"]
        assert len(locks) == 0

    run(main())


def test_cancelled_woken_waiter_passes_the_lock_on() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        order: list[str] = []
        await locks["k"].acquire()

        async def worker(name: str) -> None:
            async with locks["k"]:
                order.append(name)

        a = asyncio.create_task(worker("a"))
        b = asyncio.create_task(worker("b"))
        await settle()
        locks["k"].release()
        a.cancel()  # woken, cancelled before it runs
        await asyncio.gather(a, b, return_exceptions=True)
        assert a.cancelled()
        assert order == ["b"]
        assert len(locks) == 0

    run(main())


def test_cancelled_woken_last_waiter_removes_the_entry() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        await locks["k"].acquire()
        a = asyncio.create_task(locks["k"].acquire())
        await settle()
        locks["k"].release()
        a.cancel()
        await settle()
        assert a.cancelled()
        assert len(locks) == 0
        assert not locks["k"].locked()
        assert no_block(locks["k"].acquire(timeout=0)) is True
        locks["k"].release()

    run(main())


def test_cancel_during_a_timed_wait_leaves_nothing_behind() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        await locks["k"].acquire()
        a = asyncio.create_task(locks["k"].acquire(timeout=10))
        b = Holder(locks, "k", timeout=10)
        await settle()
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert stats(locks) == (1, 1, 1)
        locks["k"].release()
        await b.acquired.wait()
        assert live_timers() == []
        assert stats(locks) == (1, 1, 0)
        assert await b.finish() is True
        assert len(locks) == 0

    run(main())


def test_cancel_after_the_timeout_fired_but_before_the_waiter_ran() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        await locks["k"].acquire()
        a = asyncio.create_task(locks["k"].acquire(timeout=1))
        b = Holder(locks, "k")
        await settle()
        loop.now = 2  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not a.done() and stats(locks) == (1, 1, 1)  # a expired, has not run
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        assert stats(locks) == (1, 1, 1)
        locks["k"].release()
        await b.acquired.wait()
        assert stats(locks) == (1, 1, 0)
        assert await b.finish() is True
        assert len(locks) == 0

    run(main())


def test_cancel_inside_async_with_releases_and_removes_the_entry() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        task = asyncio.create_task(hold(locks, "k", asyncio.Event()))
        await settle()
        assert len(locks) == 1
        task.cancel()
        await settle()
        assert len(locks) == 0

    run(main())


def test_cancel_inside_nested_async_with_releases_every_level() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()

        async def nested() -> None:
            async with locks["k"], locks["k"]:  # held twice
                await asyncio.Event().wait()

        task = asyncio.create_task(nested())
        await settle()
        waiter = Holder(locks, "k")
        await settle()
        assert stats(locks) == (1, 1, 1)
        task.cancel()
        await waiter.acquired.wait()  # both levels were released
        assert task.cancelled()
        assert stats(locks) == (1, 1, 0)
        assert await waiter.finish() is True
        assert len(locks) == 0

    run(main())


# --- statistics and repr ----------------------------------------------------------------


def test_statistics_and_repr() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
        assert locks.statistics() == aiosync.KeyedLockStatistics(
            active_keys=0, locked_keys=0, tasks_waiting=0
        )
        assert repr(locks).endswith("[keys:0]>") and "KeyedLock" in repr(locks)
        assert repr(locks["a"]).startswith("<lock of key 'a' in <")
        await locks["a"].acquire()
        await locks["b"].acquire()
        waiters = [asyncio.create_task(locks["a"].acquire()) for _ in range(3)]
        waiters.append(asyncio.create_task(locks["b"].acquire()))
        await settle()
        assert stats(locks) == (2, 2, 4)
        assert "[keys:2]" in repr(locks)
        with pytest.raises(AttributeError):
            locks.statistics().active_keys = 0  # type: ignore[misc]
        for w in waiters:
            w.cancel()
        await settle()
        assert stats(locks) == (2, 2, 0)
        locks["a"].release()
        assert stats(locks) == (1, 1, 0)
        locks["b"].release()
        assert stats(locks) == (0, 0, 0)
        assert repr(locks).endswith("[keys:0]>")

    run(main())


def test_works_on_a_real_event_loop() -> None:
    async def main() -> None:
        locks: aiosync.KeyedLock[int] = aiosync.KeyedLock()
        inside: dict[int, int] = {}
        violations = 0

        async def worker(i: int) -> None:
            nonlocal violations
            for j in range(50):
                key = (i + j) % 5
                async with locks[key]:
                    inside[key] = inside.get(key, 0) + 1
                    violations += inside[key] > 1
                    await asyncio.sleep(0)
                    inside[key] -= 1

        await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(10))), 30)
        assert violations == 0
        assert len(locks) == 0
        await locks[1].acquire()
        assert await asyncio.create_task(locks[1].acquire(timeout=0.01)) is False
        locks[1].release()
        assert len(locks) == 0

    asyncio.run(main())


def test_statistics_and_repr_outside_a_loop() -> None:
    locks: aiosync.KeyedLock[str] = aiosync.KeyedLock()
    assert locks.statistics() == aiosync.KeyedLockStatistics(0, 0, 0)
    assert len(locks) == 0 and not locks["k"].locked()
    assert repr(locks).endswith("[keys:0]>")
