"""aiosync.threadsafe: the rules for sharing one instance between event loops and threads."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest
from _threads import DEADLINE, LoopThread, start_thread, wait_until

from aiosync import threadsafe as ts


@pytest.fixture
def loops() -> Any:
    started: list[LoopThread] = []

    def start(factory: Any = None) -> LoopThread:
        lt = LoopThread(factory)
        started.append(lt)
        return lt

    yield start
    for lt in started:
        lt.close()


def _quiet(lock: Any) -> None:
    """Nothing queued, nothing woken and unaccounted for."""
    assert lock._parked_count() == 0
    assert lock._woken == 0
    assert not lock._orphans


# --- wake-ups cross threads --------------------------------------------------------------


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_release_on_one_loop_wakes_a_task_on_another_at_once(loops: Any, loop_kind: str) -> None:
    """The 901 ms case of the issue: loop B has nothing else to do, yet its waiter is
    woken by loop A's release (asyncio.Lock would leave it asleep)."""
    factory = None
    if loop_kind == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    a, b = loops(factory), loops(factory)
    lock = ts.Lock()
    a.run(lock.acquire())
    got = b.submit(lock.acquire())
    wait_until(lambda: lock.statistics().tasks_waiting == 1, "B waits")
    assert not got.done()
    a.loop.call_soon_threadsafe(lock.release)
    assert got.result(DEADLINE) is True
    assert lock.locked()
    b.loop.call_soon_threadsafe(lock.release)
    wait_until(lambda: not lock.locked(), "released")
    _quiet(lock)


def test_fifo_across_tasks_and_threads(loops: Any) -> None:
    """Tasks on two loops and plain threads queue in one FIFO order."""
    a, b = loops(), loops()
    lock = ts.Lock()
    order: list[str] = []
    lock.sync.acquire()

    async def task(name: str) -> None:
        async with lock:
            order.append(name)

    def thread(name: str) -> None:
        with lock.sync:
            order.append(name)

    done = []
    for i, name in enumerate(["a1", "t1", "b1", "t2", "a2", "b2"]):
        if name[0] == "t":
            done.append(start_thread(lambda name=name: thread(name)))  # type: ignore[misc]
        else:
            done.append((a if name[0] == "a" else b).submit(task(name)))
        wait_until(lambda i=i: lock.statistics().tasks_waiting == i + 1, f"{name} queued")  # type: ignore[misc]
    lock.sync.release()
    for fut in done:
        fut.result(DEADLINE)
    assert order == ["a1", "t1", "b1", "t2", "a2", "b2"]
    _quiet(lock)


def test_event_set_from_a_plain_thread_wakes_every_loop_and_thread(loops: Any) -> None:
    event = ts.Event()
    ls = [loops() for _ in range(3)]
    tasks = [lt.submit(event.wait()) for lt in ls for _ in range(5)]
    threads = [start_thread(event.sync.wait) for _ in range(5)]
    wait_until(lambda: event.statistics().tasks_waiting == 20, "all wait")
    start_thread(event.set).result(DEADLINE)
    assert [f.result(DEADLINE) for f in tasks + threads] == [True] * 20
    _quiet(event)


def test_condition_between_a_task_and_a_thread(loops: Any) -> None:
    cond = ts.Condition()
    items: list[int] = []
    lt = loops()

    async def consumer() -> list[int]:
        got = []
        async with cond:
            while len(got) < 3:
                await cond.wait_for(lambda: items)
                got.append(items.pop(0))
                cond.notify()
        return got

    def producer() -> None:
        for i in range(3):
            with cond.sync:
                cond.sync.wait_for(lambda: not items)
                items.append(i)
                cond.sync.notify()

    got = lt.submit(consumer())
    start_thread(producer).result(DEADLINE)
    assert got.result(DEADLINE) == [0, 1, 2]
    _quiet(cond)
    assert not cond.locked()


