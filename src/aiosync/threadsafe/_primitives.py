"""The thread-safe primitives: aiosync's own classes, run as monitors (see ``_monitor``)."""

from __future__ import annotations

from typing import Any

from .. import _barrier, _condition, _event, _latch, _limiters, _lock, _rwlock, _semaphore
from ._faces import (
    BarrierFace,
    CapacityLimiterFace,
    ConditionFace,
    EventFace,
    LatchFace,
    LockFace,
    SemaphoreFace,
)
from ._monitor import MONITOR_SLOTS, AcquirableMonitor, Monitor, guard

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "CapacityLimiter",
    "Condition",
    "CountdownLatch",
    "Event",
    "Lock",
    "RLock",
    "RWLock",
    "Semaphore",
]

_SHOWN = ("statistics", "__repr__")
_ACQUIRABLE = ("acquire", "release", "locked", *_SHOWN)  # async with: AcquirableMonitor


@guard(*_ACQUIRABLE)
class Lock(AcquirableMonitor, _lock.Lock):
    """``aiosync.Lock`` for any number of event loops and threads; ``sync`` is
    ``threading.Lock``'s API. FIFO across both faces."""

    __slots__ = MONITOR_SLOTS
    _face = LockFace


@guard(*_ACQUIRABLE)
class RLock(AcquirableMonitor, _lock.RLock):
    """``aiosync.RLock`` for any number of event loops and threads; ``sync`` is
    ``threading.RLock``'s API. The owner is the calling task, or else the calling thread."""

    __slots__ = MONITOR_SLOTS
    _face = LockFace


@guard(*_ACQUIRABLE, "release_many")
class Semaphore(AcquirableMonitor, _semaphore.Semaphore):
    """``aiosync.Semaphore`` for any number of event loops and threads; ``sync`` is
    ``threading.Semaphore``'s API."""

    __slots__ = MONITOR_SLOTS
    _face = SemaphoreFace

    def release_many(self, n: int) -> None:
        """Return ``n`` permits at once."""
        for _ in range(n):
            self.release()


@guard(*_ACQUIRABLE, "release_many")
class BoundedSemaphore(Semaphore, _semaphore.BoundedSemaphore):
    """``aiosync.BoundedSemaphore`` for any number of event loops and threads; ``sync`` is
    ``threading.BoundedSemaphore``'s API."""

    __slots__ = ()

    def release_many(self, n: int) -> None:
        """Return ``n`` permits at once; ValueError, returning none, past the bound."""
        if self._value + self._woken + n > self._bound_value:
            raise ValueError("BoundedSemaphore released too many times")
        super().release_many(n)


@guard("set", "clear", "is_set", "wait", *_SHOWN)
class Event(Monitor, _event.Event):
    """``aiosync.Event`` for any number of event loops and threads; ``sync`` is
    ``threading.Event``'s API. ``set()`` may be called from any thread."""

    __slots__ = MONITOR_SLOTS
    _face = EventFace


@guard("wait", "notify", "notify_all", *_SHOWN)
class Condition(Monitor, _condition.Condition):
    """``aiosync.Condition`` for any number of event loops and threads; ``sync`` is
    ``threading.Condition``'s API. Its lock is a thread-safe Lock or RLock (a new Lock by
    default); tasks and threads wait in one FIFO queue.

    ``wait_for`` runs the predicate without holding the Condition's internal mutex (only
    the lock, as the caller does).
    """

    __slots__ = MONITOR_SLOTS
    _face = ConditionFace

    def __init__(self, lock: Lock | RLock | None = None) -> None:
        if lock is None:
            lock = Lock()
        elif not isinstance(lock, (Lock, RLock)):
            raise TypeError(
                f"a thread-safe Condition needs an aiosync.threadsafe Lock or RLock, not {lock!r}"
            )
        super().__init__(lock)

    def _lost(self, value: Any) -> None:
        # A notified task that never runs: pass its notification on, as wait() does for
        # one that is cancelled.
        self._wake_one(False)

    async def _reacquire(self) -> None:
        # Taking the lock's mutex under ours is fine (the order is always Condition, then
        # lock); waiting for the lock is not: the lock's holder needs ours to notify.
        if not self._lock._try_acquire_now():
            await self._unguarded(super()._reacquire())


@guard("wait", "reset", "abort", "n_waiting", "broken", *_SHOWN)
class Barrier(Monitor, _barrier.Barrier):
    """``aiosync.Barrier`` for any number of event loops and threads; ``sync`` is
    ``threading.Barrier``'s API (without ``action``)."""

    __slots__ = MONITOR_SLOTS
    _face = BarrierFace


@guard("count_down", "wait", "count", *_SHOWN)
class CountdownLatch(Monitor, _latch.CountdownLatch):
    """``aiosync.CountdownLatch`` for any number of event loops and threads; ``sync`` has
    a blocking ``wait(timeout=None)``. ``count_down()`` may be called from any thread."""

    __slots__ = MONITOR_SLOTS
    _face = LatchFace


@guard(
    "acquire_on_behalf_of",
    "release_on_behalf_of",
    "total_tokens",
    "borrowed_tokens",
    "available_tokens",
    *_SHOWN,
)
class CapacityLimiter(Monitor, _limiters.CapacityLimiter):
    """``aiosync.CapacityLimiter`` for any number of event loops and threads; the borrower
    is the calling task, or else the calling thread. ``sync`` has ``acquire(blocking=True,
    timeout=-1)``, ``release()`` and ``with``."""

    __slots__ = MONITOR_SLOTS
    _face = CapacityLimiterFace


class _Side(_rwlock._Side):
    """One mode of a thread-safe RWLock; ``sync`` is its ``threading.Lock``-like API."""

    __slots__ = ("sync",)

    def __init__(self, rwlock: RWLock, mode: str) -> None:
        super().__init__(rwlock, mode)
        self.sync = LockFace(self)

    def locked(self) -> bool:
        with self._rwlock._mutex:  # type: ignore[attr-defined]
            return super().locked()


@guard("_acquire", "_release", *_SHOWN)
class RWLock(Monitor, _rwlock.RWLock):
    """``aiosync.RWLock`` for any number of event loops and threads: ``read`` and ``write``
    each have a blocking face, ``rw.read.sync`` and ``rw.write.sync``. Holds belong to the
    calling task, or else the calling thread."""

    __slots__ = MONITOR_SLOTS

    def __init__(self) -> None:
        super().__init__()
        self.read: Any = _Side(self, _rwlock._READ)
        self.write: Any = _Side(self, _rwlock._WRITE)
