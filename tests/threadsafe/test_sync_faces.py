"""The blocking faces (``obj.sync``): the threading module's API, checked arguments."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from _threads import DEADLINE, start_thread, wait_until

import aiosync
from aiosync import threadsafe as ts


@pytest.mark.parametrize("make", [ts.Lock, ts.RLock], ids=["Lock", "RLock"])
def test_lock_face_is_threading_lock(make: Any) -> None:
    lock = make()
    with lock.sync as got:
        assert got is True
        assert lock.locked() and lock.sync.locked()
    assert not lock.locked()
    assert lock.sync.acquire(True, -1) is True
    assert start_thread(lambda: lock.sync.acquire(False)).result(DEADLINE) is False
    assert start_thread(lambda: lock.sync.acquire(True, 0.01)).result(DEADLINE) is False
    lock.sync.release()
    with pytest.raises(RuntimeError):
        lock.sync.release()
    assert "blocking face of" in repr(lock.sync)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"blocking": False, "timeout": 1}, ValueError, "non-blocking"),
        ({"timeout": -2}, ValueError, "-2"),
        ({"timeout": float("nan")}, ValueError, "nan"),
        ({"timeout": "1"}, TypeError, "'1'"),
        ({"timeout": True}, TypeError, "True"),
    ],
)
def test_lock_face_bad_arguments(kwargs: dict[str, Any], error: type, words: str) -> None:
    lock = ts.Lock()
    with pytest.raises(error, match=words):
        lock.sync.acquire(**kwargs)
    assert not lock.locked()
    assert lock._parked_count() == 0


def test_semaphore_face_is_threading_semaphore() -> None:
    sem = ts.Semaphore(0)
    assert sem.sync.acquire(timeout=0.01) is False
    assert sem.sync.acquire(blocking=False) is False
    with pytest.raises(ValueError, match="non-blocking"):
        sem.sync.acquire(False, 1)
    waiters = [start_thread(lambda: sem.sync.acquire(timeout=DEADLINE)) for _ in range(3)]
    wait_until(lambda: sem.statistics().tasks_waiting == 3, "three wait")
    sem.sync.release(3)  # threading.Semaphore.release(n)
    assert [w.result(DEADLINE) for w in waiters] == [True] * 3
    with pytest.raises(ValueError, match="one or more"):
        sem.sync.release(0)
    with pytest.raises(TypeError, match="int"):
        sem.sync.release(True)
    sem.sync.release()
    with sem.sync:
        assert sem.statistics().value == 0
    assert sem.statistics().value == 1


def test_bounded_semaphore_face_refuses_to_release_past_the_bound_releasing_none() -> None:
    sem = ts.BoundedSemaphore(3)
    sem.sync.acquire()
    sem.sync.acquire()
    with pytest.raises(ValueError, match="too many"):
        sem.sync.release(3)
    assert sem.statistics().value == 1
    sem.sync.release(2)
    assert sem.statistics().value == 3
    with pytest.raises(ValueError, match="too many"):
        sem.sync.release()
    with pytest.raises(ValueError, match="too many"):
        sem.release()
    assert isinstance(sem, ts.Semaphore) and isinstance(sem, aiosync.BoundedSemaphore)


def test_event_face_is_threading_event() -> None:
    event = ts.Event()
    assert event.sync.wait(0.01) is False
    assert not event.sync.is_set()
    waiter = start_thread(event.sync.wait)
    event.sync.set()
    assert waiter.result(DEADLINE) is True and event.is_set()
    event.sync.clear()
    assert not event.is_set()
    with pytest.raises(ValueError, match="-1"):
        event.sync.wait(-1)
    with pytest.raises(TypeError):
        event.sync.wait("soon")  # type: ignore[arg-type]


def test_condition_face_is_threading_condition() -> None:
    cond = ts.Condition()
    with pytest.raises(RuntimeError, match="un-acquired"):
        cond.sync.wait(0.01)
    with pytest.raises(RuntimeError, match="un-acquired"):
        cond.sync.notify()
    with cond.sync:
        assert cond.sync.wait(0.01) is False  # timed out, lock held again
        assert cond.locked()
        assert cond.sync.wait_for(lambda: 0, timeout=0.01) == 0
        assert cond.sync.wait_for(lambda: "ready") == "ready"
        with pytest.raises(ValueError, match="n must be >= 0"):
            cond.sync.notify(-1)
        cond.sync.notify_all()
    assert not cond.locked()
    assert cond.sync.acquire(timeout=0) is True
    cond.sync.release()
    assert cond._parked_count() == 0


@pytest.mark.parametrize(
    "lock", [asyncio.Lock, aiosync.Lock, threading.Lock], ids=["asyncio", "aiosync", "threading"]
)
def test_condition_needs_a_threadsafe_lock(lock: Any) -> None:
    with pytest.raises(TypeError, match=r"aiosync\.threadsafe Lock or RLock"):
        ts.Condition(lock())


def test_condition_shares_the_lock_of_a_rlock() -> None:
    rlock = ts.RLock()
    cond = ts.Condition(rlock)
    with rlock.sync, cond.sync:
        assert rlock.statistics().count == 2
        cond.sync.notify()
    assert not rlock.locked()


def test_barrier_face_is_threading_barrier() -> None:
    barrier = ts.Barrier(2)
    assert (barrier.sync.parties, barrier.sync.n_waiting, barrier.sync.broken) == (2, 0, False)
    other = start_thread(barrier.sync.wait)
    assert sorted([barrier.sync.wait(), other.result(DEADLINE)]) == [0, 1]
    barrier.sync.abort()
    with pytest.raises(ts.BrokenBarrierError):
        barrier.sync.wait()
    barrier.sync.reset()
    assert not barrier.sync.broken


def test_latch_face() -> None:
    latch = ts.CountdownLatch(2)
    assert latch.sync.wait(0.01) is False
    waiter = start_thread(latch.sync.wait)
    latch.sync.count_down()
    assert latch.sync.count == 1 and not waiter.done()
    with pytest.raises(ValueError, match="below zero"):
        latch.sync.count_down(2)
    latch.count_down()
    assert waiter.result(DEADLINE) is True


def test_capacity_limiter_face() -> None:
    limiter = ts.CapacityLimiter(1)
    with limiter.sync as got:
        assert got is True and limiter.sync.locked()
        assert limiter.sync.acquire_on_behalf_of("x", blocking=False) is False
    with pytest.raises(ValueError, match="non-blocking"):
        limiter.sync.acquire(False, 2)
    with pytest.raises(TypeError, match="unhashable"):
        limiter.sync.acquire_on_behalf_of([])
    assert limiter.borrowed_tokens == 0


def test_rwlock_sides_have_faces() -> None:
    rw = ts.RWLock()
    with rw.write.sync:
        assert rw.write.locked() and rw.write.sync.locked()
        with rw.read.sync:  # a writer may read
            assert rw.read.locked()
        assert start_thread(lambda: rw.read.sync.acquire(timeout=0.01)).result(DEADLINE) is False
    with rw.read.sync, pytest.raises(RuntimeError, match="upgrade"):
        rw.write.sync.acquire()
    assert not rw.read.locked() and not rw.write.locked()