def test_condition_waiter_on_a_thread_notified_by_a_task(loops: Any) -> None:
    cond = ts.Condition(ts.RLock())
    lt = loops()

    def waiter() -> bool:
        with cond.sync:
            return cond.sync.wait(DEADLINE)

    fut = start_thread(waiter)
    wait_until(lambda: cond.statistics().tasks_waiting == 1, "thread waits")

    async def notify() -> None:
        async with cond:
            cond.notify()

    lt.run(notify())
    assert fut.result(DEADLINE) is True
    _quiet(cond)


def test_barrier_of_tasks_on_two_loops_and_threads(loops: Any) -> None:
    barrier = ts.Barrier(4)
    a, b = loops(), loops()
    for _ in range(3):  # reusable over rounds
        futs = [a.submit(barrier.wait()), b.submit(barrier.wait())]
        futs += [start_thread(barrier.sync.wait) for _ in range(2)]
        assert sorted(f.result(DEADLINE) for f in futs) == [0, 1, 2, 3]
    _quiet(barrier)


# --- cancellation and timeouts -----------------------------------------------------------


def test_task_cancelled_after_being_woken_from_another_thread_passes_the_lock_on(
    loops: Any,
) -> None:
    """The release happens on a thread while the woken task's loop is busy; the task is
    then cancelled before it runs: the next waiter (a thread) gets the lock."""
    lt = loops()
    lock = ts.Lock()
    lock.sync.acquire()
    task_fut = lt.submit(lock.acquire())
    wait_until(lambda: lock.statistics().tasks_waiting == 1, "task waits")
    thread_fut = start_thread(lambda: lock.sync.acquire(timeout=DEADLINE))
    wait_until(lambda: lock.statistics().tasks_waiting == 2, "thread waits")
    gate = threading.Event()
    # Keep the loop busy in a callback, so that the task cannot resume in between.
    lt.loop.call_soon_threadsafe(gate.wait, DEADLINE)
    lock.sync.release()  # wakes the task: the lock is now reserved for it
    assert not thread_fut.done()
    task_fut.cancel()  # lands while the loop is blocked in gate.wait
    gate.set()
    assert thread_fut.result(DEADLINE) is True
    with pytest.raises(Exception):  # noqa: B017 - concurrent or asyncio CancelledError
        task_fut.result(DEADLINE)
    assert lock.locked()
    lock.sync.release()
    _quiet(lock)


def test_sync_timeout_leaves_nothing_behind(loops: Any) -> None:
    sem = ts.Semaphore(0)
    assert sem.sync.acquire(timeout=0.05) is False
    assert sem.sync.acquire(blocking=False) is False
    _quiet(sem)
    lt = loops()
    assert lt.run(sem.acquire(timeout=0.05)) is False
    sem.release()
    assert sem.sync.acquire(timeout=0) is True
    _quiet(sem)


def test_timed_out_task_and_thread_do_not_take_a_later_release(loops: Any) -> None:
    lock = ts.Lock()
    lock.sync.acquire()
    lt = loops()
    assert lt.run(lock.acquire(timeout=0.02)) is False
    assert lock.sync.acquire(timeout=0.02) is False
    lock.release()
    assert not lock.locked()
    _quiet(lock)


def test_barrier_sync_timeout_breaks_it_for_tasks(loops: Any) -> None:
    barrier = ts.Barrier(3)
    lt = loops()
    task = lt.submit(barrier.wait())
    wait_until(lambda: barrier.n_waiting == 1, "task waits")
    with pytest.raises(ts.BrokenBarrierError):
        barrier.sync.wait(timeout=0.02)
    with pytest.raises(ts.BrokenBarrierError):
        task.result(DEADLINE)
    assert barrier.broken
    barrier.sync.reset()
    assert not barrier.broken
    _quiet(barrier)


# --- blocking calls on a loop's thread ---------------------------------------------------


