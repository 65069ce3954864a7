"""aiosync: synchronization primitives for asyncio.

Drop-in replacements for asyncio's Lock, Event, Condition, Semaphore, BoundedSemaphore and
Barrier (same behaviour, faster), with ``timeout=`` on every blocking call and
``statistics()`` on every primitive.
"""

from ._barrier import Barrier, BarrierStatistics, BrokenBarrierError
from ._condition import Condition, ConditionStatistics
from ._event import Event, EventStatistics
from ._lock import Lock, LockStatistics
from ._semaphore import BoundedSemaphore, Semaphore, SemaphoreStatistics
from ._version import __version__

__all__ = [
    "Barrier",
    "BarrierStatistics",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "Condition",
    "ConditionStatistics",
    "Event",
    "EventStatistics",
    "Lock",
    "LockStatistics",
    "Semaphore",
    "SemaphoreStatistics",
    "__version__",
]
