"""aiosync: synchronization primitives for asyncio.

Drop-in replacements for asyncio's Lock, Event, Condition, Semaphore, BoundedSemaphore and
Barrier (same behaviour, faster), with ``timeout=`` on every blocking call and
``statistics()`` on every primitive; and the primitives asyncio lacks: RLock, RWLock,
CapacityLimiter, RateLimiter, KeyedLock, CountdownLatch.
"""

from ._barrier import Barrier, BarrierStatistics, BrokenBarrierError
from ._condition import Condition, ConditionStatistics
from ._event import Event, EventStatistics
from ._keyed import KeyedLock, KeyedLockStatistics
from ._latch import CountdownLatch, CountdownLatchStatistics
from ._limiters import (
    CapacityLimiter,
    CapacityLimiterStatistics,
    RateLimiter,
    RateLimiterStatistics,
)
from ._lock import Lock, LockStatistics, RLock, RLockStatistics
from ._rwlock import RWLock, RWLockStatistics
from ._semaphore import BoundedSemaphore, Semaphore, SemaphoreStatistics
from ._version import __version__

__all__ = [
    "Barrier",
    "BarrierStatistics",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "Condition",
    "ConditionStatistics",
    "CountdownLatch",
    "CountdownLatchStatistics",
    "Event",
    "EventStatistics",
    "KeyedLock",
    "KeyedLockStatistics",
    "Lock",
    "LockStatistics",
    "RLock",
    "RLockStatistics",
    "RWLock",
    "RWLockStatistics",
    "RateLimiter",
    "RateLimiterStatistics",
    "Semaphore",
    "SemaphoreStatistics",
    "__version__",
]