async def _blocking_calls_in_a_loop() -> list[str]:
    lock, rlock, sem = ts.Lock(), ts.RLock(), ts.BoundedSemaphore(1)
    event, cond, barrier = ts.Event(), ts.Condition(), ts.Barrier(2)
    latch, limiter, rw = ts.CountdownLatch(1), ts.CapacityLimiter(1), ts.RWLock()
    calls: list[Any] = [
        lock.sync.acquire,
        lock.sync.__enter__,
        rlock.sync.acquire,
        sem.sync.acquire,
        lambda: sem.sync.acquire(timeout=1),
        event.sync.wait,
        lambda: event.sync.wait(1),
        cond.sync.acquire,
        barrier.sync.wait,
        latch.sync.wait,
        limiter.sync.acquire,
        lambda: limiter.sync.acquire_on_behalf_of("x"),
        rw.read.sync.acquire,
        rw.write.sync.acquire,
    ]
    messages = []
    for call in calls:
        with pytest.raises(RuntimeError) as info:
            call()  # each would succeed at once, and still refuses
        messages.append(str(info.value))
    # None of them took anything or queued.
    assert not lock.locked() and not rlock.locked() and not sem.locked()
    assert barrier.n_waiting == 0 and not cond.locked() and not limiter.borrowed_tokens
    return messages


def test_blocking_call_on_a_loop_thread_is_refused_even_if_it_would_not_block() -> None:
    messages = asyncio.run(_blocking_calls_in_a_loop())
    for message in messages:
        assert "running an event loop" in message
        assert "await" in message and "async with" in message
    assert messages[0].startswith("Lock.sync.acquire()")


def test_calls_that_never_block_are_allowed_on_a_loop_thread() -> None:
    async def main() -> None:
        lock, sem, event = ts.Lock(), ts.Semaphore(1), ts.Event()
        latch, barrier = ts.CountdownLatch(1), ts.Barrier(2)
        assert lock.sync.acquire(blocking=False) is True
        assert lock.sync.acquire(timeout=0) is False
        lock.sync.release()
        assert sem.sync.acquire(blocking=False) is True
        sem.sync.release()
        event.sync.set()
        assert event.sync.wait(0) is True
        latch.sync.count_down()
        assert latch.sync.wait(0) is True
        barrier.sync.abort()
        assert barrier.sync.broken
        barrier.sync.reset()

    asyncio.run(main())


# --- ownership: the task, or else the thread ---------------------------------------------


def test_rlock_owned_by_a_task_cannot_be_released_by_a_thread(loops: Any) -> None:
    rlock = ts.RLock()
    lt = loops()

    async def hold() -> Any:
        await rlock.acquire()
        await rlock.acquire()
        return asyncio.current_task()

    task = lt.run(hold())
    assert rlock.statistics().owner is task and rlock.statistics().count == 2
    with pytest.raises(RuntimeError, match="does not hold it"):
        rlock.sync.release()
    with pytest.raises(RuntimeError, match="does not hold it"):
        rlock.release()
    assert rlock.statistics().count == 2

    async def release_twice() -> None:
        rlock.release()
        rlock.release()

    with pytest.raises(RuntimeError):  # another task on the same loop is not the owner
        lt.run(release_twice())
    lt.loop.call_soon_threadsafe(lambda: None)
    assert rlock.locked()


def test_rlock_owned_by_a_thread_is_reentrant_and_excludes_tasks(loops: Any) -> None:
    rlock = ts.RLock()
    lt = loops()
    with rlock.sync:
        with rlock.sync:
            assert rlock.statistics().owner is threading.current_thread()
            assert rlock.statistics().count == 2
            assert lt.run(rlock.acquire(timeout=0.02)) is False
            assert start_thread(lambda: rlock.sync.acquire(timeout=0.02)).result(DEADLINE) is False
        assert rlock.locked()
    assert not rlock.locked()
    _quiet(rlock)


