"""RWLock: shared reads, exclusive writes, the fair queue, task-owned holds, timeouts,
cancellation, statistics and repr.

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


class Holder:
    """A task that takes one side of ``rw``, logs it, and holds it until ``done()``."""

    def __init__(
        self,
        rw: aiosync.RWLock,
        mode: str,
        name: str,
        log: list[str],
        timeout: float | None = None,
    ) -> None:
        self.rw = rw
        self.mode = mode
        self.name = name
        self.log = log
        self.timeout = timeout
        self.granted = False
        self._release = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=name)

    async def _run(self) -> bool:
        side = getattr(self.rw, self.mode)
        if not await side.acquire(timeout=self.timeout):
            self.log.append(f"{self.name} timed out")
            return False
        self.granted = True
        self.log.append(self.name)
        await self._release.wait()
        side.release()
        return True

    async def done(self) -> bool:
        self._release.set()
        return await self.task


def spawn(rw: aiosync.RWLock, log: list[str], *specs: str) -> dict[str, Holder]:
    """``spawn(rw, log, "r1", "w1")``: a Holder per name, its mode from the first letter."""
    return {s: Holder(rw, "read" if s[0] == "r" else "write", s, log) for s in specs}


# --- sharing and exclusion --------------------------------------------------------------


def test_readers_share_and_a_writer_excludes_everyone() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "r1", "r2", "r3")
        await settle()
        assert log == ["r1", "r2", "r3"]
        assert rw.read.locked() and not rw.write.locked()
        stats = rw.statistics()
        assert set(stats.readers) == {h["r1"].task, h["r2"].task, h["r3"].task}
        assert stats.writer is None
        w = spawn(rw, log, "w1")["w1"]
        await settle()
        assert not w.granted
        for name in ("r1", "r2"):
            assert await h[name].done()
        await settle()
        assert not w.granted, "a writer must wait for every reader"
        assert await h["r3"].done()
        await settle()
        assert w.granted
        assert rw.write.locked() and not rw.read.locked()
        assert rw.statistics().writer is w.task
        more = spawn(rw, log, "r4", "w2")
        await settle()
        assert not more["r4"].granted and not more["w2"].granted
        assert await w.done()
        assert await more["r4"].done()
        assert await more["w2"].done()
        assert log == ["r1", "r2", "r3", "w1", "r4", "w2"]
        assert not rw.read.locked() and not rw.write.locked()

    run(main())


def test_async_with_on_both_sides_and_release_on_exception() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        with pytest.raises(ZeroDivisionError):
            async with rw.write:
                assert rw.write.locked()
                1 / 0  # noqa: B018
        assert not rw.write.locked()
        with pytest.raises(KeyError):
            async with rw.read:
                assert rw.read.locked()
                raise KeyError
        assert not rw.read.locked()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


# --- the fair queue ---------------------------------------------------------------------


def test_once_a_writer_waits_new_readers_queue_behind_it() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "r1")
        await settle()
        h |= spawn(rw, log, "w1")
        await settle()
        h |= spawn(rw, log, "r2")
        await settle()
        assert log == ["r1"], "r2 must queue behind the waiting writer"

        async def try_read() -> bool:
            return await rw.read.acquire(timeout=0)

        assert no_block(try_read()) is False  # timeout=0 does not jump the queue either
        stats = rw.statistics()
        assert (stats.readers_waiting, stats.writers_waiting) == (1, 1)
        await h["r1"].done()
        await settle()
        assert log == ["r1", "w1"]
        await h["w1"].done()
        await settle()
        assert log == ["r1", "w1", "r2"]
        await h["r2"].done()

    run(main())


def test_a_writer_release_admits_the_readers_before_the_next_writer_together() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "w0")
        await settle()
        h |= spawn(rw, log, "r1", "r2", "w1", "r3", "r4", "w2", "r5")
        await settle()
        assert log == ["w0"]
        stats = rw.statistics()
        assert (stats.readers_waiting, stats.writers_waiting) == (5, 2)

        await h["w0"].done()
        await settle()
        assert log == ["w0", "r1", "r2"]
        assert set(rw.statistics().readers) == {h["r1"].task, h["r2"].task}
        await h["r1"].done()
        await settle()
        assert log == ["w0", "r1", "r2"], "w1 must wait for r2 as well"
        await h["r2"].done()
        await settle()
        assert log == ["w0", "r1", "r2", "w1"]
        await h["w1"].done()
        await settle()
        assert log == ["w0", "r1", "r2", "w1", "r3", "r4"]
        await h["r3"].done()
        await h["r4"].done()
        await settle()
        assert log[-1] == "w2"
        await h["w2"].done()
        await settle()
        assert log[-1] == "r5"
        await h["r5"].done()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_readers_admitted_together_are_woken_in_the_same_step() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        await rw.write.acquire()
        readers = [asyncio.create_task(rw.read.acquire()) for _ in range(5)]
        writer = asyncio.create_task(rw.write.acquire())
        await settle()
        rw.write.release()
        # Granted at release time, before any of them ran.
        assert len(rw.statistics().readers) == 5
        assert rw.statistics().writers_waiting == 1
        assert await asyncio.gather(*readers) == [True] * 5
        assert not writer.done()
        writer.cancel()
        await settle()

    run(main())


def test_neither_side_starves_under_a_continuous_stream() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        events: list[str] = []
        stop = False

        async def reader(i: int) -> None:
            while not stop:
                async with rw.read:
                    events.append("r")
                    await asyncio.sleep(0.01 * (1 + i % 3))

        async def writer() -> None:
            while not stop:
                async with rw.write:
                    assert not rw.statistics().readers
                    events.append("w")
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.001)

        tasks = [asyncio.create_task(reader(i)) for i in range(6)]
        tasks += [asyncio.create_task(writer()) for _ in range(2)]
        await asyncio.sleep(10)
        stop = True
        await asyncio.gather(*tasks)
        assert events.count("w") > 100
        assert events.count("r") > 100
        # Between two consecutive writes, readers got in; no side waited for long runs.
        runs = "".join(events).split("w")
        assert max(len(r) for r in runs) <= 12

    run(main())


# --- task-owned holds -------------------------------------------------------------------


def test_upgrade_from_read_to_write_raises_instead_of_hanging() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        me = asyncio.current_task()
        me.set_name("upgrader")  # type: ignore[union-attr]
        await rw.read.acquire()
        with pytest.raises(RuntimeError, match="upgrader"):
            no_block(rw.write.acquire())
        with pytest.raises(RuntimeError):
            no_block(rw.write.acquire(timeout=0))
        with pytest.raises(RuntimeError):
            no_block(rw.write.acquire(timeout=5))
        with pytest.raises(RuntimeError, match="upgrade"):
            async with rw.write:
                pass
        # Nothing changed: still a reader, nobody queued.
        assert rw.statistics() == aiosync.RWLockStatistics((me,), None, 0, 0)  # type: ignore[arg-type]
        rw.read.release()
        assert no_block(rw.write.acquire(timeout=0)) is True
        rw.write.release()

    run(main())


def test_upgrade_raises_even_while_another_reader_holds_and_a_writer_waits() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "r1")
        await rw.read.acquire()
        await settle()
        h |= spawn(rw, log, "w1")
        await settle()
        with pytest.raises(RuntimeError, match="upgrade"):
            no_block(rw.write.acquire(timeout=100))
        with pytest.raises(RuntimeError, match="upgrade"):
            await rw.write.acquire()
        assert now() == 0
        rw.read.release()
        await h["r1"].done()
        await settle()
        assert log == ["r1", "w1"]
        await h["w1"].done()

    run(main())


def test_writer_may_take_read_and_write_again() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        me = asyncio.current_task()
        await rw.write.acquire()
        other = asyncio.create_task(rw.read.acquire())
        await settle()
        assert no_block(rw.read.acquire(timeout=0)) is True
        assert no_block(rw.read.acquire()) is True
        assert no_block(rw.write.acquire(timeout=0)) is True
        async with rw.write, rw.read:
            pass
        stats = rw.statistics()
        assert stats.writer is me and stats.readers == (me,) and stats.readers_waiting == 1
        rw.write.release()
        assert rw.statistics().writer is me  # one write hold left
        rw.read.release()
        rw.read.release()
        assert rw.statistics().readers == ()
        assert not other.done()
        rw.write.release()
        assert await other is True
        assert rw.statistics().readers == (other,)

    run(main())


def test_writer_that_keeps_a_read_hold_becomes_a_reader() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        me = asyncio.current_task()
        await rw.write.acquire()
        await rw.read.acquire()
        h = spawn(rw, log, "r1", "w1", "r2")
        await settle()
        rw.write.release()  # still holds read: the readers at the head may join
        await settle()
        assert log == ["r1"]
        assert set(rw.statistics().readers) == {me, h["r1"].task}
        with pytest.raises(RuntimeError):
            no_block(rw.write.acquire())  # now only a reader: upgrade refused
        rw.read.release()
        await h["r1"].done()
        await settle()
        assert log == ["r1", "w1"]
        await h["w1"].done()
        await settle()
        await h["r2"].done()
        assert log == ["r1", "w1", "r2"]

    run(main())


def test_reader_may_read_again_while_a_writer_waits() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        await rw.read.acquire()
        writer = asyncio.create_task(rw.write.acquire())
        await settle()
        assert no_block(rw.read.acquire(timeout=0)) is True
        assert no_block(rw.read.acquire()) is True
        rw.read.release()
        rw.read.release()
        assert not writer.done()
        rw.read.release()
        assert await writer is True

    run(main())


def test_release_of_a_side_not_held_raises() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        asyncio.current_task().set_name("main-task")  # type: ignore[union-attr]
        with pytest.raises(RuntimeError, match="main-task"):
            rw.read.release()
        with pytest.raises(RuntimeError, match="main-task"):
            rw.write.release()
        await rw.read.acquire()
        with pytest.raises(RuntimeError):
            rw.write.release()
        rw.read.release()
        with pytest.raises(RuntimeError):
            rw.read.release()
        await rw.write.acquire()
        with pytest.raises(RuntimeError):
            rw.read.release()

        async def other_task() -> None:
            with pytest.raises(RuntimeError):
                rw.write.release()
            with pytest.raises(RuntimeError):
                rw.read.release()

        await asyncio.create_task(other_task())
        assert rw.statistics().writer is asyncio.current_task()
        rw.write.release()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_another_task_cannot_release_a_readers_hold() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "r1")
        await settle()
        with pytest.raises(RuntimeError):
            rw.read.release()
        assert rw.statistics().readers == (h["r1"].task,)
        await h["r1"].done()

    run(main())


# --- timeouts ---------------------------------------------------------------------------


def test_read_timeout_returns_false_holding_nothing_and_leaving_no_waiter() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "w1")
        await settle()
        assert await rw.read.acquire(timeout=2) is False
        assert now() == 2
        assert rw.statistics() == aiosync.RWLockStatistics((), h["w1"].task, 0, 0)
        assert live_timers() == []
        with pytest.raises(RuntimeError):
            rw.read.release()
        await h["w1"].done()
        assert no_block(rw.read.acquire(timeout=0)) is True
        rw.read.release()

    run(main())


def test_write_timeout_lets_the_readers_behind_it_in() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "r1")
        await settle()
        writer = asyncio.create_task(rw.write.acquire(timeout=3))
        await settle()
        h |= spawn(rw, log, "r2", "r3")
        await settle()
        assert log == ["r1"]
        assert await writer is False
        assert now() == 3
        await settle()
        assert log == ["r1", "r2", "r3"], "readers behind an expired writer must be admitted"
        assert rw.statistics().writers_waiting == 0
        for name in ("r1", "r2", "r3"):
            await h[name].done()
        assert no_block(rw.write.acquire(timeout=0)) is True
        rw.write.release()

    run(main())


def test_write_timeout_while_a_writer_holds() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "w1")
        await settle()
        assert await rw.write.acquire(timeout=1) is False
        assert rw.statistics().writer is h["w1"].task
        await h["w1"].done()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_timeout_zero_never_blocks() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        assert no_block(rw.read.acquire(timeout=0)) is True
        rw.read.release()
        assert no_block(rw.write.acquire(timeout=0)) is True
        rw.write.release()
        h = spawn(rw, log, "r1")
        await settle()
        assert no_block(rw.write.acquire(timeout=0)) is False
        assert no_block(rw.read.acquire(timeout=0)) is True  # readers share
        rw.read.release()
        await h["r1"].done()
        h = spawn(rw, log, "w1")
        await settle()
        assert no_block(rw.read.acquire(timeout=0)) is False
        assert no_block(rw.write.acquire(timeout=0)) is False
        assert rw.statistics().readers_waiting == rw.statistics().writers_waiting == 0
        await h["w1"].done()

    run(main())


def test_timeout_zero_never_jumps_the_queue_when_the_lock_is_free() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        await rw.write.acquire()
        reader = asyncio.create_task(rw.read.acquire())
        writer = asyncio.create_task(rw.write.acquire())
        await settle()
        rw.write.release()  # reader granted (not yet run); writer still queued
        assert no_block(rw.write.acquire(timeout=0)) is False
        assert no_block(rw.read.acquire(timeout=0)) is False  # behind the queued writer
        assert await reader is True
        writer.cancel()
        await settle()

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.5, math.nan, -math.inf])
@pytest.mark.parametrize("mode", ["read", "write"])
def test_bad_timeout_is_a_value_error_even_when_it_would_not_block(
    mode: str, timeout: float
) -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        side = getattr(rw, mode)
        with pytest.raises(ValueError, match="timeout") as info:
            await side.acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)
        await rw.write.acquire()
        with pytest.raises(ValueError, match="timeout"):
            await side.acquire(timeout=timeout)  # a re-entry would not block either
        rw.write.release()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


@pytest.mark.parametrize("timeout", ["1", True, [1], object()])
@pytest.mark.parametrize("mode", ["read", "write"])
def test_non_number_timeout_is_a_type_error(mode: str, timeout: Any) -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        with pytest.raises(TypeError, match="timeout") as info:
            await getattr(rw, mode).acquire(timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


# --- cancellation -----------------------------------------------------------------------


def test_cancelled_parked_writer_lets_the_readers_behind_it_in() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "r1", "w1", "r2", "r3", "w2", "r4")
        await settle()
        assert log == ["r1"]
        h["w1"].task.cancel()
        await settle()
        assert log == ["r1", "r2", "r3"]
        stats = rw.statistics()
        assert (stats.readers_waiting, stats.writers_waiting) == (1, 1)
        for name in ("r1", "r2", "r3"):
            await h[name].done()
        await settle()
        assert log[-1] == "w2"
        await h["w2"].done()
        await h["r4"].done()
        assert log == ["r1", "r2", "r3", "w2", "r4"]

    run(main())


def test_cancelled_parked_reader_leaves_the_queue() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        h = spawn(rw, log, "w1", "r1", "r2", "w2")
        await settle()
        h["r1"].task.cancel()
        await settle()
        assert rw.statistics().readers_waiting == 1
        await h["w1"].done()
        await settle()
        assert log == ["w1", "r2"]
        await h["r2"].done()
        await h["w2"].done()
        assert log == ["w1", "r2", "w2"]

    run(main())


def test_cancelled_woken_writer_passes_the_lock_on() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        await rw.write.acquire()
        h = spawn(rw, log, "w1", "r1", "r2", "w2")
        await settle()
        rw.write.release()  # hands the lock to w1 ...
        assert rw.statistics().writer is h["w1"].task
        h["w1"].task.cancel()  # ... which is cancelled before it runs
        await settle()
        assert h["w1"].task.cancelled()
        assert log == ["r1", "r2"]
        assert rw.statistics().writer is None
        await h["r1"].done()
        await h["r2"].done()
        await h["w2"].done()
        assert log == ["r1", "r2", "w2"]
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_cancelled_woken_reader_gives_its_hold_back() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        await rw.write.acquire()
        h = spawn(rw, log, "r1", "r2", "w1")
        await settle()
        rw.write.release()
        assert len(rw.statistics().readers) == 2
        h["r1"].task.cancel()
        await settle()
        assert h["r1"].task.cancelled()
        assert rw.statistics().readers == (h["r2"].task,)
        assert log == ["r2"]
        await h["r2"].done()
        await settle()
        assert log == ["r2", "w1"]
        await h["w1"].done()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_all_woken_readers_cancelled_lets_the_next_writer_in() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        log: list[str] = []
        await rw.write.acquire()
        h = spawn(rw, log, "r1", "r2", "w1")
        await settle()
        rw.write.release()
        h["r1"].task.cancel()
        h["r2"].task.cancel()
        await settle()
        assert log == ["w1"]
        assert rw.statistics().writer is h["w1"].task
        await h["w1"].done()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_cancel_during_a_timed_wait_leaves_nothing_behind() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        await rw.read.acquire()
        writer = asyncio.create_task(rw.write.acquire(timeout=10))
        await settle()
        reader = asyncio.create_task(rw.read.acquire(timeout=10))
        await settle()
        assert len(live_timers()) == 2
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        # The reader behind the cancelled writer is admitted.
        assert await reader is True
        assert live_timers() == []
        stats = rw.statistics()
        assert stats.writers_waiting == 0 and len(stats.readers) == 2

    run(main())


def test_cancel_after_the_timeout_fired_but_before_the_waiter_ran() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        await rw.read.acquire()
        writer = asyncio.create_task(rw.write.acquire(timeout=1))
        await settle()
        log: list[str] = []
        h = spawn(rw, log, "r1")
        await settle()
        assert log == []
        await fire_due_timers_only(until=5)
        assert not writer.done() and rw.statistics().writers_waiting == 0
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        await settle()
        assert log == ["r1"]
        assert rw.statistics().writer is None
        await h["r1"].done()
        rw.read.release()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    run(main())


def test_cancel_while_holding_inside_async_with_releases() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()

        async def hold() -> None:
            async with rw.write:
                await asyncio.sleep(100)

        task = asyncio.create_task(hold())
        await settle()
        reader = asyncio.create_task(rw.read.acquire())
        await settle()
        task.cancel()
        assert await reader is True
        assert rw.statistics().writer is None

    run(main())


# --- statistics and repr ----------------------------------------------------------------


def test_statistics_and_repr() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        assert rw.statistics() == aiosync.RWLockStatistics(
            readers=(), writer=None, readers_waiting=0, writers_waiting=0
        )
        assert repr(rw).endswith("[unlocked]>") and "RWLock" in repr(rw)
        assert repr(rw.read).startswith("<read side of <")
        assert repr(rw.write).startswith("<write side of <")
        log: list[str] = []
        h = spawn(rw, log, "r1", "r2")
        await settle()
        assert "[read-locked by 2 tasks]" in repr(rw)
        h |= spawn(rw, log, "w1", "r3", "w2")
        await settle()
        assert "[read-locked by 2 tasks, waiters:3]" in repr(rw)
        stats = rw.statistics()
        assert stats.readers == (h["r1"].task, h["r2"].task)
        assert (stats.writer, stats.readers_waiting, stats.writers_waiting) == (None, 1, 2)
        with pytest.raises(AttributeError):
            stats.writer = None  # type: ignore[misc]
        await h["r1"].done()
        await h["r2"].done()
        await settle()
        assert "[write-locked by w1, waiters:2]" in repr(rw)
        assert "write-locked by w1" in repr(rw.write)
        assert rw.statistics().writer is h["w1"].task
        for name in ("w1", "r3", "w2"):
            await h[name].done()
        assert repr(rw).endswith("[unlocked]>")

    run(main())


def test_works_on_a_real_event_loop() -> None:
    async def main() -> None:
        rw = aiosync.RWLock()
        readers = 0
        writers = 0
        seen_shared = False

        async def reader() -> None:
            nonlocal readers, seen_shared
            for _ in range(20):
                async with rw.read:
                    assert writers == 0
                    readers += 1
                    seen_shared |= readers > 1
                    await asyncio.sleep(0)
                    readers -= 1

        async def writer() -> None:
            nonlocal writers
            for _ in range(10):
                async with rw.write:
                    assert readers == 0 and writers == 0
                    writers += 1
                    await asyncio.sleep(0)
                    writers -= 1

        jobs = [reader() for _ in range(5)] + [writer() for _ in range(3)]
        await asyncio.wait_for(asyncio.gather(*jobs), 30)
        assert seen_shared
        await rw.write.acquire()
        assert await asyncio.create_task(rw.read.acquire(timeout=0.01)) is False
        rw.write.release()
        assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)

    asyncio.run(main())


def test_statistics_and_repr_outside_a_loop() -> None:
    rw = aiosync.RWLock()
    assert rw.statistics() == aiosync.RWLockStatistics((), None, 0, 0)
    assert repr(rw).endswith("[unlocked]>")
    assert not rw.read.locked() and not rw.write.locked()