def test_rlock_from_a_loop_callback_is_owned_by_the_thread() -> None:
    """Outside any task (a plain callback on a loop), the owner is the loop's thread."""
    rlock = ts.RLock()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def callback() -> None:
            assert rlock.sync.acquire(blocking=False)
            done.set_result(rlock.statistics().owner)
            rlock.release()

        loop.call_soon(callback)
        return await done

    assert asyncio.run(main()) is threading.current_thread()
    assert not rlock.locked()


def test_capacity_limiter_borrower_is_the_thread_or_the_task(loops: Any) -> None:
    limiter = ts.CapacityLimiter(2)
    lt = loops()
    with limiter.sync:
        assert limiter.statistics().borrowers == (threading.current_thread(),)
        with pytest.raises(RuntimeError, match="already holds"):
            limiter.sync.acquire()

        async def borrow() -> Any:
            await limiter.acquire()
            return asyncio.current_task()

        task = lt.run(borrow())
        assert set(limiter.statistics().borrowers) == {threading.current_thread(), task}
        assert limiter.sync.locked()
        with pytest.raises(RuntimeError, match="holds no token"):
            start_thread(limiter.sync.release).result(DEADLINE)

        async def give_back() -> None:
            limiter.release_on_behalf_of(task)

        lt.run(give_back())
    assert limiter.borrowed_tokens == 0
    assert limiter.sync.acquire_on_behalf_of("job", timeout=0) is True
    limiter.sync.release_on_behalf_of("job")
    _quiet(limiter)


def test_rwlock_thread_reader_and_task_writer(loops: Any) -> None:
    rw = ts.RWLock()
    lt = loops()
    rw.read.sync.acquire()
    writer = lt.submit(rw.write.acquire())
    wait_until(lambda: rw.statistics().writers_waiting == 1, "writer waits")
    # A new reader queues behind the waiting writer, thread or task alike.
    assert rw.read.sync.acquire(timeout=0) is True  # re-entry by the holding thread
    assert start_thread(lambda: rw.read.sync.acquire(timeout=0.02)).result(DEADLINE) is False
    rw.read.sync.release()
    rw.read.sync.release()
    assert writer.result(DEADLINE) is True
    assert rw.write.locked() and not rw.read.locked()

    async def release() -> None:
        rw.write.release()

    with pytest.raises(RuntimeError, match="does not hold"):
        lt.run(release())  # another task: not the owner
    _quiet(rw)


# --- loops that close with tasks still parked --------------------------------------------


def test_waiter_whose_loop_closed_is_skipped(loops: Any) -> None:
    """A loop closed without cancelling its parked task: its waiter never blocks the queue,
    and the thread behind it gets the lock on release."""
    lock = ts.Lock()
    lock.sync.acquire()
    doomed = LoopThread()
    doomed.submit(lock.acquire())
    wait_until(lambda: lock.statistics().tasks_waiting == 1, "task waits")
    doomed.stop()
    doomed.loop.close()  # the task is still pending: asyncio would warn when it is freed
    behind = start_thread(lambda: lock.sync.acquire(timeout=DEADLINE))
    wait_until(lambda: len(lock._queue) == 2, "thread waits")
    lock.sync.release()
    assert behind.result(DEADLINE) is True
    lock.sync.release()
    _quiet(lock)
    # When the abandoned task is freed, its coroutine is closed: that must not count it
    # as leaving a second time.
    del doomed
    gc.collect()
    _quiet(lock)
    assert lock.sync.acquire(timeout=0) is True
    assert lock._woken == 0


class _ClosingLoop(asyncio.SelectorEventLoop):
    """A loop that is closed "just after" the lot checked it: refuses deliveries."""

    refuse = False

    def call_soon_threadsafe(self, *args: Any, **kwargs: Any) -> Any:
        if self.refuse:
            raise RuntimeError("Event loop is closed")
        return super().call_soon_threadsafe(*args, **kwargs)


def test_grant_that_cannot_be_delivered_is_passed_on(loops: Any) -> None:
    lock = ts.Lock()
    lock.sync.acquire()
    lt = loops(_ClosingLoop)
    lt.submit(lock.acquire())
    wait_until(lambda: lock.statistics().tasks_waiting == 1, "task waits")
    behind = start_thread(lambda: lock.sync.acquire(timeout=DEADLINE))
    wait_until(lambda: lock.statistics().tasks_waiting == 2, "thread waits")
    lt.loop.refuse = True  # type: ignore[attr-defined]
    lock.sync.release()  # the task's wake-up fails: the thread gets the lock instead
    assert behind.result(DEADLINE) is True
    lock.sync.release()
    assert not lock.locked()
    lt.loop.refuse = False  # type: ignore[attr-defined]


def test_closed_loop_waiter_gives_back_its_place_in_a_capacity_limiter() -> None:
    """A tagged waiter (a borrower) whose loop closed is forgotten: its borrower may queue
    again, and the tokens go to the waiters behind it."""
    limiter = ts.CapacityLimiter(1)
    limiter.sync.acquire_on_behalf_of("holder")
    doomed = LoopThread()
    doomed.submit(limiter.acquire_on_behalf_of("job"))
    wait_until(lambda: limiter.statistics().tasks_waiting == 1, "job waits")
    doomed.stop()
    doomed.loop.close()
    behind = start_thread(lambda: limiter.sync.acquire_on_behalf_of("next", timeout=DEADLINE))
    wait_until(lambda: len(limiter._queue) == 2, "next waits")
    limiter.sync.release_on_behalf_of("holder")
    assert behind.result(DEADLINE) is True
    assert limiter.statistics().borrowers == ("next",)
    assert limiter.sync.acquire_on_behalf_of("job", timeout=0) is False  # queues anew: allowed
    limiter.sync.release_on_behalf_of("next")
    _quiet(limiter)


def test_party_whose_loop_closed_does_not_count_at_a_barrier() -> None:
    """A party parked on a loop that closed has not arrived: the barrier trips with the
    next two live parties, each getting its own index."""
    barrier = ts.Barrier(2)
    doomed = LoopThread()
    doomed.submit(barrier.wait())
    wait_until(lambda: barrier.n_waiting == 1, "party waits")
    doomed.stop()
    doomed.loop.close()
    assert barrier.n_waiting == 0
    first = start_thread(lambda: barrier.sync.wait(DEADLINE))
    wait_until(lambda: barrier.n_waiting == 1, "first live party waits")
    assert not first.done()
    assert sorted([barrier.sync.wait(DEADLINE), first.result(DEADLINE)]) == [0, 1]
    _quiet(barrier)


def _doomed_waiter(lock: Any) -> LoopThread:
    """A task parked on ``lock`` in a loop that is then stopped (not closed)."""
    doomed = LoopThread()
    doomed.submit(lock.acquire())
    wait_until(lambda: lock._parked_count() == 1, "task waits")
    doomed.stop()
    return doomed


def test_grant_sent_to_a_loop_that_closes_before_the_task_runs_is_recovered() -> None:
    """The wake-up reaches a stopped loop, which then closes without running the task:
    the next call on the lock, from anywhere, finds the grant lost and passes it on."""
    lock = ts.Lock()
    lock.sync.acquire()
    doomed = _doomed_waiter(lock)
    lock.sync.release()  # reserved for the task, which never runs
    assert lock._woken == 1 and not lock.locked()
    assert lock.sync.acquire(timeout=0) is False  # its loop still might run it
    doomed.loop.close()
    assert lock.sync.acquire(timeout=0) is True
    assert lock._woken == 0 and not lock._in_flight
    lock.sync.release()
    _quiet(lock)


def test_parked_thread_recovers_a_grant_lost_to_a_closed_loop_by_itself() -> None:
    """Nobody else calls the lock: the thread parked behind the lost grant notices the
    closed loop when it re-checks (every RECHECK_INTERVAL) and takes the lock."""
    lock = ts.Lock()
    lock.sync.acquire()
    doomed = _doomed_waiter(lock)
    behind = start_thread(lambda: lock.sync.acquire(timeout=DEADLINE))
    wait_until(lambda: lock._parked_count() == 2, "thread waits")
    lock.sync.release()
    doomed.loop.close()
    assert behind.result(DEADLINE) is True
    lock.sync.release()
    _quiet(lock)


def test_semaphore_permits_lost_to_a_closed_loop_come_back() -> None:
    sem = ts.Semaphore(1)
    sem.sync.acquire()
    doomed = _doomed_waiter(sem)
    sem.release()  # handed to the task
    doomed.loop.close()
    assert sem.statistics().value == 1  # statistics() itself recovers it first
    assert sem.sync.acquire(blocking=False) is True
    sem.release()
    _quiet(sem)


def test_task_that_timed_out_on_a_loop_that_then_closed_passes_nothing_on() -> None:
    """A timed-out waiter holds nothing: if its loop stops and closes before it runs,
    there is no grant to recover (recovering one would wake a second holder)."""

    class StopAfterExpiry(ts.Lock):
        def _expire(self, fut: Any) -> None:
            super()._expire(fut)
            asyncio.get_running_loop().stop()  # before the timed-out task can run

    lock = StopAfterExpiry()
    lock.sync.acquire()
    behind = start_thread(lambda: lock.sync.acquire(timeout=DEADLINE))
    wait_until(lambda: lock._parked_count() == 1, "thread waits")
    doomed = LoopThread()
    doomed.submit(lock.acquire(timeout=0.01))
    doomed.thread.join(DEADLINE)
    doomed.loop.close()
    assert lock.locked() and not behind.done()
    assert lock.statistics().tasks_waiting == 1  # the thread, still behind our hold
    assert lock._woken == 0
    lock.sync.release()
    assert behind.result(DEADLINE) is True
    lock.sync.release()
    _quiet(lock)


def test_notification_sent_to_a_task_whose_loop_closed_is_passed_on() -> None:
    """A notified task that never runs (its loop closed first) passes its notification to
    the next waiter, as a cancelled one does."""
    cond = ts.Condition()
    loop1, loop2 = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:

        async def waiter() -> bool:
            async with cond:
                return await cond.wait()

        first = loop1.create_task(waiter())
        loop1.run_until_complete(asyncio.sleep(0))  # first waits
        second = loop2.create_task(waiter())
        loop2.run_until_complete(asyncio.sleep(0))  # second waits behind it

        async def notify_one() -> None:
            async with cond:
                cond.notify()

        loop2.run_until_complete(notify_one())  # wakes first, on loop1, which never runs
        loop1.close()
        # The next call on the condition, whatever it is, finds the notification lost and
        # passes it on (parked tasks do not poll for it; parked threads do).
        assert cond.statistics().tasks_waiting == 1  # second, woken, not yet run
        done, _ = loop2.run_until_complete(asyncio.wait([second], timeout=DEADLINE))
        assert second in done and second.result() is True
        assert cond.statistics().tasks_waiting == 0 and cond._woken == 0
        assert not first.done()
        first._log_destroy_pending = False  # type: ignore[attr-defined]  # abandoned on purpose
    finally:
        loop1.close()
        loop2.close()


def test_condition_wait_with_timeout_zero_is_refused_on_a_loop_thread() -> None:
    """Even with timeout=0, waiting re-takes the lock, which may block: refused, and the
    caller keeps the lock."""

    async def main() -> None:
        cond = ts.Condition()
        assert cond.sync.acquire(blocking=False)
        with pytest.raises(RuntimeError, match="running an event loop"):
            cond.sync.wait(0)
        with pytest.raises(RuntimeError, match="running an event loop"):
            cond.sync.wait_for(lambda: False, 0)
        assert cond.locked()
        assert cond._parked_count() == 0
        cond.sync.release()

    asyncio.run(main())
